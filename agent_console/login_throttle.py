"""Login rate limit: failed logins are rows in the database, counted per
(username, client address) and per client address over a sliding window.

Why the database: several web workers (gunicorn processes, several machines)
must share the count, or an attacker simply gets N times the attempts by being
spread over N workers. A row per failure costs one INSERT per failed login and
one indexed COUNT per login; rows older than the window are deleted as we go.

The table is `ivr.models.LoginFailure`, created by the migrations like every other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session

from ivr.models import LoginFailure, table_of

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5  # per username and address
MAX_FAILURES_PER_ADDRESS = 30  # any usernames from one address (credential stuffing)

login_failure = table_of(LoginFailure)


@dataclass(frozen=True, slots=True)
class Lockout:
    until: datetime
    per_address: bool


def _key(username: str) -> str:
    return username.strip().casefold()[:80]


def check_lockout(session: Session, username: str, address: str, now: datetime) -> Lockout | None:
    """The lockout in force for this username from this address, if any."""
    since = now - WINDOW
    per_user = select(func.count(), func.min(login_failure.c.failed_at)).where(
        login_failure.c.username == _key(username),
        login_failure.c.address == address,
        login_failure.c.failed_at > since,
    )
    count, oldest = session.execute(per_user).one()
    if count >= MAX_FAILURES_PER_USERNAME:
        return Lockout(until=oldest + WINDOW, per_address=False)
    per_address = select(func.count(), func.min(login_failure.c.failed_at)).where(
        login_failure.c.address == address, login_failure.c.failed_at > since
    )
    count, oldest = session.execute(per_address).one()
    if count >= MAX_FAILURES_PER_ADDRESS:
        return Lockout(until=oldest + WINDOW, per_address=True)
    return None


def record_failure(session: Session, username: str, address: str, now: datetime) -> None:
    session.execute(
        insert(login_failure).values(username=_key(username), address=address, failed_at=now)
    )
    session.execute(delete(login_failure).where(login_failure.c.failed_at <= now - WINDOW))


def clear_failures(session: Session, username: str, address: str) -> None:
    session.execute(
        delete(login_failure).where(
            login_failure.c.username == _key(username), login_failure.c.address == address
        )
    )


__all__ = ["Lockout", "check_lockout", "clear_failures", "record_failure"]
