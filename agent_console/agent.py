"""The agent's pages: the live queue (home), the debtor page with its actions and
playbook, taking a transferred call, and the live stream behind the screen pop.

Views parse the form, call a service (actions, promises, transfers), commit, and
redirect; a form with a mistake is shown again with what was typed and a message
naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import or_, select
from werkzeug.wrappers import Response as WebResponse

from agent_console import actions, i18n
from agent_console.auth import require_login
from agent_console.event_hub import hub_for
from agent_console.forms import FieldError, parse_date, parse_int, parse_local_datetime, parse_money
from agent_console.live_queue import (
    WaitingCall,
    agent_is_busy,
    callbacks_for_agents,
    calls_taken_by,
    recent_take,
    waiting_call,
    waiting_calls,
)
from agent_console.local_times import debtor_zone
from agent_console.objections import match_objections
from agent_console.playbooks import fill, load_playbook, search_playbook
from agent_console.streams import (
    HEARTBEAT_SECONDS,
    LoggedEvent,
    follow_contact_events,
    latest_event_id,
    resume_point,
    sse_comment,
    sse_message,
    sse_retry,
)
from agent_console.timeline import debtor_timeline, right_party_check
from agent_console.transfers import TakeRefused, actor_of, take_transfer
from agent_console.web import console_blueprint, current_language, db, now, wants_json
from ivr.app import runtime_of
from ivr.messaging.second_copy import SecondCopyRefused, second_copy_channel
from ivr.models import Attempt, Callback, ContactEvent, Debt, Debtor, DebtStatus, PromiseToPay, User
from ivr.promises.installments import InstallmentPlan, PlanError, late_fee_cap
from ivr.promises.service import plan_for_debt, record_promise, terms_for_debt

blueprint = console_blueprint("console_agent", "/console")
blueprint.before_request(require_login)

AGENT_STREAM_KINDS = (
    "transfer.requested",
    "transfer.taken",
    "transfer.take_failed",
    "transfer.ended",
    "transfer.no_agent",
    "call.status",
    "callback.booked",
    "callback.canceled",
    "callback.missed",
    "callback.done",
    "transcript.partial",
    "transcript.final",
)
TERMINAL_CALL_STATUSES = frozenset(
    {"completed", "busy", "no-answer", "failed", "canceled", "machine"}
)
TRANSCRIPT_TAIL = 400  # characters of recent speech the matcher looks at


def t(key: str, **values: Any) -> str:
    return i18n.translate(current_language(), key, **values)


def actor() -> str:
    return actor_of(g.user)


def field_message(error: FieldError | PlanError | actions.ActionRefused) -> str:
    """A form error in the reader's language, naming the field."""
    if isinstance(error, PlanError):
        values = {k: _shown(v) for k, v in error.values.items()}
        text = t(f"plan_error.{error.code}", **values)
        return t("form.field_error", field=t(f"field.{error.field}"), message=text)
    if isinstance(error, actions.ActionRefused):
        text = t(f"action_error.{error.code}", **error.values)
        if error.field:
            return t("form.field_error", field=t(f"field.{error.field}"), message=text)
        return text
    text = t(f"error.{error.code}", **error.values)
    return t("form.field_error", field=t(f"field.{error.field}"), message=text)


def _shown(value: object) -> object:
    if isinstance(value, date):
        return i18n.local_date(value, current_language())
    return value


# -- home: the live queue ------------------------------------------------------------


@blueprint.get("/")
def home() -> str:
    session = db()
    context = queue_context(session, g.user)
    return render_template("console/home.html", after_id=latest_event_id(session), **context)


@blueprint.get("/queue")
def queue_fragment() -> str:
    return render_template("console/_queue.html", **queue_context(db(), g.user))


def queue_context(session: Any, user: User) -> dict[str, Any]:
    instant = now()
    return {
        "waiting": waiting_calls(session),
        "mine": calls_taken_by(session, user.id),
        "callbacks": callbacks_for_agents(session, instant),
        "now": instant,
        "zone_of": debtor_zone,
    }


