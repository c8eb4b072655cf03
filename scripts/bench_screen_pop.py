"""Benchmark of the screen pop: from a `transfer.requested` event committed to the
database to the debtor visible on an agent's page, measured in a real browser
(Debian's chromium through Playwright) against the app on a real HTTP server.
Prints a table; asserts nothing.

Two paths are measured:
- in-process: the event is written through the web process's own sessions (the
  voice webhook served by the same worker), which wakes the streams at commit;
- cross-process: the event is written by another engine (another worker or a
  dialer), which the per-process watcher notices within its poll interval.

The latency is the page's clock when the pop card was inserted (performance.timeOrigin
+ performance.now(), epoch ms) minus the wall clock right after the commit.

    .venv/bin/python scripts/bench_screen_pop.py [--pops 50] [--database-url URL]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402

from agent_console.event_hub import POLL_SECONDS  # noqa: E402
from ivr.app import create_app  # noqa: E402
from ivr.clock import SystemClock  # noqa: E402
from ivr.db import Database  # noqa: E402
from ivr.models import Attempt, Campaign, ContactEvent, Creditor  # noqa: E402
from ivr.runtime import build_runtime  # noqa: E402
from tests.console.browser import launch_chromium, live_server, sign_in  # noqa: E402
from tests.console.factories import PASSWORD, FakeCarrier, add_debtor, build_world  # noqa: E402

TARGET_P95_MS = 300.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))
    return ordered[index]


def prepare_debtors(runtime, count: int) -> list[tuple[int, int, int, int]]:
    """(debtor, phone, debt, campaign) ids: one debtor per pop (one live call per debtor)."""
    ids = []
    with runtime.db.session() as session:
        creditor = session.scalars(select(Creditor)).first()
        campaign = session.scalars(select(Campaign)).first()
        for index in range(count):
            debtor, phone, debt = add_debtor(
                session,
                external_id=f"B-{index:04d}",
                name=f"Pessoa Bench {index:04d}",
                document=f"{index:011d}",
                state="SP",
                city="São Paulo",
                number=f"+55119{index:08d}",
                creditor=creditor,
                campaign=campaign,
            )
            ids.append((debtor.id, phone.id, debt.id, campaign.id))
    return ids


def record_transfer(database: Database, now, ids: tuple[int, int, int, int], index: int) -> int:
    debtor_id, phone_id, debt_id, campaign_id = ids
    with database.session() as session:
        attempt = Attempt(
            debtor_id=debtor_id,
            phone_id=phone_id,
            debt_id=debt_id,
            campaign_id=campaign_id,
            state="in-progress",
            active=True,
            idempotency_key=f"bench-{index}",
            carrier_call_sid=f"CA{index:032d}",
            created_at=now,
            placed_at=now,
            answered_at=now,
            answered_by="human",
            right_party_verified=True,
            ivr_step="queue",
        )
        session.add(attempt)
        session.flush()
        session.add(
            ContactEvent(
                debtor_id=debtor_id,
                attempt_id=attempt.id,
                phone_id=phone_id,
                debt_id=debt_id,
                kind="transfer.requested",
                channel="voice",
                actor="ivr",
                occurred_at=now,
                data={
                    "queue": "agents",
                    "reason": "menu",
                    "right_party_verified": True,
                    "call_sid": f"CA{index:032d}",
                },
            )
        )
        return attempt.id


def measure(page, database: Database, runtime, debtors, offset: int, pops: int) -> list[float]:
    latencies = []
    for index in range(pops):
        ids = debtors[offset + index]
        attempt_id = record_transfer(database, runtime.clock.now(), ids, offset + index)
        committed = time.time() * 1000
        card = page.wait_for_selector(f"#screen-pop [data-attempt='{attempt_id}']", timeout=10_000)
        popped = float(card.get_attribute("data-popped-at"))
        latencies.append(popped - committed)
        page.evaluate("document.querySelectorAll('#screen-pop .pop-card').forEach(c => c.remove())")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pops", type=int, default=50, help="screen pops per path (default 50)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        runtime = build_runtime(
            {"DATABASE_URL": url, "CORDIAL_INSTANCE_PATH": folder},
            clock=SystemClock(),
            env_file=None,
        )
        runtime.extras["carrier"] = FakeCarrier()
        build_world(runtime)
        debtors = prepare_debtors(runtime, 2 * args.pops)
        app = create_app({}, runtime=runtime)
        logging.getLogger("werkzeug").setLevel(
            logging.WARNING
        )  # one line per request would drown the table
        app.config["CONSOLE_SSE_MAX_SECONDS"] = 3600
        other_process = Database(url)  # a second engine: not hooked to this process's streams
        results: dict[str, list[float]] = {}
        with live_server(app) as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page()
            sign_in(page, server.url, "ana", PASSWORD)
            page.wait_for_selector("body.live", state="attached")
            results["in-process (same web worker)"] = measure(
                page, runtime.db, runtime, debtors, 0, args.pops
            )
            results[f"cross-process (watcher, {POLL_SECONDS:.1f} s poll)"] = measure(
                page, other_process, runtime, debtors, args.pops, args.pops
            )
            browser.close()
        other_process.dispose()
        runtime.close()

    database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(
        f"\nScreen pop latency, commit -> debtor visible in chromium ({database}, {args.pops} pops per path)\n"
    )
    header = f"{'path':40} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'mean ms':>8}  target p95 < {TARGET_P95_MS:.0f} ms"
    print(header)
    print("-" * len(header))
    for name, values in results.items():
        p95 = percentile(values, 0.95)
        verdict = "ok" if p95 < TARGET_P95_MS else "MISSED"
        print(
            f"{name:40} {len(values):>4} {percentile(values, 0.5):>8.1f} {p95:>8.1f} {max(values):>8.1f} "
            f"{statistics.fmean(values):>8.1f}  {verdict}"
        )


if __name__ == "__main__":
    main()
