"""The debtor page and its forms through the Flask test client: what an agent sees,
what each form records, and what a mistake looks like."""

from __future__ import annotations

from sqlalchemy import select

from ivr.models import Callback, ContactEvent, Debt, Debtor, PromiseToPay

from .conftest import csrf_of, post, text_of
from .factories import World, record_ivr_call


def page_of(agent, world: World) -> str:
    return text_of(agent.get(f"/console/debtors/{world.debtor_id}"))


def test_debtor_page_shows_profile_debts_and_masked_personal_data(agent, world: World) -> None:
    response = agent.get(f"/console/debtors/{world.debtor_id}")
    html, text = response.get_data(as_text=True), text_of(response)
    assert "Maria da Silva" in text and "D-1001" in text
    assert "***.982.***-**" in text and "52998224725" not in html
    assert "+55 •••••••4321" in text and "+5511987654321" not in html
    for part in (
        "Principal R$ 1.200,00",
        "Juros R$ 36,50",
        "Multa R$ 24,00",
        "Total R$ 1.260,50",
        "Vencimento 10/08/2026",
        "Banco Exemplo S.A.",
        "11222333000181",
        "em aberto",
    ):
        assert part in text, part
    assert "24/11/2026 12:00 America/Sao_Paulo" in text  # the debtor's local time


def test_reveal_returns_the_value_and_logs_who_saw_it(agent, sqlite_runtime, world: World) -> None:
    response = post(
        agent,
        f"/console/debtors/{world.debtor_id}/reveal",
        {"field": "phone", "phone_id": world.phone_id},
    )
    assert response.get_json() == {"value": "+5511987654321"}
    refused = post(
        agent,
        f"/console/debtors/{world.debtor_id}/reveal",
        {"field": "phone", "phone_id": world.other_phone_id},
    )
    assert refused.status_code == 400 and "não é do devedor" in refused.get_json()["error"]
    with sqlite_runtime.db.session() as session:
        revealed = session.scalars(
            select(ContactEvent).where(ContactEvent.kind == "pii.revealed")
        ).all()
    assert [(e.actor, e.data["field"]) for e in revealed] == [("agent:ana", "phone")]


def test_timeline_shows_every_attempt_and_key_pressed(agent, sqlite_runtime, world: World) -> None:
    with sqlite_runtime.db.session() as session:
        record_ivr_call(
            session,
            debtor_id=world.debtor_id,
            phone_id=world.phone_id,
            debt_id=world.debt_id,
            campaign_id=world.campaign_id,
            now=sqlite_runtime.clock.now(),
            call_sid="CA" + "7" * 32,
            keys=("1", "2"),
        )
    text = page_of(agent, world)
    assert "Ligação feita" in text and "Tecla pressionada" in text
    assert "etapa right_party tecla 1" in text and "etapa menu tecla 2" in text
    assert "Identidade confirmada pelo devedor" in text  # the right-party check result
    assert "Saldo informado" in text


def test_note_and_disposition_forms(agent, sqlite_runtime, world: World) -> None:
    response = post(
        agent, f"/console/debtors/{world.debtor_id}/note", {"text": "Vai ligar de volta."}
    )
    assert response.status_code == 302
    post(agent, f"/console/debtors/{world.debtor_id}/disposition", {"code": "no_money_now"})
    text = text_of(agent.get(response.headers["Location"]))
    assert "Anotação · agent:ana texto Vai ligar de volta." in text
    assert "Tabulação · agent:ana código Sem dinheiro agora" in text


def test_an_empty_note_names_the_field_and_keeps_the_page(agent, world: World) -> None:
    response = post(agent, f"/console/debtors/{world.debtor_id}/note", {"text": "  "})
    assert response.status_code == 400
    assert "Anotação: obrigatório." in text_of(response)


