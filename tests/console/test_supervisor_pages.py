"""Supervisor pages: campaigns, windows, holidays, why-not-called, wallboard, exports."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta

from sqlalchemy import select

from ivr.models import Attempt, Campaign, ContactEvent, Debtor, Holiday

from .conftest import post, text_of
from .factories import World, request_transfer

CAMPAIGN_FORM = {
    "caller_id": "+551130000000",
    "calls_per_second": "2",
    "max_concurrent": "20",
    "max_per_day": "1",
    "max_per_week": "3",
    "min_minutes_between_attempts": "240",
    "retry_no_answer_minutes": "240",
    "retry_busy_minutes": "60",
    "retry_machine_minutes": "1440",
    "second_factor": "birth_year",
    "transfer_timeout_seconds": "90",
}


def test_create_a_campaign_then_start_needs_windows(
    supervisor, sqlite_runtime, world: World
) -> None:
    created = post(
        supervisor, "/console/supervisor/campaigns", {"name": "Veículos Dezembro", **CAMPAIGN_FORM}
    )
    assert created.status_code == 302
    page = supervisor.get(created.headers["Location"])
    assert "Campanha Veículos Dezembro criada" in text_of(page)
    with sqlite_runtime.db.session() as session:
        campaign = session.scalars(
            select(Campaign).where(Campaign.name == "Veículos Dezembro")
        ).one()
        assert (campaign.caller_id, campaign.second_factor, campaign.max_per_day) == (
            "+551130000000",
            "birth_year",
            1,
        )
    refused = post(
        supervisor, f"/console/supervisor/campaigns/{campaign.id}/start", follow_redirects=True
    )
    assert "Cadastre pelo menos uma janela" in text_of(refused)


def test_campaign_form_errors_name_every_field_and_keep_the_values(
    supervisor, sqlite_runtime, world
) -> None:
    bad = {
        **CAMPAIGN_FORM,
        "name": "",
        "caller_id": "11 3000-0000",
        "calls_per_second": "rápido",
        "max_concurrent": "0",
    }
    response = post(supervisor, "/console/supervisor/campaigns", bad)
    assert response.status_code == 400
    text = text_of(response)
    assert "Nome: obrigatório." in text
    assert (
        "Número de origem (bina): “11 3000-0000” não é um telefone no formato internacional" in text
    )
    assert "Ligações por segundo: informe um número de 0.05 a 50" in text
    assert "Ligações simultâneas: informe um número inteiro de 1 a 1000" in text
    assert 'value="11 3000-0000"' in response.get_data(as_text=True)
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Campaign.name)).all() == ["Cartões Novembro"]


def test_duplicate_campaign_name_is_refused(supervisor, world: World) -> None:
    response = post(
        supervisor, "/console/supervisor/campaigns", {"name": "Cartões Novembro", **CAMPAIGN_FORM}
    )
    assert response.status_code == 400 and "“Cartões Novembro” já está em uso" in text_of(response)


def test_edit_caller_id_pacing_caps_and_second_factor(
    supervisor, sqlite_runtime, world: World
) -> None:
    url = f"/console/supervisor/campaigns/{world.campaign_id}"
    response = post(
        supervisor, url, {**CAMPAIGN_FORM, "caller_id": "+551149999999", "max_per_day": ""}
    )
    assert response.status_code == 302
    with sqlite_runtime.db.session() as session:
        campaign = session.get(Campaign, world.campaign_id)
        assert campaign.caller_id == "+551149999999" and campaign.max_per_day is None
        assert campaign.calls_per_second == 2.0 and campaign.transfer_timeout_seconds == 90


def test_pause_and_start(supervisor, sqlite_runtime, world: World) -> None:
    url = f"/console/supervisor/campaigns/{world.campaign_id}"
    assert "Campanha pausada" in text_of(post(supervisor, f"{url}/pause", follow_redirects=True))
    with sqlite_runtime.db.session() as session:
        assert session.get(Campaign, world.campaign_id).status == "paused"
    assert "Campanha iniciada" in text_of(post(supervisor, f"{url}/start", follow_redirects=True))
    with sqlite_runtime.db.session() as session:
        assert session.get(Campaign, world.campaign_id).status == "running"


def test_windows_editor_shows_presets_and_saves_several_ranges_a_day(
    supervisor, sqlite_runtime, world
) -> None:
    url = f"/console/supervisor/campaigns/{world.campaign_id}"
    page = supervisor.get(url)
    text = text_of(page)
    assert "BR-SP-HOURS" in text and "BR-RJ-HOURS" in text and "US-REGF-HOURS" in text
    assert "09:00-12:30, 13:30-18:00" in page.get_data(as_text=True)
    form = {f"window_{day}": "" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    form.update(window_mon="08:00-10:00, 14:00-19:00", window_sat="09:00-13:00")
    saved = post(supervisor, f"{url}/windows", form)
    assert saved.status_code == 302
    with sqlite_runtime.db.session() as session:
        windows = [
            (w.weekday, w.start, w.end) for w in session.get(Campaign, world.campaign_id).windows
        ]
    assert windows == [(0, time(8), time(10)), (0, time(14), time(19)), (5, time(9), time(13))]


def test_bad_windows_are_refused_naming_the_day_and_nothing_changes(
    supervisor, sqlite_runtime, world
) -> None:
    url = f"/console/supervisor/campaigns/{world.campaign_id}"
    form = {
        "window_mon": "08:00-12:00, 11:00-13:00",
        "window_tue": "9h às 18h",
        "window_wed": "18:00-08:00",
        "window_thu": "08:00:30-08:00:45",  # seconds: an empty window the dialer could not use
    }
    response = post(supervisor, f"{url}/windows", form)
    assert response.status_code == 400
    text = text_of(response)
    assert "Segunda-feira: “11:00-13:00” não é uma janela" in text
    assert "Terça-feira: “9h às 18h” não é uma janela" in text
    assert "Quarta-feira: “18:00-08:00” não é uma janela" in text
    assert "Quinta-feira: “08:00:30-08:00:45” não é uma janela" in text
    assert 'value="9h às 18h"' in response.get_data(as_text=True)
    with sqlite_runtime.db.session() as session:
        assert len(session.get(Campaign, world.campaign_id).windows) == 10


def test_city_holidays_add_refuse_duplicates_and_remove(
    supervisor, sqlite_runtime, world: World
) -> None:
    form = {
        "country": "BR",
        "state": "sp",
        "city": "Campinas",
        "day": "2026-12-08",
        "name": "Nossa Senhora da Conceição",
    }
    assert post(supervisor, "/console/supervisor/holidays", form).status_code == 302
    duplicate = post(supervisor, "/console/supervisor/holidays", form)
    assert duplicate.status_code == 400 and "já existe um feriado em 2026-12-08" in text_of(
        duplicate
    )
    bad = post(
        supervisor, "/console/supervisor/holidays", {**form, "day": "08/12", "state": "São Paulo"}
    )
    assert "UF: “São Paulo” não é uma UF" in text_of(
        bad
    ) and "Data: “08/12” não é uma data" in text_of(bad)
    with sqlite_runtime.db.session() as session:
        holiday = session.scalars(select(Holiday)).one()
        assert (holiday.state, holiday.city, holiday.day) == ("SP", "Campinas", date(2026, 12, 8))
    post(supervisor, f"/console/supervisor/holidays/{holiday.id}/delete")
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Holiday)).all() == []


def test_why_not_called_explains_with_rules_and_next_time(
    supervisor, sqlite_runtime, world: World
) -> None:
    allowed = text_of(supervisor.get("/console/supervisor/why?external_id=D-1001"))
    assert "Uma ligação é permitida agora." in allowed
    with sqlite_runtime.db.session() as session:
        session.get(Debtor, world.debtor_id).voice_opt_out_at = sqlite_runtime.clock.now()
    blocked = text_of(supervisor.get("/console/supervisor/why?external_id=D-1001"))
    assert "Uma ligação não é permitida agora." in blocked and "OPT-OUT" in blocked
    unknown = supervisor.get("/console/supervisor/why?external_id=NOPE")
    assert unknown.status_code == 404 and "Nenhum devedor com id externo “NOPE”" in text_of(unknown)


def test_wallboard_counts_the_floor(supervisor, sqlite_runtime, world: World) -> None:
    request_transfer(sqlite_runtime, world)
    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        for seconds in (3, 40, 5):
            session.add(
                Attempt(
                    debtor_id=world.other_debtor_id,
                    phone_id=world.other_phone_id,
                    campaign_id=world.campaign_id,
                    state="completed",
                    active=False,
                    idempotency_key=f"k{seconds}",
                    created_at=now - timedelta(hours=1),
                    placed_at=now - timedelta(hours=1),
                    duration_seconds=seconds,
                )
            )
    html = supervisor.get("/console/supervisor/wallboard").get_data(as_text=True)
    assert 'id="chart-hourly"' in html and 'id="chart-short"' in html
    text = text_of(supervisor.get("/console/supervisor/wallboard"))
    assert (
        "1 Ligações em curso" in text
        and "1 Aguardando agente" in text
        and "4 Ligações feitas" in text
    )
    assert "+551140000000" in text and "66,7 %" in text  # 2 of 3 ended calls lasted 6 s or less


def test_contact_events_export_is_streamed_csv_without_formula_injection(
    supervisor, sqlite_runtime, world
) -> None:
    post(supervisor, f"/console/debtors/{world.debtor_id}/note", {"text": '=HYPERLINK("http://x")'})
    response = supervisor.get("/console/supervisor/exports/contact-events.csv?since=2026-11-01")
    assert response.is_streamed and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows and rows[-1]["kind"] == "note" and rows[-1]["debtor_external_id"] == "D-1001"
    assert rows[-1]["actor"] == "supervisor:sofia"
    empty = supervisor.get("/console/supervisor/exports/contact-events.csv?until=2026-01-01")
    assert empty.get_data(as_text=True).strip() == ",".join(
        (
            "id",
            "occurred_at",
            "debtor_external_id",
            "kind",
            "channel",
            "actor",
            "attempt_id",
            "phone_id",
            "debt_external_id",
            "data",
        )
    )
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(ContactEvent).where(ContactEvent.kind == "note")).one()


def test_formula_cells_are_neutralised() -> None:
    from agent_console.exports import _safe

    assert _safe("=1+1") == "'=1+1" and _safe("-2") == "'-2" and _safe("ok") == "ok"


def test_promises_export(supervisor, world: World) -> None:
    post(
        supervisor,
        f"/console/debtors/{world.debtor_id}/promise",
        {
            "debt_id": world.debt_id,
            "down_payment": "0",
            "installments": "2",
            "first_payment": "2026-12-01",
            "step": "record",
        },
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                supervisor.get("/console/supervisor/exports/promises.csv").get_data(as_text=True)
            )
        )
    )
    assert len(rows) == 1 and rows[0]["installments"] == "2" and rows[0]["agent"] == "sofia"
    assert rows[0]["late_fee_rate"] == "0.02" and rows[0]["monthly_interest_rate"] == "0.01"


def test_bad_export_dates_name_the_field(supervisor) -> None:
    response = supervisor.get("/console/supervisor/exports/promises.csv?since=ontem")
    assert response.status_code == 400 and "De: “ontem” não é uma data" in text_of(response)
    backwards = supervisor.get(
        "/console/supervisor/exports/contact-events.csv?since=2026-11-30&until=2026-11-01"
    )
    assert backwards.status_code == 400
    assert "Até: “2026-11-01” é antes da data inicial (2026-11-30)" in text_of(backwards)


def test_an_export_includes_its_last_day(supervisor, sqlite_runtime, world) -> None:
    day = sqlite_runtime.clock.now().date().isoformat()
    post(supervisor, f"/console/debtors/{world.debtor_id}/note", {"text": "today's note"})

    def notes(query: str) -> list[str]:
        response = supervisor.get(f"/console/supervisor/exports/contact-events.csv?{query}")
        rows = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
        return [row["kind"] for row in rows if row["kind"] == "note"]

    assert notes(f"since={day}&until={day}") == ["note"]
    yesterday = (sqlite_runtime.clock.now().date() - timedelta(days=1)).isoformat()
    assert notes(f"until={yesterday}") == []