# -- debtors ----------------------------------------------------------------------------


@blueprint.get("/debtors")
def debtors() -> str:
    query = (request.args.get("q") or "").strip()
    found: list[Debtor] = []
    if query:
        pattern = f"{query}%"
        found = list(
            db().scalars(
                select(Debtor)
                .where(or_(Debtor.external_id == query, Debtor.full_name.ilike(pattern)))
                .order_by(Debtor.full_name)
                .limit(50)
            )
        )
    return render_template("console/debtors.html", query=query, found=found)


def _debtor_or_404(debtor_id: int) -> Debtor:
    debtor = db().get(Debtor, debtor_id)
    if debtor is None:
        abort(404)
    return debtor


@dataclass
class FormState:
    """What one form on the debtor page shows again after a mistake."""

    values: dict[str, str]
    errors: list[str]


def transcript_so_far(session: Any, debtor_id: int) -> list[str]:
    """What the debtor has said on the call in progress (final lines), so a page opened
    or reloaded mid-call (e.g. on taking it) shows what was said while waiting."""
    live = session.scalar(
        select(Attempt.id).where(Attempt.debtor_id == debtor_id, Attempt.active.is_(True))
    )
    if live is None:
        return []
    rows = session.scalars(
        select(ContactEvent)
        .where(ContactEvent.attempt_id == live, ContactEvent.kind == "transcript.final")
        .order_by(ContactEvent.id)
    )
    return [str(e.data.get("text", "")) for e in rows if e.data.get("text")]


def debtor_context(
    debtor: Debtor, forms: dict[str, FormState] | None = None, plan: InstallmentPlan | None = None
) -> dict[str, Any]:
    session = db()
    instant = now()
    language = current_language()
    zone = debtor_zone(debtor)
    my_calls = [c for c in calls_taken_by(session, g.user.id) if c.debtor.id == debtor.id]
    open_debts = [d for d in debtor.debts if d.status == DebtStatus.OPEN.value]
    first_debt = open_debts[0] if open_debts else (debtor.debts[0] if debtor.debts else None)
    terms = terms_for_debt(first_debt) if first_debt else None
    playbook = load_playbook(language)
    fill_values = {
        "first_name": debtor.first_name,
        "creditor": first_debt.creditor.name if first_debt else "",
        "due_date": i18n.local_date(first_debt.due_date, language) if first_debt else "",
        "amount": i18n.money(first_debt.total, first_debt.currency, language) if first_debt else "",
    }
    cap = late_fee_cap(debtor.country)
    return {
        "debtor": debtor,
        "zone": zone,
        "phones": debtor.phones,
        "debts": debtor.debts,
        "open_debts": open_debts,
        # The channel a second copy would go by (SMS where WhatsApp is not set up).
        "second_copy_channel": second_copy_channel(
            runtime_of().config, debtor.preferred_channel, debtor.language
        ),
        "timeline": debtor_timeline(session, debtor.id),
        "right_party": right_party_check(session, debtor.id),
        "callbacks": session.scalars(
            select(Callback)
            .where(Callback.debtor_id == debtor.id)
            .order_by(Callback.due_at.desc())
            .limit(20)
        ).all(),
        "promises": session.scalars(
            select(PromiseToPay)
            .where(PromiseToPay.debtor_id == debtor.id)
            .order_by(PromiseToPay.id.desc())
        ).all(),
        "current_call": my_calls[0] if my_calls else None,
        "transcript_so_far": transcript_so_far(session, debtor.id),
        "recent_attempt_id": recent_take(session, g.user.id, debtor.id, instant),
        "dispositions": actions.disposition_codes(),
        "playbook": playbook,
        "fill": lambda text: fill(text, fill_values),
        "terms": terms,
        "late_fee_cap": cap,
        "plan": plan,
        "forms": forms or {},
        "after_id": latest_event_id(db()),
        "today_local": instant.astimezone(ZoneInfo(zone)).date(),
        "now": instant,
    }