def test_promise_simulation_then_record(agent, sqlite_runtime, world: World) -> None:
    form = {
        "debt_id": world.debt_id,
        "down_payment": "260,50",
        "installments": "4",
        "first_payment": "2026-12-01",
        "late_fee_percent": "2",
    }
    simulated = post(
        agent, f"/console/debtors/{world.debtor_id}/promise", {**form, "step": "simulate"}
    )
    assert simulated.status_code == 200
    text = text_of(simulated)
    assert "Plano de pagamento" in text and "Entrada 01/12/2026 R$ 260,50" in text
    assert "4 01/04/2027" in text  # the fourth installment, a month apart
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(PromiseToPay)).all() == []  # simulating stores nothing
    recorded = post(
        agent, f"/console/debtors/{world.debtor_id}/promise", {**form, "step": "record"}
    )
    assert recorded.status_code == 302
    text = text_of(agent.get(recorded.headers["Location"]))
    assert "Promessa registrada: 4 pagamento(s)" in text and "em acordo" in text
    with sqlite_runtime.db.session() as session:
        promise = session.scalars(select(PromiseToPay)).one()
        assert promise.down_payment == 260.50 and promise.user_id == world.agent_id
        assert session.get(Debt, world.debt_id).status == "agreement"


def test_a_late_fee_above_the_cap_is_refused_naming_the_cap(agent, world: World) -> None:
    form = {
        "debt_id": world.debt_id,
        "down_payment": "0",
        "installments": "3",
        "first_payment": "2026-12-01",
        "late_fee_percent": "5",
        "step": "simulate",
    }
    response = post(agent, f"/console/debtors/{world.debtor_id}/promise", form)
    assert response.status_code == 400
    text = text_of(response)
    assert "Multa: 5 % está acima do limite legal de 2 % da parcela (BR-CDC-52)" in text
    html = response.get_data(as_text=True)
    assert 'value="5"' in html and 'value="3"' in html  # nothing typed is lost


def test_bad_promise_inputs_name_the_field(agent, world: World) -> None:
    base = {
        "debt_id": world.debt_id,
        "down_payment": "0",
        "installments": "3",
        "first_payment": "2026-12-01",
        "step": "simulate",
    }
    cases = [
        ({"down_payment": "cem reais"}, "Entrada: “cem reais” não é um valor"),
        ({"installments": "abc"}, "Parcelas: informe um número inteiro de 1 a 24"),
        ({"installments": "48"}, "Parcelas: informe um número inteiro de 1 a 24"),
        ({"first_payment": "amanhã"}, "Data do primeiro pagamento: “amanhã” não é uma data"),
        (
            {"first_payment": "2027-06-01"},
            "Data do primeiro pagamento: informe uma data de 24/11/2026 a 24/12/2026",
        ),
        ({"down_payment": "5000"}, "Entrada: deve ser menor que o saldo"),
        # A boleto line pasted into the wrong field, a rate that is no number, a huge count.
        (
            {"down_payment": "23793.38128 60000.000003 00000.000400 1 84340000010000"},
            "Entrada: “23793.38128 60000.000003 00000.000400 1 84340000010000” não é um valor",
        ),
        ({"late_fee_percent": "nan"}, "Multa: informe um número de 0 a 100 (veio “nan”)"),
        ({"late_fee_percent": "inf"}, "Multa: informe um número de 0 a 100 (veio “inf”)"),
        ({"installments": "9" * 5000}, "Parcelas: informe um número inteiro de 1 a 24"),
    ]
    for change, message in cases:
        response = post(agent, f"/console/debtors/{world.debtor_id}/promise", {**base, **change})
        assert response.status_code == 400, change
        assert message in text_of(response), (change, text_of(response)[:400])


def test_callback_outside_the_window_is_refused_with_its_reason(
    agent, sqlite_runtime, world: World
) -> None:
    response = post(
        agent,
        f"/console/debtors/{world.debtor_id}/callback",
        {"phone_id": world.phone_id, "due_at": "2026-11-25T21:30"},
    )
    assert response.status_code == 400
    text = text_of(response)
    assert "O retorno não pode ser agendado nesse horário" in text
    assert "Fora do horário legal de São Paulo" in text
    assert 'value="2026-11-25T21:30"' in response.get_data(as_text=True)
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Callback)).all() == []


