"""The voice webhooks the carrier calls (Twilio, or the local carrier emulator).

    POST /voice/answer?attempt=<id>[&lang=]             the callee answered
    POST /voice/step/<step>?attempt=<id>&lang=&tries=   a key was pressed (or none)
    POST /voice/queue/wait?attempt=<id>&lang=&limit=    hold prompt while queued for an agent
    POST /voice/agent-connect?attempt=<id>&user=<id>    an agent took the call: dial them
    POST /voice/status?attempt=<id>                     call status callbacks

Every request must carry a valid X-Twilio-Signature (403 otherwise, and
nothing changes). Whatever goes wrong inside, the carrier gets valid TwiML
with status 200: a caller hears an apology or a polite goodbye, never silence
and never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Flask, Response, request

from ivr.app import runtime_of
from ivr.models import Attempt
from ivr.runtime import Runtime
from ivr.voice.call_context import CallWrites, load_call
from ivr.voice.call_status import apply_call_status
from ivr.voice.flow import CallFlow, CarrierInput
from ivr.voice.identity import common_prompt_params
from ivr.voice.prompt_catalog import prompt_catalog
from ivr.voice.signatures import carrier_values, is_signed_by_carrier
from ivr.voice.speaker import CallReply, Speaker, empty_twiml

log = logging.getLogger(__name__)

blueprint = Blueprint("voice", __name__, url_prefix="/voice")

_METHODS = ["POST", "GET"]
HOLD_ANNOUNCE_SECONDS = 5  # the hold prompt at first; then music, when there is some


def register_voice(app: Flask) -> None:
    """Mount the voice webhooks and load the prompt catalog now, not in the first call."""
    prompt_catalog()
    app.register_blueprint(blueprint)


@blueprint.before_request
def _require_carrier_signature() -> Response | None:
    if is_signed_by_carrier(runtime_of().config, request):
        return None
    log.warning(
        "voice webhook %s refused: missing or invalid %s", request.path, "X-Twilio-Signature"
    )
    return Response("invalid or missing X-Twilio-Signature\n", status=403, mimetype="text/plain")


def _twiml(body: str) -> Response:
    return Response(body, status=200, mimetype="text/xml")


def _language(runtime: Runtime, wanted: str | None) -> str:
    return prompt_catalog().call_language(wanted, runtime.config.get("CORDIAL_DEFAULT_LANGUAGE"))


def new_reply(runtime: Runtime, language: str, *, answering: bool = False) -> CallReply:
    """An empty TwiML answer in `language`, speaking through the audio catalog the runtime
    carries (runtime.extras["prompt_audio"], a PromptAudio), else with <Say>."""
    catalog = prompt_catalog()
    speaker = Speaker(catalog, runtime.extras.get("prompt_audio"))
    common = common_prompt_params(runtime.config, catalog.book(language))
    return CallReply(speaker, language, common, answering=answering)


def _attempt_id() -> int | None:
    raw = request.args.get("attempt", "")
    # Ids fit a 32-bit column; anything longer is not one of ours.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def _run_call(act: Callable[[CallFlow], None], *, answering: bool = False) -> Response:
    runtime = runtime_of()
    given = CarrierInput.parse(carrier_values(request))
    attempt_id = _attempt_id()
    fallback_language = _language(runtime, request.args.get("lang"))
    writes: CallWrites | None = None
    lease = runtime.db.lease()  # one pooled connection for the read and the write
    try:
        call = load_call(runtime.db, attempt_id, lease) if attempt_id is not None else None
        if call is None:
            log.warning(
                "voice webhook %s: no attempt %r (call %s)",
                request.path,
                request.args.get("attempt", "")[:30],
                given.call_sid,
            )
            reply = new_reply(runtime, fallback_language, answering=answering).end("goodbye")
        else:
            language = _language(runtime, call.debtor.language)
            reply = new_reply(runtime, language, answering=answering)
            writes = CallWrites(runtime.db, call.attempt, lease)
            act(CallFlow(runtime, call, reply, given, writes))
            writes.commit()
        lease.close()  # not held while the TwiML is rendered
        return _twiml(reply.twiml())
    except Exception:
        log.exception(
            "voice webhook %s failed (attempt %s, call %s); apologising to the caller",
            request.path,
            attempt_id,
            given.call_sid,
        )
        return _apology(runtime, fallback_language, answering=answering)
    finally:
        if writes is not None:
            writes.close()  # rolls back whatever was not committed
        lease.close()


def _apology(runtime: Runtime, language: str, *, answering: bool = False) -> Response:
    try:
        reply = new_reply(runtime, language, answering=answering)
        return _twiml(reply.end("technical_difficulty").twiml())
    except Exception:  # the prompt catalog itself is broken: still answer valid TwiML
        log.critical("cannot render the technical_difficulty prompt", exc_info=True)
        return _twiml(empty_twiml())


@blueprint.route("/answer", methods=_METHODS)
def answer() -> Response:
    return _run_call(lambda flow: flow.answer(), answering=True)


@blueprint.route("/step/<step>", methods=_METHODS)
def step(step: str) -> Response:
    return _run_call(lambda flow: flow.handle(step))


@blueprint.route("/agent-connect", methods=_METHODS)
def agent_connect() -> Response:
    """Where the console redirects a queued caller once an agent took the call
    (agent_console.transfers.agent_connect_url)."""
    raw = request.args.get("user", "")
    user_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None
    return _run_call(lambda flow: flow.connect_agent(user_id))


@blueprint.route("/queue/wait", methods=_METHODS)
def queue_wait() -> Response:
    """While the caller waits for an agent: a short hold prompt (never silence), and out of
    the queue once the campaign's transfer timeout has passed. Needs no database."""
    runtime = runtime_of()
    language = _language(runtime, request.args.get("lang"))
    try:
        limit = int(request.args.get("limit", "60"))
        waited = int(carrier_values(request).get("QueueTime", "0") or 0)
    except ValueError:
        limit, waited = 60, 0
    try:
        reply = new_reply(runtime, language)
        if waited >= limit:
            reply.leave_queue()
        else:
            reply.hold(announce=waited < HOLD_ANNOUNCE_SECONDS)
        return _twiml(reply.twiml())
    except Exception:
        log.exception(
            "queue wait webhook failed (attempt %s)", request.args.get("attempt", "")[:30]
        )
        return _apology(runtime, language)