@blueprint.get("/debtors/<int:debtor_id>")
def debtor_page(debtor_id: int) -> str:
    return render_template("console/debtor.html", **debtor_context(_debtor_or_404(debtor_id)))


def _show_form_error(
    debtor: Debtor, form: str, message: str | list[str], *, plan: InstallmentPlan | None = None
) -> tuple[str, int]:
    db().rollback()
    messages = message if isinstance(message, list) else [message]
    state = FormState(values=dict(request.form), errors=messages)
    return render_template(
        "console/debtor.html", **debtor_context(debtor, {form: state}, plan)
    ), 400


def _done(debtor: Debtor, key: str, anchor: str = "", **values: Any) -> WebResponse:
    db().commit()
    flash(t(key, **values), "success")
    return redirect(
        url_for("console_agent.debtor_page", debtor_id=debtor.id) + (f"#{anchor}" if anchor else "")
    )


def _current_attempt(debtor: Debtor) -> int | None:
    """The call the form names, if this agent took it for this debtor: actions attach to it."""
    raw = request.form.get("attempt_id", "")
    if not raw.isdigit():
        return None
    taken = recent_take(db(), g.user.id, debtor.id, now())
    return taken if taken == int(raw) else None


@blueprint.post("/debtors/<int:debtor_id>/reveal")
def reveal(debtor_id: int) -> WebResponse:
    debtor = _debtor_or_404(debtor_id)
    phone_id = request.form.get("phone_id", "")
    try:
        value = actions.reveal_pii(
            db(),
            debtor,
            request.form.get("field", ""),
            now=now(),
            actor=actor(),
            phone_id=int(phone_id) if phone_id.isdigit() and len(phone_id) <= 18 else None,
        )
    except actions.ActionRefused as exc:
        db().rollback()
        return jsonify({"error": field_message(exc)}), 400  # type: ignore[return-value]
    db().commit()
    return jsonify({"value": value})


@blueprint.post("/debtors/<int:debtor_id>/note")
def note(debtor_id: int) -> WebResponse | tuple[str, int]:
    debtor = _debtor_or_404(debtor_id)
    try:
        actions.add_note(
            db(),
            debtor,
            request.form.get("text", ""),
            now=now(),
            actor=actor(),
            attempt_id=_current_attempt(debtor),
        )
    except actions.ActionRefused as exc:
        return _show_form_error(debtor, "note", field_message(exc))
    return _done(debtor, "done.note", "timeline")


@blueprint.post("/debtors/<int:debtor_id>/disposition")
def disposition(debtor_id: int) -> WebResponse | tuple[str, int]:
    debtor = _debtor_or_404(debtor_id)
    try:
        actions.record_disposition(
            db(),
            debtor,
            request.form.get("code", ""),
            now=now(),
            actor=actor(),
            attempt_id=_current_attempt(debtor),
        )
    except actions.ActionRefused as exc:
        return _show_form_error(debtor, "disposition", field_message(exc))
    return _done(debtor, "done.disposition", "timeline")


def _plan_from_form(debtor: Debtor) -> tuple[Debt, InstallmentPlan]:
    """The plan the promise form describes; FieldError / PlanError / ActionRefused if not."""
    form = request.form
    debt_id = parse_int(form.get("debt_id"), "debt", minimum=1, maximum=2**62)
    debt = db().get(Debt, debt_id)
    if debt is None or debt.debtor_id != debtor.id:
        raise actions.ActionRefused("unknown_debt", "debt")
    terms = terms_for_debt(debt)
    down = parse_money(form.get("down_payment"), "down_payment", required=False)
    count = parse_int(
        form.get("installments"), "installments", minimum=1, maximum=terms.max_installments
    )
    first = parse_date(form.get("first_payment"), "first_payment")
    late_fee_text = (form.get("late_fee_percent") or "").strip()
    late_fee = None
    if late_fee_text:
        try:
            percent = Decimal(late_fee_text.replace(",", "."))
            if not percent.is_finite():  # "nan", "inf": no rate
                raise InvalidOperation(late_fee_text)
            late_fee = (percent / 100).quantize(Decimal("0.0001"))
        except ArithmeticError:
            raise FieldError(
                "late_fee_rate", "number", minimum=0, maximum=100, value=late_fee_text[:40]
            ) from None
    today = now().astimezone(ZoneInfo(debtor_zone(debtor))).date()
    plan = plan_for_debt(
        debt,
        down_payment=down,
        installments=count,
        first_payment=first,
        today=today,
        late_fee_rate=late_fee,
    )
    return debt, plan


