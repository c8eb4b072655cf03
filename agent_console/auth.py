"""Login, logout, language, and the access rules every console page runs first:
a signed-in, active user (else the login page, or 401 for streams and fetches),
the supervisor role for supervisor pages (else 403), and a CSRF token on every
state-changing request (else 400)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as WebResponse

from agent_console import i18n
from agent_console.accounts import authenticate
from agent_console.csrf import require_csrf_token, rotate_csrf_token
from agent_console.login_throttle import check_lockout, clear_failures, record_failure
from agent_console.web import console_blueprint, current_language, db, now, wants_json
from ivr.models import User

blueprint = console_blueprint("console_auth", "/console")


def load_user() -> None:
    user_id = session.get("user_id")
    user = db().get(User, user_id) if isinstance(user_id, int) else None
    if user is not None and (
        not user.active
        or session.get("role") != user.role
        or session.get("generation") != user.session_generation
    ):
        user = None  # deactivated, the role changed, or signed out since: sign in again
    g.user = user


def require_login() -> WebResponse | None:
    load_user()
    if g.user is None:
        if wants_json() or request.method != "GET":
            abort(401)
        return redirect(url_for("console_auth.login", next=request.full_path.rstrip("?")))
    require_csrf_token()
    return None


def require_supervisor() -> WebResponse | None:
    response = require_login()
    if response is not None:
        return response
    if g.user.role != "supervisor":
        abort(403, description="supervisors_only")
    return None


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("console_agent.home")


def client_address() -> str:
    # Behind a reverse proxy, wrap the app in werkzeug's ProxyFix so this is the client.
    return (request.remote_addr or "unknown")[:64]


@blueprint.before_request
def _auth_pages() -> None:
    load_user()
    require_csrf_token()


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> WebResponse | str | tuple[str, int]:
    language = current_language()
    if request.method == "GET":
        if g.user is not None:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("console/login.html", next=request.args.get("next", ""))
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    address = client_address()
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = i18n.translate(language, "login.username_required")
    if not password:
        errors["password"] = i18n.translate(language, "login.password_required")
    if errors:
        return render_template(
            "console/login.html",
            next=request.form.get("next", ""),
            errors=errors,
            username=username,
        ), 400
    session_db, instant = db(), now()
    lockout = check_lockout(session_db, username, address, instant)
    if lockout is not None:
        minutes = max(1, int((lockout.until - instant).total_seconds() // 60) + 1)
        message = i18n.translate(language, "login.locked", minutes=minutes)
        return render_template(
            "console/login.html",
            next=request.form.get("next", ""),
            locked=message,
            username=username,
        ), 429
    user = authenticate(session_db, username, password)
    if user is None:
        record_failure(session_db, username, address, instant)
        session_db.commit()
        message = i18n.translate(language, "login.failed")
        return render_template(
            "console/login.html",
            next=request.form.get("next", ""),
            failed=message,
            username=username,
        ), 401
    clear_failures(session_db, username, address)
    session_db.commit()
    session.clear()
    session.permanent = True
    session["user_id"] = user.id
    session["role"] = user.role
    session["generation"] = user.session_generation
    rotate_csrf_token()
    return redirect(_safe_next(request.form.get("next")))


@blueprint.post("/logout")
def logout() -> WebResponse:
    """Ends this user's console sessions everywhere: a copy of the cookie, or one left on
    another workstation, no longer signs anyone in."""
    language = current_language()
    load_user()
    if g.user is not None:
        g.user.session_generation += 1
        db().commit()
    session.clear()
    session["language"] = language
    flash(i18n.translate(language, "login.logged_out"), "info")
    return redirect(url_for("console_auth.login"))


@blueprint.post("/language")
def set_language() -> WebResponse:
    chosen = request.form.get("language")
    if chosen not in i18n.LANGUAGES:
        abort(400)
    if g.user is not None:
        g.user.language = chosen
        db().commit()
    session["language"] = chosen
    return redirect(_safe_next(request.form.get("next")))


__all__ = ["blueprint", "client_address", "require_login", "require_supervisor"]
