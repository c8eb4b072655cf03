"""The supervisor's pages: campaigns (settings, start, pause, calling windows with
the jurisdiction presets beside them), city holidays, the live wallboard, "why
was this debtor not called", and CSV exports. Agents get 403 on every one."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as WebResponse

from agent_console import i18n
from agent_console.auth import require_supervisor
from agent_console.campaign_settings import (
    SECOND_FACTORS,
    add_holiday,
    create_campaign,
    read_campaign_form,
    read_holiday_form,
    read_windows,
    replace_windows,
    upcoming_holidays,
    update_campaign,
    window_text,
)
from agent_console.event_hub import hub_for
from agent_console.exports import contact_events_csv, promises_csv
from agent_console.forms import FieldError, parse_date
from agent_console.live_queue import waiting_calls
from agent_console.streams import (
    follow_contact_events,
    latest_event_id,
    sse_comment,
    sse_message,
    sse_retry,
)
from agent_console.wallboard import floor_snapshot, hourly_chart, ratio_chart
from agent_console.web import console_blueprint, current_language, db, now
from ivr.app import runtime_of
from ivr.compliance.presets import WEEKDAYS, load_presets
from ivr.dialer.campaigns import CampaignError, pause_campaign, start_campaign
from ivr.dialer.facts import UnknownDebtor, explain_debtor
from ivr.models import Campaign, Debtor, Holiday

blueprint = console_blueprint("console_supervisor", "/console/supervisor")
blueprint.before_request(require_supervisor)

WALLBOARD_KINDS = (
    "transfer.requested",
    "transfer.taken",
    "promise.made",
    "opt_out",
    "call.status",
    "ivr.answered",
    "ivr.right_party",
)
WALLBOARD_MIN_INTERVAL = 1.0  # seconds between two renders, however busy the floor


def t(key: str, **values: Any) -> str:
    return i18n.translate(current_language(), key, **values)


def error_text(error: FieldError) -> str:
    return t(
        "form.field_error",
        field=t(f"field.{error.field}"),
        message=t(f"error.{error.code}", **error.values),
    )


@blueprint.get("/")
def index() -> WebResponse:
    return redirect(url_for("console_supervisor.wallboard"))


# -- campaigns ----------------------------------------------------------------------------


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db().get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


@blueprint.get("/campaigns")
def campaigns() -> str:
    return render_template("console/supervisor/campaigns.html", **_campaigns_context())


def _campaigns_context(**extra: Any) -> dict[str, Any]:
    listed = db().scalars(select(Campaign).order_by(Campaign.name)).all()
    return {
        "campaigns": listed,
        "second_factors": SECOND_FACTORS,
        "values": {},
        "errors": [],
        **extra,
    }


@blueprint.post("/campaigns")
def create() -> WebResponse | tuple[str, int]:
    values, errors = read_campaign_form(request.form, with_name=True)
    if not errors:
        try:
            campaign = create_campaign(db(), values, now())
        except FieldError as exc:
            errors = [exc]
    if errors:
        db().rollback()
        context = _campaigns_context(
            values=dict(request.form), errors=[error_text(e) for e in errors]
        )
        return render_template("console/supervisor/campaigns.html", **context), 400
    db().commit()
    flash(t("done.campaign_created", name=campaign.name), "success")
    return redirect(url_for("console_supervisor.campaign", campaign_id=campaign.id))


def _campaign_context(campaign: Campaign, **extra: Any) -> dict[str, Any]:
    presets = load_presets()
    preset_rows = []
    for hours in presets.calling_hours.values():
        week = {
            WEEKDAYS[i]: ", ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in ranges)
            for i, ranges in enumerate(hours.week)
        }
        preset_rows.append(
            {
                "name": hours.name,
                "rule": hours.rule_id,
                "week": week,
                "closed_on_holidays": hours.closed_on_holidays,
            }
        )
    context = {
        "campaign": campaign,
        "second_factors": SECOND_FACTORS,
        "weekdays": WEEKDAYS,
        "windows": window_text(campaign),
        "presets": preset_rows,
        "caps": list(presets.frequency_caps.values()),
        "values": {},
        "errors": [],
        "window_errors": [],
    }
    context.update(extra)
    return context


def _hhmm(minutes: int) -> str:
    return "24:00" if minutes >= 24 * 60 else time(minutes // 60, minutes % 60).strftime("%H:%M")


@blueprint.get("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int) -> str:
    return render_template(
        "console/supervisor/campaign.html", **_campaign_context(_campaign_or_404(campaign_id))
    )


@blueprint.post("/campaigns/<int:campaign_id>")
def edit(campaign_id: int) -> WebResponse | tuple[str, int]:
    found = _campaign_or_404(campaign_id)
    values, errors = read_campaign_form(request.form, with_name=False)
    if errors:
        context = _campaign_context(
            found, values=dict(request.form), errors=[error_text(e) for e in errors]
        )
        return render_template("console/supervisor/campaign.html", **context), 400
    update_campaign(found, values)
    db().commit()
    flash(t("done.campaign_saved"), "success")
    return redirect(url_for("console_supervisor.campaign", campaign_id=found.id))


@blueprint.post("/campaigns/<int:campaign_id>/windows")
def windows(campaign_id: int) -> WebResponse | tuple[str, int]:
    found = _campaign_or_404(campaign_id)
    parsed, errors = read_windows(request.form)
    if errors:
        messages = [t("error.window", day=t(f"weekday.{day}"), value=text) for day, text in errors]
        context = _campaign_context(
            found,
            windows={d: request.form.get(f"window_{d}", "") for d in WEEKDAYS},
            window_errors=messages,
        )
        return render_template("console/supervisor/campaign.html", **context), 400
    replace_windows(db(), found, parsed)
    db().commit()
    flash(t("done.windows_saved"), "success")
    return redirect(url_for("console_supervisor.campaign", campaign_id=found.id) + "#windows")


@blueprint.post("/campaigns/<int:campaign_id>/start")
def start(campaign_id: int) -> WebResponse:
    found = _campaign_or_404(campaign_id)
    try:
        start_campaign(db(), found.name, now())
    except CampaignError:
        db().rollback()
        flash(t("action_error.campaign_without_windows"), "error")
        return redirect(
            url_for("console_supervisor.campaign", campaign_id=campaign_id) + "#windows"
        )
    db().commit()
    flash(t("done.campaign_started"), "success")
    return redirect(url_for("console_supervisor.campaign", campaign_id=campaign_id))


@blueprint.post("/campaigns/<int:campaign_id>/pause")
def pause(campaign_id: int) -> WebResponse:
    found = _campaign_or_404(campaign_id)
    pause_campaign(db(), found.name)
    db().commit()
    flash(t("done.campaign_paused"), "success")
    return redirect(url_for("console_supervisor.campaign", campaign_id=campaign_id))


# -- holidays -------------------------------------------------------------------------------


@blueprint.get("/holidays")
def holidays() -> str:
    return render_template(
        "console/supervisor/holidays.html",
        holidays=upcoming_holidays(db(), now().date()),
        values={},
        errors=[],
    )


@blueprint.post("/holidays")
def holiday_add() -> WebResponse | tuple[str, int]:
    values, errors = read_holiday_form(request.form)
    if not errors:
        try:
            add_holiday(db(), values)
        except FieldError as exc:
            errors = [exc]
    if errors:
        db().rollback()
        return render_template(
            "console/supervisor/holidays.html",
            holidays=upcoming_holidays(db(), now().date()),
            values=dict(request.form),
            errors=[error_text(e) for e in errors],
        ), 400
    db().commit()
    flash(t("done.holiday_added"), "success")
    return redirect(url_for("console_supervisor.holidays"))


@blueprint.post("/holidays/<int:holiday_id>/delete")
def holiday_delete(holiday_id: int) -> WebResponse:
    holiday = db().get(Holiday, holiday_id)
    if holiday is None:
        abort(404)
    db().delete(holiday)
    db().commit()
    flash(t("done.holiday_removed"), "success")
    return redirect(url_for("console_supervisor.holidays"))


# -- wallboard ---------------------------------------------------------------------------------


def wallboard_context(session: Any) -> dict[str, Any]:
    snapshot = floor_snapshot(session, now(), waiting_transfers=len(waiting_calls(session)))
    return {
        "floor": snapshot,
        "hourly": hourly_chart(snapshot.hours),
        "short": ratio_chart(snapshot.short_calls),
    }


@blueprint.get("/wallboard")
def wallboard() -> str:
    return render_template("console/supervisor/wallboard.html", **wallboard_context(db()))


@blueprint.get("/wallboard/stream")
def wallboard_stream() -> WebResponse:
    runtime = runtime_of()
    after = latest_event_id(db())
    db().close()  # never hold a connection for the life of a stream
    max_seconds = float(current_app.config["CONSOLE_SSE_MAX_SECONDS"])
    hub = hub_for(runtime)

    def generate() -> Any:
        yield sse_retry()
        last_render = 0.0
        # Heartbeats double as the periodic refresh: attempts change state without events.
        for batch in follow_contact_events(
            runtime.db,
            hub,
            WALLBOARD_KINDS,
            start_after=after,
            max_seconds=max_seconds,
            heartbeat_seconds=5.0,
        ):
            if batch and monotonic() - last_render < WALLBOARD_MIN_INTERVAL:
                yield sse_comment("coalesced")
                continue
            last_render = monotonic()
            yield _wallboard_message(runtime)

    response = Response(stream_with_context(generate()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _wallboard_message(runtime: Any) -> str:
    with runtime.db.session() as session:
        g.console_db = session
        try:
            html = render_template(
                "console/supervisor/_wallboard.html", **wallboard_context(session)
            )
        finally:
            g.pop("console_db", None)
    return sse_message("wallboard", {"html": html})


# -- why was this debtor not called -------------------------------------------------------------


@blueprint.get("/why")
def why() -> str | tuple[str, int]:
    external_id = (request.args.get("external_id") or "").strip()
    if not external_id:
        return render_template(
            "console/supervisor/why.html", external_id="", explanation=None, error=None
        )
    debtor = db().scalars(select(Debtor).where(Debtor.external_id == external_id)).one_or_none()
    if debtor is None:
        return render_template(
            "console/supervisor/why.html",
            external_id=external_id,
            explanation=None,
            error=t("why.unknown", external_id=external_id),
        ), 404
    try:
        explanation = explain_debtor(db(), debtor.id, now(), current_language())
    except UnknownDebtor:
        abort(404)
    return render_template(
        "console/supervisor/why.html",
        external_id=external_id,
        explanation=explanation,
        debtor=debtor,
        error=None,
    )


# -- exports --------------------------------------------------------------------------------------


@blueprint.get("/exports")
def exports() -> str:
    return render_template("console/supervisor/exports.html", errors=[], values={})


def _period() -> tuple[datetime | None, datetime | None]:
    """[since, until): from the start of the first day to the end of the last (both days
    included), in UTC."""
    first = parse_date(request.args.get("since"), "since") if request.args.get("since") else None
    last = parse_date(request.args.get("until"), "until") if request.args.get("until") else None
    if first is not None and last is not None and last < first:
        raise FieldError("until", "date_order", value=last.isoformat(), since=first.isoformat())
    since = datetime.combine(first, time(), UTC) if first is not None else None
    until = datetime.combine(last + timedelta(days=1), time(), UTC) if last is not None else None
    return since, until


def _csv_response(kind: str) -> WebResponse | tuple[str, int]:
    try:
        since, until = _period()
    except FieldError as exc:
        return render_template(
            "console/supervisor/exports.html", errors=[error_text(exc)], values=dict(request.args)
        ), 400
    runtime = runtime_of()
    db().close()
    rows = (
        contact_events_csv(runtime.db, since, until)
        if kind == "contact-events"
        else promises_csv(runtime.db, since, until)
    )
    stamp = now().strftime("%Y%m%d-%H%M")
    response = Response(rows, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="cordial-{kind}-{stamp}.csv"'
    return response


@blueprint.get("/exports/contact-events.csv")
def export_events() -> WebResponse | tuple[str, int]:
    return _csv_response("contact-events")


@blueprint.get("/exports/promises.csv")
def export_promises() -> WebResponse | tuple[str, int]:
    return _csv_response("promises")


__all__ = ["blueprint"]
