"""The console in a real browser (Debian's chromium through Playwright) against the
app on a real werkzeug server: login, the screen pop over Server-Sent Events, the
timeline, a promise with installments, a refused callback, a supervisor editing a
calling window, and an agent refused a supervisor page. Saves screenshots of the
main pages for the README (docs/screenshots) and for inspection (tests/artifacts)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ivr.cli import main as cli_main
from ivr.models import Callback, ContactEvent, SmsMessage
from tests.console.browser import launch_chromium, live_server, screenshot, sign_in
from tests.console.factories import (
    PASSWORD,
    FakeCarrier,
    World,
    build_world,
    record_ivr_call,
    request_transfer,
    seed_floor,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def world(sqlite_runtime) -> World:
    sqlite_runtime.extras["carrier"] = FakeCarrier()
    built = build_world(sqlite_runtime)
    # Some history, so the debtor page shows a real timeline.
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        earlier = record_ivr_call(
            session,
            debtor_id=built.debtor_id,
            phone_id=built.phone_id,
            debt_id=built.debt_id,
            campaign_id=built.campaign_id,
            now=now - timedelta(days=1),
            call_sid="CA" + "9" * 32,
            keys=("1", "1"),
        )
        earlier.active, earlier.state, earlier.duration_seconds = False, "completed", 74
        session.add(
            SmsMessage(
                debtor_id=built.debtor_id,
                phone_id=built.phone_id,
                debt_id=built.debt_id,
                body="Segunda via",
                status="delivered",
                created_at=now - timedelta(days=1),
            )
        )
        session.add(
            ContactEvent(
                debtor_id=built.debtor_id,
                attempt_id=earlier.id,
                kind="sms.sent",
                channel="sms",
                actor="ivr",
                occurred_at=now - timedelta(days=1),
                data={"purpose": "second-copy"},
            )
        )
        session.add(
            Callback(
                debtor_id=built.other_debtor_id,
                phone_id=built.other_phone_id,
                due_at=now - timedelta(minutes=10),
                status="scheduled",
            )
        )
    return built


@pytest.fixture
def server(app: Flask, world: World) -> Iterator[str]:
    app.config["CONSOLE_SSE_MAX_SECONDS"] = 60
    with live_server(app) as running:
        yield running.url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="pt-BR")
    tab = context.new_page()
    yield tab
    context.close()  # closes the event streams before the server stops


def test_login_and_logout(page: Page, server: str) -> None:
    page.goto(f"{server}/console/")
    expect(page.locator("#login-submit")).to_be_visible()
    screenshot(page, "login")
    page.fill("#username", "ana")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_contain_text("Usuário ou senha incorretos")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("h1.page-title")).to_have_text("Fila")
    expect(page.locator(".who")).to_contain_text("Ana Souza")
    page.click("#logout")
    expect(page.locator("#login-submit")).to_be_visible()
    page.goto(f"{server}/console/")
    expect(page.locator("#login-submit")).to_be_visible()


def test_a_transfer_pops_the_debtor_live_and_the_agent_takes_it(
    page: Page, server: str, sqlite_runtime, world: World
) -> None:
    sign_in(page, server, "ana", PASSWORD)
    expect(page.locator("#queue-empty")).to_be_visible()
    expect(page.locator("body.live")).to_be_attached()  # the event stream is open
    page.evaluate("window.__noReload = true")

    attempt_id = request_transfer(sqlite_runtime, world)

    pop = page.locator(f"#screen-pop [data-attempt='{attempt_id}']")
    expect(pop.locator(".pop-name")).to_have_text("Maria da Silva")
    expect(pop).to_contain_text("***.982.***-**")
    expect(page.locator(f"#queue tr[data-attempt='{attempt_id}']")).to_contain_text(
        "Maria da Silva"
    )
    assert page.evaluate("window.__noReload") is True  # shown over SSE, not by reloading
    screenshot(page, "agent-screen-pop", full_page=False)

    page.keyboard.press("t")  # the take-call shortcut
    expect(page.locator("#on-call")).to_be_visible()
    assert (
        sqlite_runtime.extras["carrier"]
        .redirects[0][1]
        .endswith(f"attempt={attempt_id}&user={world.agent_id}")
    )

    # The timeline shows the IVR: identity confirmed with 1, agent asked for with 3.
    timeline = page.locator("#timeline-list")
    expect(timeline).to_contain_text("Tecla pressionada")
    expect(timeline.locator(".kind-ivr-key").filter(has_text="menu")).to_have_count(2)
    expect(
        timeline.locator(".kind-ivr-key").filter(has_text=re.compile(r"tecla\s*3"))
    ).to_have_count(1)
    expect(timeline).to_contain_text("Pediu um agente")
    expect(timeline).to_contain_text("Agente atendeu")
    expect(page.locator("#rpc-result")).to_contain_text("Identidade confirmada")

    # The live transcript suggests the objection card.
    with sqlite_runtime.db.session() as session:
        session.add(
            ContactEvent(
                debtor_id=world.debtor_id,
                attempt_id=attempt_id,
                kind="transcript.final",
                channel="voice",
                actor="asr",
                occurred_at=sqlite_runtime.clock.now(),
                data={"text": "Eu já paguei essa conta no mês passado, tenho o comprovante."},
            )
        )
    expect(page.locator("#transcript-lines")).to_contain_text("tenho o comprovante")
    expect(page.locator("#objection-already_paid")).to_have_class("objection suggested")
    page.keyboard.press("1")
    expect(page.locator("#objection-already_paid .script")).to_be_visible()

    # Personal data stays masked until the agent asks.
    expect(page.locator("#document-value")).to_have_text("***.982.***-**")
    page.click("button[data-target='document-value']")
    expect(page.locator("#document-value")).to_have_text("52998224725")
    screenshot(page, "agent-debtor-page")


def test_a_second_agent_sees_the_call_taken(
    browser: Browser, page: Page, server: str, sqlite_runtime, world: World
) -> None:
    sign_in(page, server, "ana", PASSWORD)
    other_context = browser.new_context(locale="en-US")
    other = other_context.new_page()
    try:
        sign_in(other, server, "bruno", PASSWORD)
        expect(page.locator("body.live")).to_be_attached()
        expect(other.locator("body.live")).to_be_attached()
        attempt_id = request_transfer(sqlite_runtime, world)
        expect(other.locator(f"#screen-pop [data-attempt='{attempt_id}'] .pop-name")).to_have_text(
            "Maria da Silva"
        )
        expect(page.locator(f"#screen-pop [data-attempt='{attempt_id}'] .pop-name")).to_have_text(
            "Maria da Silva"
        )
        page.locator(f"#screen-pop [data-attempt='{attempt_id}'] [data-take]").click()
        expect(page.locator("#on-call")).to_be_visible()
        expect(other.locator(f"#screen-pop [data-attempt='{attempt_id}'] .pop-taken")).to_have_text(
            "Taken by Ana Souza"
        )
        expect(other.locator(f"#queue tr[data-attempt='{attempt_id}']")).to_have_count(0)
    finally:
        other_context.close()


def test_promise_to_pay_with_installments(page: Page, server: str, world: World) -> None:
    sign_in(page, server, "ana", PASSWORD)
    page.goto(f"{server}/console/debtors/{world.debtor_id}")
    page.fill("#promise-down", "260,50")
    page.fill("#promise-installments", "4")
    page.fill("#promise-first", "2026-12-01")
    page.click("#simulate-button")
    plan = page.locator("#plan-table")
    expect(plan).to_be_visible()
    expect(plan.locator("tbody tr")).to_have_count(5)  # the down payment and four installments
    expect(plan.locator("tbody tr.down")).to_contain_text("R$ 260,50")
    expect(page.locator("#plan-total")).to_contain_text("R$")
    page.locator("#promise-form").scroll_into_view_if_needed()
    screenshot(page, "agent-promise-simulator", full_page=False)
    page.fill("#promise-late-fee", "3")
    page.click("#simulate-button")
    expect(page.locator("#promise-form .form-errors")).to_contain_text(
        "limite legal de 2 % da parcela (BR-CDC-52)"
    )
    expect(page.locator("#promise-installments")).to_have_value("4")  # nothing typed is lost
    page.fill("#promise-late-fee", "2")
    page.click("#simulate-button")
    page.click("#record-promise")
    expect(page.locator(".flash-success")).to_contain_text("Promessa registrada: 4 pagamento(s)")
    expect(page.locator("#promises")).to_contain_text("4 ×")
    expect(page.locator("#debts")).to_contain_text("em acordo")


def test_a_callback_outside_the_window_is_refused_with_its_reason(
    page: Page, server: str, world: World
) -> None:
    sign_in(page, server, "ana", PASSWORD)
    page.goto(f"{server}/console/debtors/{world.debtor_id}")
    page.fill("#callback-due", "2026-11-25T21:30")
    page.locator("#callback-form button[type=submit]").click()
    errors = page.locator("#callback-form .form-errors")
    expect(errors).to_contain_text("O retorno não pode ser agendado nesse horário")
    expect(errors).to_contain_text("Fora do horário legal de São Paulo")
    expect(page.locator("#callback-due")).to_have_value("2026-11-25T21:30")
    page.locator("#callback-form").scroll_into_view_if_needed()
    screenshot(page, "agent-callback-refused", full_page=False)
    page.fill("#callback-due", "2026-11-25T10:15")
    page.locator("#callback-form button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("Retorno agendado para 25/11/2026 10:15")


def test_a_supervisor_edits_a_calling_window(
    page: Page, server: str, world: World, sqlite_runtime
) -> None:
    def why_rules() -> set[str]:
        """`cordial why` for Maria (São Paulo) on Monday at 12:15 local time."""
        result = CliRunner().invoke(
            cli_main, ["why", "D-1001", "--at", "2026-11-30T12:15-03:00", "--json"],
            env={"DATABASE_URL": sqlite_runtime.config.database_url,
                 "CORDIAL_INSTANCE_PATH": str(sqlite_runtime.config.instance_path)},
        )
        assert result.exit_code == 0, result.output
        return {reason["rule"] for reason in json.loads(result.output)["reasons"]}

    assert "CAMPAIGN-WINDOW" not in why_rules()  # Monday 09:00-12:30 is open
    sign_in(page, server, "sofia", PASSWORD)
    page.goto(f"{server}/console/supervisor/campaigns/{world.campaign_id}")
    expect(page.locator("#window-mon")).to_have_value("09:00-12:30, 13:30-18:00")
    page.locator("#presets tr", has_text="BR-RJ-HOURS").locator("[data-apply-preset]").click()
    expect(page.locator("#window-mon")).to_have_value("09:00-19:00")
    expect(page.locator("#window-sat")).to_have_value("")
    page.fill("#window-mon", "09:00-12:00, 14:00-18:00")
    page.click("#save-windows")
    expect(page.locator(".flash-success")).to_contain_text("Janelas de ligação salvas")
    expect(page.locator("#window-mon")).to_have_value("09:00-12:00, 14:00-18:00")
    assert "CAMPAIGN-WINDOW" in why_rules()  # the supervisor's edit closed 12:15
    expect(page.locator("#window-tue")).to_have_value("09:00-19:00")
    page.fill("#window-wed", "8h-18h")
    page.click("#save-windows")
    expect(page.locator("#windows .form-errors")).to_contain_text(
        "Quarta-feira: “8h-18h” não é uma janela"
    )
    screenshot(page, "supervisor-campaign-windows")

    seed_floor(sqlite_runtime, world)
    request_transfer(sqlite_runtime, world)
    page.goto(f"{server}/console/supervisor/wallboard")
    expect(page.locator("#wallboard-live")).to_be_visible()
    expect(page.locator("#tile-waiting .tile-value")).to_have_text("1")
    screenshot(page, "supervisor-wallboard")
    page.goto(f"{server}/console/supervisor/why?external_id=D-1002")
    expect(page.locator("#why-verdict")).to_be_visible()
    screenshot(page, "supervisor-why-not-called")


def test_an_agent_gets_403_on_a_supervisor_page(page: Page, server: str, world: World) -> None:
    sign_in(page, server, "ana", PASSWORD)
    response = page.goto(f"{server}/console/supervisor/campaigns")
    assert response is not None and response.status == 403
    expect(page.locator("#error-message")).to_have_text("Esta página é só para supervisores.")
    expect(page.locator("nav")).not_to_contain_text("Campanhas")
