"""Console users: create them (CLI) and check a password at login.

Passwords are hashed with scrypt (werkzeug's default, salted, memory-hard). A
login for an unknown username still spends the time of one hash check, so the
answer time does not tell which usernames exist.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from agent_console.i18n import LANGUAGES
from ivr.models import User

ROLES = ("agent", "supervisor")
MIN_PASSWORD_LENGTH = 10
_DUMMY_HASH = generate_password_hash("cordial-no-such-user", method="scrypt")


class AccountError(ValueError):
    """A user request an operator can fix; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            "password",
            f"password is {len(password)} characters long; expected at least {MIN_PASSWORD_LENGTH}",
        )


def create_user(
    session: Session,
    username: str,
    *,
    role: str,
    password: str,
    now: datetime,
    language: str = "pt-BR",
    dial_target: str | None = None,
    display_name: str | None = None,
) -> User:
    username = username.strip()
    if not username or len(username) > 80 or any(ch.isspace() for ch in username):
        raise AccountError(
            "username",
            f"username {username!r} is not usable; expected 1 to 80 characters, no spaces",
        )
    if role not in ROLES:
        raise AccountError(
            "role", f"role {role!r} is not known; expected one of {', '.join(ROLES)}"
        )
    if language not in LANGUAGES:
        raise AccountError(
            "language",
            f"language {language!r} is not supported; expected one of {', '.join(LANGUAGES)}",
        )
    check_new_password(password)
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise AccountError("username", f"username {username!r} is already taken")
    user = User(
        username=username,
        display_name=(display_name or username).strip(),
        password_hash=hash_password(password),
        role=role,
        language=language,
        dial_target=(dial_target or None),
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None."""
    user = session.scalars(select(User).where(User.username == username.strip())).one_or_none()
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


__all__ = [
    "ROLES",
    "AccountError",
    "authenticate",
    "check_new_password",
    "create_user",
    "hash_password",
]
