"""Dialer and campaign commands: dialer, campaign, why, plan."""

from __future__ import annotations

from typing import Any

import click

from ivr.cli_context import CliContext, FiniteFloatRange, emit_json, pass_cli
from ivr.clock import parse_instant


def _instant(cli: CliContext, at: str | None):
    if at is None:
        return cli.runtime.clock.now()
    try:
        return parse_instant(at)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


def register(main: click.Group) -> None:
    main.add_command(dialer_cmd)
    main.add_command(campaign)
    main.add_command(why_cmd)
    main.add_command(plan_cmd)


@click.command("dialer")
@click.option("--worker-id", help="Name of this worker in the logs and on its attempts.")
@click.option("--ticks", type=click.IntRange(min=1), help="Stop after this many ticks (default: run until stopped).")
@pass_cli
def dialer_cmd(cli: CliContext, worker_id: str | None, ticks: int | None) -> None:
    """Run a dialer worker: claims and places allowed calls. Run as many as you like."""
    import logging

    from ivr.dialer.dialer import Dialer
    from ivr.dialer.facts import evaluate_candidates
    from ivr.dialer.worker import DialerWorker
    from ivr.speech.call_audio import prepare_call_audio
    from ivr.telephony.factory import carrier_for

    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("twilio").setLevel(logging.WARNING)  # it logs every request at INFO
    runtime = cli.runtime
    dialer = Dialer(runtime, carrier_for(runtime), evaluate_candidates, worker_id=worker_id,
                    prepare_audio=prepare_call_audio)
    click.echo(f"dialer {dialer.worker_id}: tick every {dialer.tick_seconds}s, batch {dialer.batch}; Ctrl-C stops")
    DialerWorker(dialer).run(max_ticks=ticks)


@click.group()
def campaign() -> None:
    """Create, start and pause campaigns; set their calling windows."""


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def campaign_list(cli: CliContext, as_json: bool) -> None:
    from sqlalchemy import select

    from ivr.models import Campaign

    with cli.runtime.db.session() as session:
        rows: list[dict[str, Any]] = [
            {"name": c.name, "status": c.status, "caller_id": c.caller_id, "calls_per_second": c.calls_per_second,
             "max_concurrent": c.max_concurrent,
             "windows": [f"{w.weekday} {w.start:%H:%M}-{w.end:%H:%M}" for w in c.windows]}
            for c in session.scalars(select(Campaign).order_by(Campaign.name))
        ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']:24} {row['status']:8} {row['caller_id']:16} {row['calls_per_second']} cps, "
                   f"max {row['max_concurrent']} concurrent, {len(row['windows'])} windows")


@campaign.command("create")
@click.argument("name")
@click.option("--caller-id", required=True, help="Registered caller ID in E.164, e.g. +551140000000.")
@click.option("--window", "windows", multiple=True, help="A weekly range such as 'mon 08:00-12:00'; repeatable.")
@click.option("--cps", type=FiniteFloatRange(min=0.01, max=100), default=1.0, show_default=True)
@click.option("--max-concurrent", type=click.IntRange(min=1), default=10, show_default=True)
@pass_cli
def campaign_create(cli: CliContext, name: str, caller_id: str, windows: tuple[str, ...], cps: float,
                    max_concurrent: int) -> None:
    from sqlalchemy import select

    from ivr.dialer.campaigns import CampaignError, parse_window, set_windows
    from ivr.models import Campaign
    from ivr.portfolio.phones import parse_phone

    try:
        caller = parse_phone(caller_id, cli.runtime.config.get("CORDIAL_DEFAULT_REGION"))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--caller-id") from None
    try:
        parsed = [parse_window(w) for w in windows]
    except (ValueError, CampaignError) as exc:
        raise click.BadParameter(str(exc), param_hint="--window") from None
    with cli.runtime.db.session() as session:
        if session.scalars(select(Campaign).where(Campaign.name == name)).first():
            raise click.ClickException(f"a campaign named {name!r} exists already")
        c = Campaign(name=name, caller_id=caller.e164, calls_per_second=cps, max_concurrent=max_concurrent)
        session.add(c)
        session.flush()
        set_windows(session, c, parsed)
    click.echo(f"campaign {name!r} created (draft); start it with `cordial campaign start {name}`")