@blueprint.post("/debtors/<int:debtor_id>/promise")
def promise(debtor_id: int) -> WebResponse | tuple[str, int] | str:
    debtor = _debtor_or_404(debtor_id)
    try:
        debt, plan = _plan_from_form(debtor)
    except (FieldError, PlanError, actions.ActionRefused) as exc:
        return _show_form_error(debtor, "promise", field_message(exc))
    if request.form.get("step") != "record":
        state = FormState(values=dict(request.form), errors=[])
        return render_template(
            "console/debtor.html", **debtor_context(debtor, {"promise": state}, plan)
        )
    record_promise(
        db(),
        debt,
        plan,
        now=now(),
        actor=actor(),
        user_id=g.user.id,
        attempt_id=_current_attempt(debtor),
    )
    currency = debt.currency
    return _done(
        debtor,
        "done.promise",
        "promises",
        total=i18n.money(plan.total, currency, current_language()),
        installments=len(plan.installments),
    )


@blueprint.post("/debtors/<int:debtor_id>/callback")
def callback(debtor_id: int) -> WebResponse | tuple[str, int]:
    debtor = _debtor_or_404(debtor_id)
    zone = debtor_zone(debtor)
    try:
        phone_id = parse_int(request.form.get("phone_id"), "phone", minimum=1, maximum=2**62)
        due_at = parse_local_datetime(request.form.get("due_at"), "due_at", zone)
        booked = actions.schedule_callback(
            db(),
            debtor,
            phone_id=phone_id,
            due_at=due_at,
            now=now(),
            actor=actor(),
            language=current_language(),
            user_id=g.user.id,
            attempt_id=_current_attempt(debtor),
        )
    except actions.CallbackRefused as exc:
        return _show_form_error(
            debtor, "callback", [t("action_error.callback_not_allowed"), *exc.reasons]
        )
    except (FieldError, actions.ActionRefused) as exc:
        return _show_form_error(debtor, "callback", field_message(exc))
    when = i18n.local_datetime(booked.due_at, zone, current_language())
    return _done(debtor, "done.callback", "callbacks", when=when, zone=zone)


@blueprint.post("/debtors/<int:debtor_id>/second-copy")
def second_copy(debtor_id: int) -> WebResponse | tuple[str, int]:
    debtor = _debtor_or_404(debtor_id)
    try:
        debt_id = parse_int(request.form.get("debt_id"), "debt", minimum=1, maximum=2**62)
        actions.request_second_copy(
            db(), runtime_of(), debtor, debt_id, actor=actor(), attempt_id=_current_attempt(debtor)
        )
    except SecondCopyRefused as exc:
        db().commit()  # the refusal is a contact event too
        if exc.reason == "carrier-unconfirmed":
            flash(t("second_copy.unconfirmed"), "error")
        else:
            flash(t("second_copy.refused", reason=t(f"second_copy.reason.{exc.reason}")), "error")
        return redirect(url_for("console_agent.debtor_page", debtor_id=debtor.id) + "#actions")
    except (FieldError, actions.ActionRefused) as exc:
        return _show_form_error(debtor, "second_copy", field_message(exc))
    return _done(debtor, "done.second_copy", "timeline")


