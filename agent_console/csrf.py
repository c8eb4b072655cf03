"""CSRF protection for the console: a random token per session, required on every
state-changing request (form field `csrf_token` or header `X-CSRF-Token`).

The session cookie is SameSite=Lax as well; the token covers older browsers and
same-site attackers. A missing or wrong token is answered 400 and nothing happens.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

SESSION_KEY = "csrf_token"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token() -> str:
    token = session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def rotate_csrf_token() -> str:
    session[SESSION_KEY] = secrets.token_urlsafe(32)
    return session[SESSION_KEY]


def require_csrf_token() -> None:
    """before_request hook: refuse a state-changing request without the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(SESSION_KEY)
    given = request.headers.get(HEADER) or request.form.get(FORM_FIELD)
    if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
        abort(400, description="csrf")


__all__ = ["csrf_token", "require_csrf_token", "rotate_csrf_token"]