@campaign.command("start")
@click.argument("name")
@pass_cli
def campaign_start(cli: CliContext, name: str) -> None:
    from ivr.dialer.campaigns import CampaignError, start_campaign

    try:
        with cli.runtime.db.session() as session:
            start_campaign(session, name, cli.runtime.clock.now())
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {name!r} running")


@campaign.command("pause")
@click.argument("name")
@pass_cli
def campaign_pause(cli: CliContext, name: str) -> None:
    from ivr.dialer.campaigns import CampaignError, pause_campaign

    try:
        with cli.runtime.db.session() as session:
            pause_campaign(session, name)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {name!r} paused: no new calls")


@click.command("why")
@click.argument("debtor")
@click.option("--at", help="Instant to decide at (ISO 8601 with its UTC offset, e.g. 2026-11-24T14:30-03:00; without an offset: UTC; default now).")
@click.option("--language", type=click.Choice(["pt-BR", "en-US"]), help="Language of the explanations.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def why_cmd(cli: CliContext, debtor: str, at: str | None, language: str | None, as_json: bool) -> None:
    """Why DEBTOR (its external id) may or may not be called, and when it can be."""
    from ivr.dialer.facts import UnknownDebtor, explain_debtor

    instant = _instant(cli, at)
    language = language or cli.runtime.config.get("CORDIAL_DEFAULT_LANGUAGE")
    try:
        with cli.runtime.db.session() as session:
            report = explain_debtor(session, debtor, instant, language)
    except UnknownDebtor as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(report)
        return
    verdict = click.style("may be called", fg="green") if report["allowed"] else click.style("may not be called", fg="red")
    click.echo(f"{report['debtor']} ({report['name']}) {verdict} at {report['at_local']} ({report['at']} UTC)")
    click.echo(f"  zones: {', '.join(report['zones'])}" + ("  (uncertain)" if report["zone_uncertain"] else ""))
    if report.get("phone"):
        click.echo(f"  phone: {report['phone']}   debt: {report.get('debt') or '-'}   campaign: {report.get('campaign') or '-'}")
    for reason in report["reasons"]:
        until = f" (until {reason['until_local']})" if reason.get("until_local") else ""
        click.echo(f"  - {reason['rule']}: {reason['explanation']}{until}")
    if report["next_allowed_at"]:
        click.echo(f"  next allowed: {report['next_allowed_at_local']} ({report['next_allowed_at']} UTC)")
    elif not report["allowed"]:
        click.echo("  next allowed: never, unless something changes")


@click.command("plan")
@click.option("--at", help="Instant to plan at (ISO 8601 with its UTC offset, e.g. 2026-11-24T14:30-03:00; without an offset: UTC; default now).")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def plan_cmd(cli: CliContext, at: str | None, as_json: bool) -> None:
    """For each active campaign: how many debtors could be called now, and what blocks the rest."""
    from ivr.dialer.facts import plan_campaigns

    instant = _instant(cli, at)
    # A read session: over a large portfolio this reads for minutes, and must not keep
    # the webhooks and the dialers from writing meanwhile.
    with cli.runtime.db.read_session() as session:
        plan = plan_campaigns(session, instant)
    if as_json:
        emit_json(plan)
        return
    if not plan["campaigns"]:
        click.echo("no running campaigns")
    for c in plan["campaigns"]:
        click.echo(f"{c['name']} ({c['status']}): {c['debtors']} debtors, {c['callable']} callable now")
        for rule, count in sorted(c["blocked"].items(), key=lambda kv: -kv[1]):
            click.echo(f"    {count:8}  {rule}")
