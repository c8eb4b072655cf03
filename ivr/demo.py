"""`cordial demo` and `cordial simulate`.

The demo builds its own SQLite database (instance/demo.db, made anew each run),
seeds a sample portfolio, runs a complete campaign through the real dialer,
voice flow and the local carrier emulator on a virtual clock, prints the
outcome and keeps the web app (webhooks and console) up on 127.0.0.1.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select

from ivr.cli_context import FiniteFloatRange, emit_json
from ivr.clock import VirtualClock, parse_instant
from ivr.models import Campaign, Debt, Debtor, Phone
from ivr.runtime import Runtime, build_runtime

DEMO_ZONE = ZoneInfo("America/Sao_Paulo")
DEMO_COUNTRY = "BR"  # whose national holidays the demo's campaign day avoids


def register(main: click.Group) -> None:
    main.add_command(demo_cmd)
    main.add_command(simulate_cmd)


def portfolio_summary(runtime: Runtime) -> dict[str, Any]:
    with runtime.db.session() as s:
        by_country = dict(s.execute(select(Debtor.country, func.count()).group_by(Debtor.country)).tuples().all())
        by_status = dict(s.execute(select(Debt.status, func.count()).group_by(Debt.status)).tuples().all())
        open_total = s.scalar(select(func.count()).select_from(Debt).where(Debt.status == "open")) or 0
        states = s.scalar(select(func.count(func.distinct(Debtor.state)))) or 0
        phones = s.scalar(select(func.count()).select_from(Phone)) or 0
        campaigns = [{"name": c.name, "status": c.status} for c in s.scalars(select(Campaign).order_by(Campaign.id))]
    return {"debtors": sum(by_country.values()), "debtors_by_country": by_country, "phones": phones,
            "states": states, "debts_by_status": by_status, "open_debts": open_total, "campaigns": campaigns}


def _print_summary(summary: dict[str, Any]) -> None:
    click.echo(f"Portfolio: {summary['debtors']} debtors ({', '.join(f'{k} {v}' for k, v in sorted(summary['debtors_by_country'].items()))}) "
               f"in {summary['states']} states, {summary['phones']} phones")
    click.echo("Debts: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["debts_by_status"].items())))


def prepare_campaign(runtime: Runtime, debtors: int, seed: int, cps: float, max_concurrent: int) -> None:
    from ivr.dialer.campaigns import start_campaign
    from ivr.portfolio.seed import DEMO_CAMPAIGN, seed_portfolio

    seed_portfolio(runtime, debtors, seed=seed)
    with runtime.db.session() as s:
        campaign = s.scalars(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
        campaign.calls_per_second = cps
        campaign.max_concurrent = max_concurrent
        start_campaign(s, DEMO_CAMPAIGN, runtime.clock.now())


def _progress_printer(end: datetime):
    """A live line on a terminal; a line every virtual half hour otherwise."""
    tty = sys.stderr.isatty()
    shown: dict[str, Any] = {"last": None}

    def show(p) -> None:
        local = p.now.astimezone(DEMO_ZONE)
        line = (f"  {local:%a %H:%M} BRT  placed {p.placed:6}  on the line {p.live:4}  "
                f"wall {p.wall_seconds:6.1f}s")
        if tty:
            click.echo("\r" + line, nl=False, err=True)
        elif shown["last"] is None or p.now - shown["last"] >= timedelta(minutes=30) or p.now >= end:
            shown["last"] = p.now
            click.echo(line, err=True)
    return show


def _print_result(result) -> None:
    data = result.as_dict()
    out, contacts = data["outcomes"], data["contacts"]
    click.echo(f"\nCampaign {result.start.astimezone(DEMO_ZONE):%a %d %b %H:%M}-{result.end.astimezone(DEMO_ZONE):%H:%M} "
               f"(São Paulo time), {data['wall_seconds']} s of wall time")
    click.echo(f"  {'calls placed':22}{data['calls_placed']}")
    for key in sorted(out):
        click.echo(f"    {key:20}{out[key]}")
    if out.get("no-agent"):
        click.echo("    (no-agent: the debtor asked for an agent while none was logged in to the console)")
    for key, count in contacts.items():
        click.echo(f"  {key.replace('_', ' '):22}{count}")
    if data["violations"]:
        click.secho(f"  INVARIANT VIOLATIONS: {len(data['violations'])}", fg="red")
        for v in data["violations"][:20]:
            click.echo(f"    invariant {v['invariant']} {v['rule']}: {v['detail']}")
    else:
        click.secho("  audit: no invariant violated", fg="green")


def latest_window_start(now: datetime, hours: float) -> datetime:
    """The latest working day's 09:00 in São Paulo such that `hours` from it end before now:
    not a weekend nor a national holiday, when the rules would let almost no call through."""
    local = now.astimezone(DEMO_ZONE)
    day = local.date()
    while True:
        start = datetime.combine(day, time(9, 0), DEMO_ZONE)
        if _working_day(day) and start + timedelta(hours=hours) <= now:
            return start.astimezone(UTC)
        day -= timedelta(days=1)


def _working_day(day: date) -> bool:
    from ivr.compliance.holiday_calendar import package_holidays  # only the demo needs it

    return day.weekday() < 5 and day not in package_holidays(DEMO_COUNTRY, None, day.year)


@click.command("simulate")
@click.option("--start", "start_text", required=True, help="Virtual start instant (ISO 8601) with its UTC offset, e.g. 2026-11-24T09:00-03:00 (without an offset: UTC).")
@click.option("--hours", type=FiniteFloatRange(min=0.1, max=24 * 14), required=True, help="Virtual hours to dial.")
@click.option("--debtors", type=click.IntRange(min=1), default=1000, show_default=True, help="Debtors in the generated portfolio.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the portfolio and the personas.")
@click.option("--cps", type=FiniteFloatRange(min=0.01), default=20.0, show_default=True, help="Campaign calls per second.")
@click.option("--max-concurrent", type=click.IntRange(min=1), default=200, show_default=True, help="Campaign calls in progress at most.")
@click.option("--tick", type=FiniteFloatRange(min=0.5), default=10.0, show_default=True, help="Virtual seconds per dialer tick.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and the audit as JSON.")
def simulate_cmd(start_text: str, hours: float, debtors: int, seed: int, cps: float, max_concurrent: int,
                 tick: float, as_json: bool) -> None:
    """Forecast a campaign: a generated portfolio dialled on a virtual clock through the
    real dialer, voice flow and carrier emulator, then an independent audit.
    Runs in a throwaway database; exits 1 when the audit finds a violation."""
    from ivr.simulation import run_campaign

    try:
        start = parse_instant(start_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start") from None
    with tempfile.TemporaryDirectory(prefix="cordial-sim-") as tmp:
        runtime = build_runtime({"DATABASE_URL": f"sqlite:///{tmp}/sim.db", "CORDIAL_INSTANCE_PATH": tmp},
                                clock=VirtualClock(start), env_file=None)
        try:
            prepare_campaign(runtime, debtors, seed, cps, max_concurrent)
            result = run_campaign(runtime, hours=hours, tick_seconds=tick, seed=str(seed),
                                  progress=None if as_json else _progress_printer(start + timedelta(hours=hours)))
        finally:
            runtime.close()
    if as_json:
        emit_json(result.as_dict())
    else:
        _print_result(result)
    if result.audit.violations:
        sys.exit(1)


@click.command("demo")
@click.option("--debtors", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--hours", type=FiniteFloatRange(min=0.5, max=11), default=8.0, show_default=True,
              help="Length of the demo campaign day (virtual).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Stop after the campaign instead of keeping the console up.")
@click.option("--json", "as_json", is_flag=True, help="Print the portfolio and campaign summary as JSON.")
def demo_cmd(debtors: int, hours: float, seed: int, port: int, no_serve: bool, as_json: bool) -> None:
    """The whole product on embedded defaults: a sample portfolio, a campaign day run by
    the dialer through the voice flow and the local carrier emulator, then the console."""
    from ivr.config import load_config
    from ivr.simulation import run_campaign

    instance = load_config().instance_path
    instance.mkdir(parents=True, exist_ok=True)
    db_file = instance / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    settings = {"DATABASE_URL": f"sqlite:///{db_file}", "CORDIAL_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    start = latest_window_start(datetime.now(UTC), hours)
    runtime = build_runtime(settings, clock=VirtualClock(start))
    if not as_json:
        click.echo(f"Demo database: {db_file}")
    prepare_campaign(runtime, debtors, seed, cps=5.0, max_concurrent=50)
    summary = portfolio_summary(runtime)
    if not as_json:
        _print_summary(summary)
        click.echo(f"Running the 'Demo' campaign for {hours:g} h from {start.astimezone(DEMO_ZONE):%a %d %b %H:%M} "
                   "São Paulo time, on a virtual clock:")
    result = run_campaign(runtime, hours=hours, seed=str(seed),
                          progress=None if as_json else _progress_printer(start + timedelta(hours=hours)))
    runtime.close()
    credentials = _demo_users(settings)
    if as_json:
        emit_json({"portfolio": summary, "campaign": result.as_dict(), "console": credentials})
    else:
        _print_result(result)
    if no_serve:
        return
    _serve(settings, port, credentials, quiet=as_json)


def _demo_users(settings: dict[str, str]) -> dict[str, Any]:
    """A demo agent and supervisor with fresh random passwords (the demo database is made anew each run)."""
    import secrets

    from agent_console.accounts import create_user

    users = []
    runtime = build_runtime(settings)
    try:
        with runtime.db.session() as s:
            for username, role in (("agent", "agent"), ("supervisor", "supervisor")):
                password = secrets.token_urlsafe(9)
                create_user(s, username, role=role, password=password, now=runtime.clock.now())
                users.append({"username": username, "role": role, "password": password})
    finally:
        runtime.close()
    return {"url": f"{settings['CORDIAL_PUBLIC_BASE_URL']}/console/", "users": users}


def _serve(settings: dict[str, str], port: int, credentials: dict[str, Any], quiet: bool) -> None:
    from werkzeug.serving import make_server

    from ivr.app import create_app
    from ivr.telephony.emulator import CarrierEmulator

    runtime = build_runtime(settings)
    emulator = CarrierEmulator()
    with emulator.serve() as carrier_server:
        runtime.extras["carrier"] = carrier_server.carrier()
        app = create_app(runtime=runtime)
        server = make_server("127.0.0.1", port, app, threaded=True)
        if not quiet:
            click.echo(f"\nConsole: {credentials['url']}")
            for user in credentials["users"]:
                click.echo(f"  {user['role']:10} {user['username']} / {user['password']}")
            click.echo(f"Carrier emulator: {carrier_server.base_url}.  Ctrl-C stops.")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            runtime.close()