def test_callback_inside_the_window_is_booked_in_the_debtors_time(
    agent, sqlite_runtime, world: World
) -> None:
    response = post(
        agent,
        f"/console/debtors/{world.debtor_id}/callback",
        {"phone_id": world.phone_id, "due_at": "2026-11-25T10:15"},
    )
    assert response.status_code == 302
    assert "Retorno agendado para 25/11/2026 10:15 (America/Sao_Paulo)" in text_of(
        agent.get(response.headers["Location"])
    )
    with sqlite_runtime.db.session() as session:
        callback = session.scalars(select(Callback)).one()
        assert callback.due_at.isoformat() == "2026-11-25T13:15:00+00:00"
        assert callback.user_id == world.agent_id


def test_callback_form_errors_name_the_field(agent, world: World) -> None:
    response = post(
        agent,
        f"/console/debtors/{world.debtor_id}/callback",
        {"phone_id": world.phone_id, "due_at": ""},
    )
    assert "Data e hora: obrigatório." in text_of(response)


def test_second_copy_opt_out_wrong_number_and_dispute(agent, sqlite_runtime, world: World) -> None:
    base = f"/console/debtors/{world.debtor_id}"
    sent = post(agent, f"{base}/second-copy", {"debt_id": world.debt_id}, follow_redirects=True)
    assert "Segunda via enviada." in text_of(sent)
    post(
        agent,
        f"{base}/debt-status",
        {"debt_id": world.debt_id, "status": "disputed", "reason": "não reconhece"},
    )
    post(agent, f"{base}/wrong-number", {"phone_id": world.phone_id})
    opted = post(
        agent, f"{base}/opt-out", {"channels": ["voice", "whatsapp"]}, follow_redirects=True
    )
    text = text_of(opted)
    assert "Opt-out registrado." in text and "contestada" in text and "número errado" in text
    with sqlite_runtime.db.session() as session:
        debtor = session.get(Debtor, world.debtor_id)
        assert debtor.voice_opt_out_at and debtor.whatsapp_opt_out_at and not debtor.sms_opt_out_at
        kinds = session.scalars(
            select(ContactEvent.kind).where(ContactEvent.actor == "agent:ana")
        ).all()
    assert {"sms.sent", "debt.disputed", "phone.wrong_number", "opt_out"} <= set(kinds)


def test_second_copy_refusal_is_shown(agent, sqlite_runtime, world: World) -> None:
    post(
        agent,
        f"/console/debtors/{world.debtor_id}/debt-status",
        {"debt_id": world.debt_id, "status": "paid"},
    )
    refused = post(
        agent,
        f"/console/debtors/{world.debtor_id}/second-copy",
        {"debt_id": world.debt_id},
        follow_redirects=True,
    )
    assert "A segunda via não foi enviada: a dívida não está em aberto." in text_of(refused)


def test_a_second_copy_the_carrier_did_not_confirm_is_not_called_refused(
    agent, carrier, world: World
) -> None:
    carrier.unconfirmed_messages = True
    shown = post(
        agent,
        f"/console/debtors/{world.debtor_id}/second-copy",
        {"debt_id": world.debt_id},
        follow_redirects=True,
    )
    page = text_of(shown)
    assert "A operadora não confirmou a segunda via: ela ainda pode chegar." in page
    assert "não foi enviada" not in page
    assert "SMS não confirmado" in text_of(agent.get(f"/console/debtors/{world.debtor_id}"))


def test_the_second_copy_button_names_the_channel_it_will_go_by(
    agent, sqlite_runtime, world: World
) -> None:
    """A debtor who prefers WhatsApp: WhatsApp where it is set up (the emulator has its
    own), SMS on Twilio without a WhatsApp template."""
    from ivr.config import load_config

    with sqlite_runtime.db.session() as s:
        s.get_one(Debtor, world.debtor_id).preferred_channel = "whatsapp"
    assert "Enviar por WHATSAPP" in text_of(agent.get(f"/console/debtors/{world.debtor_id}"))
    config = sqlite_runtime.config
    sqlite_runtime.config = load_config(
        {
            "DATABASE_URL": config.database_url,
            "CORDIAL_INSTANCE_PATH": str(config.instance_path),
            "CORDIAL_CARRIER": "twilio",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "test-token",
        },
        env_file=None,
    )
    try:
        page = text_of(agent.get(f"/console/debtors/{world.debtor_id}"))
    finally:
        sqlite_runtime.config = config
    assert "Enviar por SMS" in page and "Enviar por WHATSAPP" not in page