@blueprint.post("/debtors/<int:debtor_id>/opt-out")
def opt_out(debtor_id: int) -> WebResponse | tuple[str, int]:
    debtor = _debtor_or_404(debtor_id)
    try:
        actions.record_opt_out(
            db(),
            debtor,
            request.form.getlist("channels"),
            now=now(),
            actor=actor(),
            attempt_id=_current_attempt(debtor),
        )
    except actions.ActionRefused as exc:
        return _show_form_error(debtor, "opt_out", field_message(exc))
    return _done(debtor, "done.opt_out", "timeline")


@blueprint.post("/debtors/<int:debtor_id>/wrong-number")
def wrong_number(debtor_id: int) -> WebResponse | tuple[str, int]:
    debtor = _debtor_or_404(debtor_id)
    try:
        phone_id = parse_int(request.form.get("phone_id"), "phone", minimum=1, maximum=2**62)
        actions.mark_wrong_number(
            db(), debtor, phone_id, now=now(), actor=actor(), attempt_id=_current_attempt(debtor)
        )
    except (FieldError, actions.ActionRefused) as exc:
        return _show_form_error(debtor, "wrong_number", field_message(exc))
    return _done(debtor, "done.wrong_number", "phones")


@blueprint.post("/debtors/<int:debtor_id>/debt-status")
def debt_status(debtor_id: int) -> WebResponse | tuple[str, int]:
    debtor = _debtor_or_404(debtor_id)
    try:
        debt_id = parse_int(request.form.get("debt_id"), "debt", minimum=1, maximum=2**62)
        status = request.form.get("status", "")
        actions.mark_debt_status(
            db(),
            debtor,
            debt_id,
            status,
            now=now(),
            actor=actor(),
            reason=request.form.get("reason", ""),
            attempt_id=_current_attempt(debtor),
        )
    except (FieldError, actions.ActionRefused) as exc:
        return _show_form_error(debtor, "debt_status", field_message(exc))
    return _done(debtor, f"done.debt_{status}", "debts")


# -- taking a transferred call --------------------------------------------------------------


@blueprint.post("/calls/<int:attempt_id>/take")
def take_call(attempt_id: int) -> WebResponse | tuple[WebResponse, int]:
    user = g.user
    db().close()  # the service runs its own transactions
    try:
        state = take_transfer(runtime_of(), attempt_id, user)
    except TakeRefused as exc:
        message = t(f"take.refused.{exc.reason}", detail=exc.detail)
        if wants_json():
            return jsonify({"error": message, "reason": exc.reason}), 409
        flash(message, "error")
        return redirect(url_for("console_agent.home"))
    target = url_for("console_agent.debtor_page", debtor_id=state.debtor_id, call=attempt_id)
    if wants_json():
        return jsonify(
            {"debtor_url": target, "attempt_id": attempt_id, "confirmed": state.confirmed}
        )
    if state.confirmed:
        flash(t("take.connected"), "success")
    else:
        flash(t("take.unconfirmed"), "error")
    return redirect(target)


# -- playbook -----------------------------------------------------------------------------


@blueprint.get("/playbook")
def playbook_page() -> str:
    playbook = load_playbook(current_language())
    query = request.args.get("q", "")
    return render_template(
        "console/playbook.html",
        playbook=playbook,
        query=query,
        found=search_playbook(playbook, query),
        fill=lambda text: fill(text, {}),
    )


# -- the live stream -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamViewer:
    """What the stream needs to know about its agent, detached from any session."""

    user_id: int
    debtor_id: int | None