@blueprint.route("/status", methods=_METHODS)
def status() -> Response:
    """Status callbacks: idempotent and monotonic (see ivr.voice.call_status)."""
    runtime = runtime_of()
    attempt_id = _attempt_id()
    form = carrier_values(request)
    reported = (form.get("CallStatus") or "").strip().lower()[:20]
    given = CarrierInput.parse(form)
    duration = form.get("CallDuration", "")
    try:
        with runtime.db.session() as session:
            # Locked (PostgreSQL): Twilio sends a call's callbacks concurrently, and one
            # decided on a stale read would move the attempt back ("in-progress" written
            # after "completed"). SQLite's writes are one at a time already. NO KEY UPDATE:
            # the other webhooks' contact events for the call (KEY SHARE) are not held up.
            attempt = (
                session.get(Attempt, attempt_id, with_for_update={"key_share": True})
                if attempt_id is not None
                else None
            )
            if attempt is None:
                log.warning(
                    "status callback for unknown attempt %r (call %s)",
                    request.args.get("attempt", "")[:30],
                    given.call_sid,
                )
            else:
                apply_call_status(
                    session,
                    attempt,
                    reported,
                    now=runtime.clock.now(),
                    call_sid=given.call_sid,
                    duration_seconds=int(duration)
                    if duration.isascii() and duration.isdigit() and len(duration) <= 7
                    else None,
                    answered_by=given.answered_by,
                )
    except Exception:
        # The dialer's reconciliation asks the carrier about attempts left without an end.
        log.exception(
            "status callback failed (attempt %s, call %s, status %s)",
            attempt_id,
            given.call_sid,
            reported,
        )
    return _twiml(empty_twiml())


__all__ = ["blueprint", "new_reply", "register_voice"]