def test_actions_on_a_taken_call_are_attached_to_it(agent, sqlite_runtime, world: World) -> None:
    from .factories import request_transfer

    attempt_id = request_transfer(sqlite_runtime, world)
    post(agent, f"/console/calls/{attempt_id}/take")
    post(
        agent,
        f"/console/debtors/{world.debtor_id}/note",
        {"text": "em chamada", "attempt_id": attempt_id},
    )
    post(agent, f"/console/debtors/{world.debtor_id}/note", {"text": "forjado", "attempt_id": 999})
    with sqlite_runtime.db.session() as session:
        notes = {
            e.data["text"]: e.attempt_id
            for e in session.scalars(select(ContactEvent).where(ContactEvent.kind == "note"))
        }
    assert notes == {"em chamada": attempt_id, "forjado": None}


def test_debtor_search_and_unknown_debtor(agent, world: World) -> None:
    assert "Maria da Silva" in text_of(agent.get("/console/debtors?q=D-1001"))
    assert "Maria da Silva" in text_of(agent.get("/console/debtors?q=maria"))
    assert "Nenhum devedor encontrado" in text_of(agent.get("/console/debtors?q=nobody"))
    assert agent.get("/console/debtors/999").status_code == 404


def test_playbook_page_is_searchable(agent) -> None:
    text = text_of(agent.get("/console/playbook?q=procon"))
    assert "Quer contestar" in text and "Já paguei" not in text


def test_debtor_page_has_playbook_cards_on_keys_one_to_nine(agent, world: World) -> None:
    html = agent.get(f"/console/debtors/{world.debtor_id}").get_data(as_text=True)
    for hotkey in range(1, 10):
        assert f'data-hotkey="{hotkey}"' in html
    # Placeholders are filled from the debtor's own data.
    assert (
        "O registro que temos é de Banco Exemplo S.A., contrato com vencimento em 10/08/2026."
        in html
    )


def test_csrf_token_rotates_at_login(console, world: World) -> None:
    from .conftest import sign_in

    client = console.test_client()
    client.get("/console/login")
    before = csrf_of(client)
    sign_in(client, "ana")
    assert csrf_of(client) and csrf_of(client) != before


def _transcript_lines(agent, world: World) -> list[str]:
    import re

    html = agent.get(f"/console/debtors/{world.debtor_id}").get_data(as_text=True)
    block = re.search(r'<ol class="transcript-lines" id="transcript-lines"[^>]*>(.*?)</ol>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1))


def test_a_page_opened_mid_call_shows_what_the_debtor_said_so_far(agent, sqlite_runtime, world: World) -> None:
    from ivr.models import Attempt

    now = sqlite_runtime.clock.now()
    with sqlite_runtime.db.session() as session:
        live = Attempt(debtor_id=world.debtor_id, phone_id=world.phone_id, debt_id=world.debt_id,
                       campaign_id=world.campaign_id, state="in-progress", idempotency_key="live-1",
                       created_at=now)
        session.add(live)
        session.flush()
        for kind, text in (("transcript.final", "eu já paguei essa conta"), ("transcript.partial", "e o"),
                           ("transcript.final", "semana passada")):
            session.add(ContactEvent(debtor_id=world.debtor_id, attempt_id=live.id, kind=kind,
                                     occurred_at=now, data={"text": text}))
    assert _transcript_lines(agent, world) == ["eu já paguei essa conta", "semana passada"]
    with sqlite_runtime.db.session() as session:  # once the call ends, the next call starts empty
        session.get(Attempt, live.id).active = False
    assert _transcript_lines(agent, world) == []
