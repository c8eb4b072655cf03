"""Plugging the console into the Flask app: blueprints, session cookie settings,
security headers, one database session per request, and what every console
template can use (t, csrf_token, money, local times)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Request, Response, g, redirect, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WebResponse

from agent_console import i18n
from agent_console.csrf import csrf_token
from agent_console.event_hub import hub_for
from agent_console.masking import mask_phone
from ivr.app import runtime_of

CONSOLE_PREFIX = "/console"
CONSOLE_BLUEPRINTS = ("console_auth", "console_agent", "console_supervisor")
# abort(status, description=<one of these>) shows errors.<detail> instead of the generic text.
ERROR_DETAILS = frozenset({"csrf", "login_locked", "supervisors_only"})

# Inline SVG is markup, not script: the console needs no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class ConsoleSessions(SecureCookieSessionInterface):
    """The signed session cookie, opened only for the console's pages. The carrier's
    webhooks, the audio files and the health check never use a session: verifying and
    re-signing a cookie there would only cost every webhook time (elsewhere Flask's null
    session stands in, and refuses to be written)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        path = request.path
        if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
            return super().open_session(app, request)
        return None


def register_console(app: Flask) -> None:
    from agent_console.agent import blueprint as agent
    from agent_console.auth import blueprint as auth
    from agent_console.supervisor import blueprint as supervisor

    runtime = runtime_of(app)
    app.session_interface = ConsoleSessions()
    hub_for(runtime)  # hook the sessions now, so the first transfer already wakes streams

    public_url = runtime.config.get("CORDIAL_PUBLIC_BASE_URL")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=public_url.startswith("https://"),
        SESSION_COOKIE_NAME="cordial_session",
    )
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))
    app.config.setdefault("CONSOLE_SSE_MAX_SECONDS", 300.0)

    assets = Blueprint(
        "console_assets",
        __name__,
        static_folder="static",
        static_url_path=f"{CONSOLE_PREFIX}/static",
    )
    assets.after_request(security_headers)
    app.register_blueprint(assets)
    for blueprint in (auth, agent, supervisor):
        app.register_blueprint(blueprint)
    app.teardown_appcontext(close_db)
    app.before_request(refuse_unusable_input)
    mask_personal_queries_in_access_logs()

    @app.get("/")
    def root() -> WebResponse:
        return redirect(url_for("console_agent.home"))


# The largest id a database column holds (64-bit); a bigger one names nothing.
MAX_ID = 2**63 - 1

# Query parameters that carry what a debtor is called or where an agent was going (BR-LGPD:
# no personal data in logs): the console's search terms and the login's return address.
_PERSONAL_QUERY = re.compile(r"((?:^|[?&])(?:q|next|external_id)=)[^&\s\"]*")


class MaskPersonalQueries(logging.Filter):
    """Masks the console's search terms in access-log lines (the development server's
    `werkzeug` logger, gunicorn's `gunicorn.access`): "GET /console/debtors?q=Maria" is
    logged as "GET /console/debtors?q=***"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _PERSONAL_QUERY.sub(r"\1***", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _PERSONAL_QUERY.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        elif isinstance(record.args, dict):  # gunicorn's access log
            record.args = {
                key: _PERSONAL_QUERY.sub(r"\1***", value) if isinstance(value, str) else value
                for key, value in record.args.items()
            }
        return True


def mask_personal_queries_in_access_logs() -> None:
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskPersonalQueries) for f in logger.filters):
            logger.addFilter(MaskPersonalQueries())


def refuse_unusable_input() -> Response | None:
    """Console requests whose input no handler can use: an id in the path beyond any
    column's range is not found (404), and a text field with a NUL character, which
    PostgreSQL refuses in any text, is a bad request naming the field (400)."""
    path = request.path
    if not (path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")):
        return None
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            return Response(
                i18n.translate(current_language(), "error.not_found") + "\n",
                status=404,
                mimetype="text/plain",
            )
    for name, values in [*request.args.lists(), *request.form.lists()]:
        if any("\x00" in value for value in values):
            message = i18n.translate(current_language(), "error.nul_character")
            return Response(f"{name[:40]}: {message}\n", status=400, mimetype="text/plain")
    return None


def db() -> Session:
    """This request's database session (closed at teardown; views commit)."""
    if "console_db" not in g:
        g.console_db = runtime_of().db.sessions()
    return g.console_db


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("console_db", None)
    if session is not None:
        session.rollback()
        session.close()


def console_blueprint(name: str, url_prefix: str) -> Blueprint:
    """A console blueprint with the console's templates, helpers and headers."""
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix, template_folder="templates")
    blueprint.context_processor(template_helpers)
    blueprint.after_request(security_headers)
    for status in (400, 401, 403, 404, 405, 429):
        blueprint.register_error_handler(status, render_error)
    return blueprint


def wants_json() -> bool:
    """A fetch or an event stream, not a page: answer errors as JSON, never redirect."""
    # The raw header, not `in accept_mimetypes`: a browser's */* would match anything.
    return (
        request.headers.get("X-Requested-With") == "fetch"
        or "text/event-stream" in request.headers.get("Accept", "")
        or request.accept_mimetypes.best_match(["text/html", "application/json"])
        == "application/json"
    )


def render_error(error: HTTPException) -> tuple[WebResponse | str, int]:
    from flask import jsonify, render_template

    status = error.code or 500
    key = (
        f"errors.{error.description}"
        if error.description in ERROR_DETAILS
        else f"errors.http_{status}"
    )
    if wants_json():
        return jsonify({"error": i18n.translate(current_language(), key), "status": status}), status
    return render_template("console/error.html", status=status, message_key=key), status


def now() -> datetime:
    return runtime_of().clock.now()


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def current_language() -> str:
    user = g.get("user")
    if user is not None:
        return i18n.supported(user.language)
    from flask import session

    chosen = session.get("language")
    if chosen in i18n.LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(i18n.LANGUAGES)
    return best or i18n.supported(runtime_of().config.get("CORDIAL_DEFAULT_LANGUAGE"))


def template_helpers() -> dict[str, Any]:
    language = current_language()

    def t(key: str, **values: Any) -> str:
        return i18n.translate(language, key, **values)

    def money(amount: Decimal | None, currency: str = "BRL") -> str:
        return i18n.money(amount, currency, language)

    def local_time(instant: datetime | None, zone: str) -> str:
        return i18n.local_datetime(instant, zone, language)

    def iso(instant: datetime | None) -> str:
        return instant.astimezone(UTC).isoformat() if instant else ""

    def percent(rate: float | Decimal, digits: int = 1) -> str:
        return i18n.percent(rate, language, digits)

    def t_or(key: str, fallback: str) -> str:
        """A known label, or the raw name for data the catalogs do not (yet) name."""
        text = i18n.translate(language, key)
        return fallback if text == key else text

    return {
        "t": t,
        "t_or": t_or,
        "language": language,
        "languages": i18n.LANGUAGES,
        "csrf_token": csrf_token,
        "money": money,
        "local_time": local_time,
        "local_date": lambda day: i18n.local_date(day, language),
        "iso": iso,
        "percent": percent,
        "number": lambda value: i18n.number(value, language),
        "mask_phone": mask_phone,
        "current_user": g.get("user"),
        "js_strings": i18n.subset(language, "js"),
    }


__all__ = [
    "CONSOLE_BLUEPRINTS",
    "CONSOLE_PREFIX",
    "current_language",
    "db",
    "now",
    "register_console",
]