@blueprint.get("/stream")
def stream() -> WebResponse:
    runtime = runtime_of()
    viewer = StreamViewer(user_id=g.user.id, debtor_id=request.args.get("debtor", type=int))
    start = resume_point(request.headers.get("Last-Event-ID"), request.args.get("after"))
    if start is None:
        start = latest_event_id(db())
    known_attempts = {c.transfer.attempt_id for c in waiting_calls(db())}
    db().close()  # never hold a connection for the life of a stream
    max_seconds = float(current_app.config["CONSOLE_SSE_MAX_SECONDS"])
    hub = hub_for(runtime)

    def generate() -> Any:
        yield sse_retry()
        last_write = monotonic()
        for batch in follow_contact_events(
            runtime.db, hub, AGENT_STREAM_KINDS, start_after=start, max_seconds=max_seconds
        ):
            messages = agent_messages(viewer, batch, known_attempts) if batch else []
            if messages:
                last_write = monotonic()
                yield from messages
            elif not batch or monotonic() - last_write >= HEARTBEAT_SECONDS:
                # Other debtors' events: nothing for this page, but a write now and then
                # keeps the stream open through proxies and lets a closed page be noticed.
                last_write = monotonic()
                yield sse_comment("keepalive")

    response = Response(stream_with_context(generate()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


def agent_messages(
    viewer: StreamViewer, batch: list[LoggedEvent], known_attempts: set[int]
) -> list[str]:
    """The SSE messages one batch of new events means for this agent. Everything is read
    and rendered inside one short session, and sent after it closed."""
    messages: list[str] = []
    queue_changed = False
    last_id = batch[-1].id
    runtime = runtime_of()
    with runtime.db.session() as session:
        g.console_db = session
        try:
            busy: bool | None = None
            for event in batch:
                if event.kind == "transfer.requested" and event.attempt_id:
                    queue_changed = True
                    known_attempts.add(event.attempt_id)
                    if busy is None:
                        busy = agent_is_busy(session, viewer.user_id)
                    call = waiting_call(session, event.attempt_id)
                    if call is not None and call.transfer.status == "waiting" and not busy:
                        messages.append(sse_message("pop", pop_payload(call), event.id))
                elif event.kind.startswith("transfer."):
                    queue_changed = True
                    if event.kind == "transfer.taken":
                        mine = event.data.get("user_id") == viewer.user_id
                        messages.append(
                            sse_message(
                                "taken",
                                {
                                    "attempt_id": event.attempt_id,
                                    "mine": mine,
                                    "by": event.data.get("user_name") or event.actor,
                                },
                                event.id,
                            )
                        )
                    elif event.kind in ("transfer.ended", "transfer.no_agent"):
                        messages.append(
                            sse_message("gone", {"attempt_id": event.attempt_id}, event.id)
                        )
                elif event.kind == "call.status":
                    if (
                        event.attempt_id in known_attempts
                        and event.data.get("status") in TERMINAL_CALL_STATUSES
                    ):
                        queue_changed = True
                        messages.append(
                            sse_message("gone", {"attempt_id": event.attempt_id}, event.id)
                        )
                elif event.kind.startswith("callback."):
                    queue_changed = True
                elif event.kind.startswith("transcript.") and event.debtor_id == viewer.debtor_id:
                    messages.append(
                        sse_message("transcript", transcript_payload(session, event), event.id)
                    )
            if queue_changed:
                user = session.get(User, viewer.user_id)
                if user is not None:
                    context = queue_context(session, user)
                    known_attempts.update(c.transfer.attempt_id for c in context["waiting"])
                    html = render_template("console/_queue.html", **context)
                    messages.append(sse_message("queue", {"html": html}, last_id))
        finally:
            g.pop("console_db", None)
    return messages


def pop_payload(call: WaitingCall) -> dict[str, Any]:
    return {
        "attempt_id": call.transfer.attempt_id,
        "debtor_id": call.debtor.id,
        "html": render_template(
            "console/_pop.html", call=call, zone=debtor_zone(call.debtor), now=now()
        ),
    }


def transcript_payload(session: Any, event: LoggedEvent) -> dict[str, Any]:
    debtor = session.get(Debtor, event.debtor_id)
    text = str(event.data.get("text", ""))
    spoken_language = i18n.supported(debtor.language if debtor else None)
    matches = match_objections(text[-TRANSCRIPT_TAIL:], spoken_language)
    return {
        "attempt_id": event.attempt_id,
        "final": event.kind == "transcript.final",
        "text": text,
        "matches": [{"key": m.key, "score": m.score, "phrase": m.phrase} for m in matches[:3]],
    }


__all__ = ["agent_messages", "blueprint", "queue_context"]
