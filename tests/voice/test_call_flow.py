"""The robocall, through its webhooks, for a debtor in São Paulo (recording notice and
itemised amount), in Minas Gerais (neither) and in New York (English, FDCPA notice)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from ivr.models import Attempt, BlockListEntry, Callback, ContactEvent, Debtor, Phone, SmsMessage
from ivr.voice.flow import CALLBACK_MIN_LEAD, SECOND_COPY_SEND_SECONDS

from .carrier_helpers import Call, said, verbs

ALL = ["sp", "mg", "us"]

AMOUNT_WORDS = {
    "sp": "cento e quatorze reais e cinquenta centavos",
    "mg": "cento e quatorze reais e cinquenta centavos",
    "us": "one hundred fourteen dollars and fifty cents",
}
DEBT_WORDS = (
    "dívida",
    "divida",
    "débito",
    "debt",
    "cobran",
    "collect",
    "reais",
    "dollar",
    "cento",
    "hundred",
    "Banco Exemplo",
    "Example Bank",
    "vencimento",
    "balance",
    "credor",
    "creditor",
)


def events(runtime, attempt_id: int) -> list[ContactEvent]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(ContactEvent)
                .where(ContactEvent.attempt_id == attempt_id)
                .order_by(ContactEvent.id)
            )
        )


def kinds(runtime, attempt_id: int) -> list[str]:
    return [e.kind for e in events(runtime, attempt_id)]


def attempt_of(runtime, attempt_id: int) -> Attempt:
    with runtime.db.session() as session:
        return session.get(Attempt, attempt_id)


def assert_nothing_disclosed(text: str, seeded, *, company_named: bool = True) -> None:
    """No word about a debt. The greeting names the company as registered (TCPA: identify the
    business first), so its configured name is allowed unless `company_named` is False."""
    if company_named:
        text = text.replace("Cordial Cobranças", "Cordial")
    lowered = text.lower()
    for word in DEBT_WORDS:
        assert word.lower() not in lowered, f"{word!r} said before the right-party check: {text}"
    assert "114" not in text and "12,50" not in text


# -- answering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ALL)
@pytest.mark.parametrize(
    "answered_by", ["machine_end_beep", "machine_start", "machine_end_silence", "fax"]
)
def test_a_machine_gets_a_neutral_voicemail_that_says_nothing_about_a_debt(
    start_call, sqlite_runtime, profile, answered_by
):
    call, seeded = start_call(profile)
    twiml = call.answer(answered_by=answered_by)
    text = said(twiml)
    assert verbs(twiml) == ["Pause", "Say", "Hangup"]
    assert_nothing_disclosed(text, seeded, company_named=False)  # not even the word "cobranças"
    assert seeded.profile.name.split()[0] not in text  # not even whose debt it is
    assert "Cordial" in text and "1 1, 4 0 0 0, 0 0 0 0" in text  # a business name and a number
    assert ("Ana Souza" if profile != "us" else "Anna Miller") in text  # a person to ask for
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.answered_by == "machine" and attempt.ivr_step == "voicemail"
    assert attempt.outcome == "voicemail" and attempt.answered_at is not None
    assert kinds(sqlite_runtime, seeded.attempt_id) == ["ivr.answered", "voicemail.left"]


@pytest.mark.parametrize("profile", ALL)
@pytest.mark.parametrize("answered_by", ["human", "unknown", ""])
def test_a_person_hears_the_company_then_the_opt_out_key_then_the_right_party_question(
    start_call, sqlite_runtime, profile, answered_by
):
    call, seeded = start_call(profile)
    twiml = call.answer(answered_by=answered_by)
    assert verbs(twiml) == ["Gather", "Redirect"]
    gather = call.gather
    prompts = [el.text for el in gather.iter("Say")]
    assert sqlite_runtime.config.get("CORDIAL_COMPANY_NAME") in prompts[0]  # the company first
    first_name = seeded.profile.name.split()[0]
    assert any("9" in p for p in prompts[:3])  # the opt-out key at once
    assert first_name in prompts[-1] and "1" in prompts[-1] and "2" in prompts[-1]
    recorded_notice = any("gravada" in p or "recorded" in p for p in prompts)
    assert recorded_notice == (profile == "sp")  # BR-RECORD
    language = "en-US" if profile == "us" else "pt-BR"
    assert {el.get("language") for el in gather.iter("Say")} == {language}
    assert gather.get("numDigits") == "1" and int(gather.get("timeout")) >= 5
    assert_nothing_disclosed(said(twiml), seeded)
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.state == "in-progress" and attempt.ivr_step == "right_party"
    assert attempt.carrier_call_sid == call.call_sid
    assert not attempt.right_party_verified


@pytest.mark.parametrize("profile", ALL)
def test_the_debt_is_disclosed_only_after_the_right_party_presses_1(
    start_call, sqlite_runtime, profile
):
    call, seeded = start_call(profile)
    call.answer()
    twiml = call.press("1")
    text = said(twiml)
    assert AMOUNT_WORDS[profile] in text
    assert seeded.creditor_name in text
    assert ("dez de outubro" if profile != "us" else "October tenth") in text
    itemised = "doze reais e cinquenta centavos de juros" in text
    assert itemised == (profile == "sp")  # BR-RECORD: principal, interest and fee in SP / RJ
    if profile == "sp":
        assert "cem reais de valor principal" in text and "dois reais de multa" in text
    fdcpa = "This is an attempt to collect a debt" in text
    assert fdcpa == (profile == "us")
    if fdcpa:
        assert text.index("attempt to collect a debt") < text.index(AMOUNT_WORDS[profile])
    assert "tecle 1" in text or "press 1" in text  # the menu follows
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.right_party_verified and attempt.conversation and attempt.ivr_step == "menu"
    assert kinds(sqlite_runtime, seeded.attempt_id) == [
        "ivr.answered",
        "ivr.key",
        "ivr.right_party",
        "ivr.disclosed",
    ]


@pytest.mark.parametrize(
    ("profile", "factor", "right", "wrong", "digits"),
    [
        ("sp", "birth_year", "1985", "1958", "4"),
        ("us", "birth_year", "1985", "1986", "4"),
        ("mg", "cpf_digits", "111", "444", "3"),
        ("us", "cpf_digits", "123", "321", "3"),
    ],
)
def test_a_configured_second_factor_comes_before_any_disclosure(
    start_call, sqlite_runtime, profile, factor, right, wrong, digits
):
    call, seeded = start_call(profile, second_factor=factor)
    call.answer()
    asked = call.press("1")
    assert call.gather.get("numDigits") == digits
    assert_nothing_disclosed(said(asked), seeded)
    retry = call.press(wrong)
    assert_nothing_disclosed(said(retry), seeded)
    assert not attempt_of(sqlite_runtime, seeded.attempt_id).right_party_verified
    disclosed = call.press(right)
    assert AMOUNT_WORDS[profile] in said(disclosed)
    assert attempt_of(sqlite_runtime, seeded.attempt_id).right_party_verified
    keys = [
        e.data
        for e in events(sqlite_runtime, seeded.attempt_id)
        if e.data.get("step") == "second_factor"
    ]
    assert [k["digits"] for k in keys] == [
        "*" * len(wrong),
        "*" * len(right),
    ]  # never logged in clear


def test_three_wrong_second_factors_end_the_call_without_disclosure(start_call, sqlite_runtime):
    call, seeded = start_call("sp", second_factor="birth_year")
    call.answer()
    call.press("1")
    for _ in range(2):
        assert_nothing_disclosed(said(call.press("2000")), seeded)
    end = call.press("2001")
    assert call.hung_up
    assert_nothing_disclosed(said(end), seeded)
    assert "1 1, 4 0 0 0" in said(end)  # told where to call instead
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert not attempt.right_party_verified and attempt.outcome == "unverified"
    assert "ivr.unverified" in kinds(sqlite_runtime, seeded.attempt_id)


def test_a_second_factor_with_nothing_on_record_never_discloses(start_call, sqlite_runtime):
    call, seeded = start_call("mg", second_factor="birth_year")
    with sqlite_runtime.db.session() as session:
        session.get(Debtor, seeded.debtor_id).birth_date = None
    call.answer()
    end = call.press("1")
    assert call.hung_up
    assert_nothing_disclosed(said(end), seeded)


@pytest.mark.parametrize("profile", ALL)
def test_the_wrong_person_hears_an_apology_nothing_else_and_the_number_is_marked(
    start_call, sqlite_runtime, profile
):
    call, seeded = start_call(profile)
    call.answer()
    twiml = call.press("2")
    assert verbs(twiml) == ["Say", "Hangup"]
    assert_nothing_disclosed(said(twiml), seeded)
    with sqlite_runtime.db.session() as session:
        assert session.get(Phone, seeded.phone_id).wrong_number_at == sqlite_runtime.clock.now()
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.outcome == "wrong-number" and not attempt.right_party_verified
    assert kinds(sqlite_runtime, seeded.attempt_id)[-1] == "ivr.wrong_person"


# -- the menu ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ALL)
def test_menu_1_sends_the_second_copy_by_sms_through_the_carrier(
    start_call, sqlite_runtime, carrier, profile
):
    call, seeded = start_call(profile)
    call.answer()
    call.press("1")
    twiml = call.press("1")
    assert (
        "Enviamos a segunda via por SMS" if profile != "us" else "sent the copy of your bill by SMS"
    ) in said(twiml)
    assert call.gather is not None  # back to the menu
    [message] = carrier.messages
    assert message.to == seeded.profile.number and message.channel == "sms"
    body = message.body
    assert seeded.creditor_name in body
    if profile == "us":
        assert "$114.50" in body and "October 10, 2026" in body and "https://pay.example.com/" in body
        assert "Reply STOP" in body and "EIN" in body
    else:
        assert "R$ 114,50" in body and "10/10/2026" in body and "BR.GOV.BCB.PIX" in body
        assert "SAIR" in body and "CNPJ" in body
    assert message.idempotency_key and message.status_callback.endswith(f"?message={1}")
    # The caller waits on the line: the carrier's retries stop before the webhook times out.
    assert message.send_by == sqlite_runtime.clock.now() + SECOND_COPY_SEND_SECONDS
    with sqlite_runtime.db.session() as session:
        sms = session.scalars(select(SmsMessage)).one()
        assert sms.carrier_sid and sms.channel == "sms" and sms.debt_id == seeded.debt_id
    sent = [e for e in events(sqlite_runtime, seeded.attempt_id) if e.kind == "sms.sent"]
    assert len(sent) == 1 and sent[0].channel == "sms"
    assert attempt_of(sqlite_runtime, seeded.attempt_id).outcome == "second-copy-sent"


def test_menu_1_uses_whatsapp_when_the_debtor_prefers_it(start_call, carrier):
    call, _ = start_call("mg", preferred_channel="whatsapp")
    call.answer()
    assert "por WhatsApp" in said(call.press("1"))
    twiml = call.press("1")
    assert "por WhatsApp" in said(twiml)
    assert [m.channel for m in carrier.messages] == ["whatsapp"]


@pytest.mark.parametrize(
    "blocker",
    ["debtor-sms-opt-out", "phone-sms-opt-out", "block-list-phone", "block-list-document"],
)
def test_menu_1_refuses_and_records_why_when_the_channel_is_closed(
    start_call, sqlite_runtime, carrier, blocker
):
    call, seeded = start_call("sp")
    with sqlite_runtime.db.session() as session:
        now = sqlite_runtime.clock.now()
        if blocker == "debtor-sms-opt-out":
            session.get(Debtor, seeded.debtor_id).sms_opt_out_at = now
        elif blocker == "phone-sms-opt-out":
            session.get(Phone, seeded.phone_id).sms_opt_out_at = now
        elif blocker == "block-list-phone":
            session.add(
                BlockListEntry(kind="phone", value=seeded.profile.number, source="procon-sp")
            )
        else:
            session.add(
                BlockListEntry(kind="document", value=seeded.profile.document, source="procon-sp")
            )
    call.answer()
    call.press("1")
    twiml = call.press("1")
    assert "Não foi possível enviar" in said(twiml)
    assert carrier.messages == []
    refused = [e for e in events(sqlite_runtime, seeded.attempt_id) if e.kind == "sms.refused"]
    assert len(refused) == 1
    assert refused[0].data["reason"] == (
        "block-list" if blocker.startswith("block") else "sms-opt-out"
    )


def test_menu_1_when_the_carrier_fails_apologises_and_keeps_the_call(
    start_call, sqlite_runtime, carrier
):
    carrier.fail_messages = True
    call, seeded = start_call("mg")
    call.answer()
    call.press("1")
    twiml = call.press("1")
    assert "Não foi possível enviar" in said(twiml) and call.gather is not None
    assert "sms.failed" in kinds(sqlite_runtime, seeded.attempt_id)
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(SmsMessage.status)).all() == ["failed"]


@pytest.mark.parametrize("profile", ALL)
def test_menu_2_offers_slots_in_local_time_and_books_the_chosen_one(
    start_call, sqlite_runtime, fake_facts, profile
):
    if profile == "us":
        fake_facts.zone = "America/New_York"
    call, seeded = start_call(profile)
    call.answer()
    call.press("1")
    offer = call.press("2")
    text = said(offer)
    if profile == "us":
        # 17:00Z is 12:00 in New York: noon, today.
        assert "today, Tuesday, November twenty-fourth, at noon" in text and "press 3" in text
    else:
        # 17:00Z is 14:00 in São Paulo.
        assert (
            "hoje, terça-feira, vinte e quatro de novembro, às quatorze horas" in text
            and "tecle 3" in text
        )
    assert fake_facts.asked[0]["debtor_id"] == seeded.debtor_id
    assert fake_facts.asked[0]["phone_id"] == seeded.phone_id
    assert fake_facts.asked[0]["campaign_id"] == seeded.campaign_id
    # No slot that could come due while this call is still on the line.
    assert fake_facts.asked[0]["after"] == sqlite_runtime.clock.now() + CALLBACK_MIN_LEAD
    done = call.press("2")
    assert call.hung_up
    with sqlite_runtime.db.session() as session:
        booked = session.scalars(select(Callback)).one()
    assert (
        booked.due_at == fake_facts.slots[1]
        and booked.status == "scheduled"
        and booked.requested_via == "ivr"
    )
    assert booked.phone_id == seeded.phone_id and booked.debt_id == seeded.debt_id
    assert ("amanhã" if profile != "us" else "tomorrow") in said(done)
    event = events(sqlite_runtime, seeded.attempt_id)[-1]
    assert event.kind == "callback.booked" and event.data["callback_id"] == booked.id
    assert attempt_of(sqlite_runtime, seeded.attempt_id).outcome == "callback-booked"


def _slots_offered_then_the_first_passes(start_call, sqlite_runtime, fake_facts) -> Call:
    """A caller offered three slots (1, 2, 3) whose first one passes before they press."""
    now = sqlite_runtime.clock.now()
    fake_facts.slots = [now + timedelta(seconds=20), now + timedelta(hours=1), now + timedelta(hours=2)]
    call, _ = start_call("mg")
    call.answer()
    call.press("1")
    call.press("2")  # heard: 1 for the first slot, 2 for the second, 3 for the third
    sqlite_runtime.clock.advance(timedelta(seconds=30))  # the first slot has passed
    return call


def test_a_slot_that_passed_while_the_caller_listened_keeps_the_others_keys(
    start_call, sqlite_runtime, fake_facts
):
    call = _slots_offered_then_the_first_passes(start_call, sqlite_runtime, fake_facts)
    call.press("2")
    with sqlite_runtime.db.session() as session:
        booked = session.scalars(select(Callback)).one()
    assert booked.due_at == fake_facts.slots[1]


def test_pressing_a_slot_that_has_passed_asks_again_with_the_slots_left(
    start_call, sqlite_runtime, fake_facts
):
    call = _slots_offered_then_the_first_passes(start_call, sqlite_runtime, fake_facts)
    again = call.press("1")
    assert call.gather is not None and "tecle 1" in said(again) and "tecle 3" not in said(again)
    with sqlite_runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 0


def test_menu_2_without_free_slots_says_so_and_returns_to_the_menu(start_call, fake_facts):
    fake_facts.slots = []
    call, _ = start_call("mg")
    call.answer()
    call.press("1")
    twiml = call.press("2")
    assert "não temos horários disponíveis" in said(twiml) and call.gather is not None


def test_a_retried_booking_webhook_books_once(start_call, sqlite_runtime, fake_facts):
    call, _ = start_call("mg")
    call.answer()
    call.press("1")
    call.press("2")
    action = call.gather.get("action")
    for _ in range(2):
        call.hooks.post(action, call._params(Digits="1"))
    with sqlite_runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 1


def test_menu_2_books_a_slot_the_rules_allow(start_call, sqlite_runtime):
    from ivr.dialer import facts
    call, seeded = start_call("sp")
    call.answer()
    call.press("1")
    call.press("2")
    call.press("1")
    with sqlite_runtime.db.session() as session:
        booked = session.scalars(select(Callback)).one()
        allowed, reasons = facts.decide_callback_at(
            session, seeded.debtor_id, seeded.phone_id, seeded.campaign_id, booked.due_at
        )
    assert booked.due_at > sqlite_runtime.clock.now()
    assert allowed, reasons


def test_the_transfer_event_wakes_this_process_console_streams_at_once(
    start_call, sqlite_runtime, fake_facts
):
    """The screen pop's same-process path: the webhook's commit itself wakes the hub,
    without waiting for the watcher thread (not running here: no stream is open)."""
    from agent_console.event_hub import hub_for

    hub = hub_for(sqlite_runtime)
    call, _seeded = start_call("sp")
    call.answer()
    call.press("1")
    before = hub.generation
    call.press("3")
    assert hub.generation > before


@pytest.mark.parametrize("profile", ALL)
def test_menu_3_queues_for_an_agent_with_hold_prompts_and_a_transfer_event(
    start_call, sqlite_runtime, fake_facts, profile
):
    call, seeded = start_call(profile, transfer_timeout_seconds=45)
    call.answer()
    call.press("1")
    twiml = call.press("3")
    assert verbs(twiml) == ["Say", "Enqueue"]
    enqueue = twiml.find("Enqueue")
    assert enqueue.text == "agents" and "limit=45" in enqueue.get("waitUrl")
    transfer = events(sqlite_runtime, seeded.attempt_id)[-1]
    assert transfer.kind == "transfer.requested" and transfer.data["queue"] == "agents"
    assert transfer.data["call_sid"] == call.call_sid and transfer.debtor_id == seeded.debtor_id
    enqueue_twiml = twiml

    hold = call.queue_wait(queue_time=10)
    assert verbs(hold) == ["Say"] and said(hold)  # short hold prompt, never silence
    call.twiml = enqueue_twiml
    assert verbs(call.queue_wait(queue_time=45)) == ["Leave"]

    call.twiml = enqueue_twiml
    offer = call.queue_result("leave", queue_time=45)
    assert ("atendentes estão ocupados" if profile != "us" else "representatives are busy") in said(
        offer
    )
    assert call.gather is not None and "/voice/step/callback" in call.gather.get("action")
    assert "transfer.no_agent" in kinds(sqlite_runtime, seeded.attempt_id)


def test_a_caller_bridged_to_an_agent_hears_goodbye_when_the_agent_hangs_up(
    start_call, sqlite_runtime
):
    call, seeded = start_call("mg")
    call.answer()
    call.press("1")
    call.press("3")
    end = call.queue_result("bridged", queue_time=12)
    assert call.hung_up and "agradece" in said(end)
    assert attempt_of(sqlite_runtime, seeded.attempt_id).outcome == "agent-conversation"


@pytest.mark.parametrize("at_step", ["greeting", "second_factor", "menu", "callback"])
def test_key_9_stops_the_calls_at_once_from_any_prompt(
    start_call, sqlite_runtime, fake_facts, at_step
):
    call, seeded = start_call(
        "sp", second_factor="birth_year" if at_step == "second_factor" else "none"
    )
    with sqlite_runtime.db.session() as session:
        session.add(
            Callback(
                debtor_id=seeded.debtor_id,
                phone_id=seeded.phone_id,
                status="scheduled",
                due_at=sqlite_runtime.clock.now() + timedelta(days=2),
            )
        )
    call.answer()
    if at_step != "greeting":
        call.press("1")
    if at_step == "callback":
        call.press("2")
    twiml = call.press("9")
    assert call.hung_up and "não vamos mais ligar" in said(twiml)
    with sqlite_runtime.db.session() as session:
        debtor = session.get(Debtor, seeded.debtor_id)
        phone = session.get(Phone, seeded.phone_id)
        assert debtor.voice_opt_out_at == phone.voice_opt_out_at == sqlite_runtime.clock.now()
        assert session.scalars(select(Callback.status)).all() == ["canceled"]
    opt_out = events(sqlite_runtime, seeded.attempt_id)[-1]
    assert opt_out.kind == "opt_out" and opt_out.data["opted_out_channel"] == "voice"
    assert attempt_of(sqlite_runtime, seeded.attempt_id).outcome == "opted-out"


def test_star_repeats_the_greeting_and_the_disclosure(start_call):
    call, seeded = start_call("sp")
    first = said(call.answer())
    assert said(call.press("*")) == first
    disclosed = said(call.press("1"))
    assert said(call.press("*")) == disclosed


def test_a_webhook_reads_and_writes_on_one_pooled_connection(start_call, sqlite_runtime):
    """One pool checkout per webhook: its read and its write share the connection."""
    call, seeded = start_call("sp")
    call.answer()
    call.press("1")
    checkouts: list[int] = []
    listener = lambda *_: checkouts.append(1)  # noqa: E731
    event.listen(sqlite_runtime.db.engine, "checkout", listener)
    try:
        before = len(events(sqlite_runtime, seeded.attempt_id))
        checkouts.clear()
        call.press("*")
        assert checkouts == [1]
    finally:
        event.remove(sqlite_runtime.db.engine, "checkout", listener)
    recorded = events(sqlite_runtime, seeded.attempt_id)
    assert len(recorded) == before + 1 and recorded[-1].kind == "ivr.key"
    assert sqlite_runtime.db.engine.pool.checkedout() == 0  # and it went back


def test_a_webhook_that_needs_a_session_holds_one_connection_at_a_time(
    start_call, sqlite_runtime, carrier
):
    call, seeded = start_call("sp")
    call.answer()
    call.press("1")
    pool = sqlite_runtime.db.engine.pool
    most: list[int] = []
    listener = lambda *_: most.append(pool.checkedout())  # noqa: E731
    event.listen(sqlite_runtime.db.engine, "checkout", listener)
    try:
        call.press("1")  # the second copy by SMS: written through a session
    finally:
        event.remove(sqlite_runtime.db.engine, "checkout", listener)
    assert len(carrier.messages) == 1
    assert most and max(most) == 1 and pool.checkedout() == 0


@pytest.mark.parametrize("step", ["greeting", "menu"])
def test_silence_is_re_prompted_twice_then_the_call_ends_politely(start_call, sqlite_runtime, step):
    call, seeded = start_call("us")
    call.answer()
    if step == "menu":
        call.press("1")
    for _ in range(2):
        twiml = call.silence()
        assert (
            said(twiml).startswith("Sorry, we did not receive an answer.")
            and call.gather is not None
        )
    end = call.silence()
    assert call.hung_up and "Goodbye" in said(end)
    recorded = kinds(sqlite_runtime, seeded.attempt_id)
    assert recorded.count("ivr.no_input") == 3 and recorded[-1] == "ivr.gave_up"


def test_an_invalid_key_is_re_prompted(start_call, sqlite_runtime):
    call, seeded = start_call("mg")
    call.answer()
    twiml = call.press("7")
    text = said(twiml)
    assert text.startswith("Desculpe, essa opção não é válida.") and "Se você é João" in text
    assert "tries=1" in call.gather.get("action")
    call.press("5")
    end = call.press("0")
    assert call.hung_up and "agradece" in said(end)
    keys = [e.data for e in events(sqlite_runtime, seeded.attempt_id) if e.kind == "ivr.key"]
    assert [k["valid"] for k in keys] == [False, False, False]


def test_a_booked_callback_call_goes_straight_to_an_agent(start_call, sqlite_runtime):
    due = sqlite_runtime.clock.now()
    call, seeded = start_call("sp", callback_due_at=due)
    greeting = call.answer()
    # Who is calling, the recording notice, and the opt-out key at once (US-TCPA-OPTOUT).
    assert verbs(greeting) == ["Gather", "Redirect"]
    text = said(greeting)
    assert "retornando a ligação que você agendou" in text and "tecle 9" in text
    assert_nothing_disclosed(text, seeded)
    twiml = call.silence()
    assert verbs(twiml)[-1] == "Enqueue"
    event = events(sqlite_runtime, seeded.attempt_id)[-1]
    assert event.kind == "transfer.requested" and event.data["reason"] == "callback"
    call.queue_result("bridged")
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Callback.status)).one() == "done"


def test_the_opt_out_key_on_a_booked_callback_stops_the_calls(start_call, sqlite_runtime):
    call, seeded = start_call("us", callback_due_at=sqlite_runtime.clock.now())
    call.answer()
    end = call.press("9")
    assert call.hung_up and "Enqueue" not in verbs(end)
    with sqlite_runtime.db.session() as session:
        assert session.get(Debtor, seeded.debtor_id).voice_opt_out_at is not None
    assert "transfer.requested" not in kinds(sqlite_runtime, seeded.attempt_id)


def test_a_booked_callback_reaching_a_voicemail_leaves_the_neutral_message(
    start_call, sqlite_runtime
):
    call, seeded = start_call("us", callback_due_at=sqlite_runtime.clock.now())
    twiml = call.answer(answered_by="machine_end_beep")
    assert verbs(twiml) == ["Pause", "Say", "Hangup"]
    assert_nothing_disclosed(said(twiml), seeded, company_named=False)


def test_the_menu_is_refused_to_an_unverified_caller(start_call, sqlite_runtime):
    call, seeded = start_call("mg")
    call.answer()
    response = call.hooks.post(
        f"/voice/step/menu?attempt={seeded.attempt_id}&lang=pt-BR&tries=0", call._params(Digits="*")
    )
    text = said(Call(call.hooks, seeded.attempt_id)._take(response))
    assert_nothing_disclosed(text, seeded)


def test_an_unknown_attempt_gets_a_polite_goodbye(hooks):
    call = Call(hooks, 999_999)
    twiml = call.answer()
    # A short goodbye as the first words of a call: it stays on the line 6 s (invariant 8).
    assert verbs(twiml) == ["Say", "Pause", "Hangup"] and "agradece" in said(twiml)
    assert len(said(twiml)) / 15 + int(twiml.find("Pause").get("length")) >= 6
    twiml = Call(hooks, 999_999)._take(
        hooks.post("/voice/step/menu?attempt=abc&lang=en-US", {"Digits": "1"})
    )
    assert "Goodbye" in said(twiml)


def _agent(runtime, dial_target: str | None) -> int:
    from ivr.models import User

    with runtime.db.session() as session:
        user = User(
            username=f"ana{dial_target}",
            display_name="Ana",
            password_hash="x",
            role="agent",
            dial_target=dial_target,
        )
        session.add(user)
        session.flush()
        return user.id


@pytest.mark.parametrize(
    ("dial_target", "noun", "target"),
    [
        ("+5511955554444", "Number", "+5511955554444"),
        ("sip:ana@pbx.example.com", "Sip", "sip:ana@pbx.example.com"),
        ("client:ana", "Client", "ana"),
        (None, "Client", "agent-{id}"),
    ],
)
def test_an_agent_taking_the_call_is_dialled_and_the_end_is_recorded(
    start_call, sqlite_runtime, fake_facts, dial_target, noun, target
):
    call, seeded = start_call("mg", callback_due_at=sqlite_runtime.clock.now())
    call.answer()
    assert not attempt_of(sqlite_runtime, seeded.attempt_id).conversation
    user_id = _agent(sqlite_runtime, dial_target)
    twiml = call._take(
        call.hooks.post(
            f"/voice/agent-connect?attempt={seeded.attempt_id}&user={user_id}", call._params()
        )
    )
    assert verbs(twiml) == ["Say", "Dial"] and "Conectando" in said(twiml)
    dial = twiml.find("Dial")
    assert dial.get("callerId") == "+551130000000" and "/voice/step/agent_result" in dial.get(
        "action"
    )
    [leg] = list(dial)
    assert leg.tag == noun and leg.text.strip() == target.format(id=user_id)
    assert events(sqlite_runtime, seeded.attempt_id)[-1].kind == "transfer.connecting"
    end = call._take(
        call.hooks.post(
            dial.get("action"), call._params(DialCallStatus="completed", DialCallDuration="95")
        )
    )
    assert call.hung_up and "agradece" in said(end)
    attempt = attempt_of(sqlite_runtime, seeded.attempt_id)
    assert attempt.outcome == "agent-conversation"
    # No automated right-party check on a booked callback: the agent's conversation is
    # what the caps' quiet days after a conversation count (US-REGF-7IN7).
    assert attempt.conversation
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Callback.status)).all() == ["done"]


def test_a_callback_whose_end_was_reported_before_the_agent_leg_still_counts_as_done(
    start_call, sqlite_runtime, fake_facts
):
    """The caller hangs up on the agent: the call's "completed" status callback can land
    before the Dial's action, and marks the booked callback missed; the action then tells
    that the agent did talk with the debtor."""
    call, seeded = start_call("mg", callback_due_at=sqlite_runtime.clock.now())
    call.answer()
    user_id = _agent(sqlite_runtime, None)
    twiml = call._take(
        call.hooks.post(
            f"/voice/agent-connect?attempt={seeded.attempt_id}&user={user_id}", call._params()
        )
    )
    call.status("completed", CallDuration="130")
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Callback.status)).all() == ["missed"]
    call.hooks.post(
        twiml.find("Dial").get("action"),
        call._params(DialCallStatus="completed", DialCallDuration="95"),
    )
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(Callback.status)).all() == ["done"]


@pytest.mark.parametrize("dial_status", ["no-answer", "busy", "failed"])
def test_an_agent_who_does_not_answer_leads_to_a_callback_offer(
    start_call, sqlite_runtime, fake_facts, dial_status
):
    call, seeded = start_call("us")
    call.answer()
    call.press("1")
    call.press("3")
    user_id = _agent(sqlite_runtime, "+12125550999")
    twiml = call._take(
        call.hooks.post(
            f"/voice/agent-connect?attempt={seeded.attempt_id}&user={user_id}", call._params()
        )
    )
    offer = call._take(
        call.hooks.post(
            twiml.find("Dial").get("action"),
            call._params(DialCallStatus=dial_status, DialCallDuration="0"),
        )
    )
    assert "representatives are busy" in said(offer) and "press 1" in said(offer)
    assert "transfer.no_agent" in kinds(sqlite_runtime, seeded.attempt_id)


def test_agent_connect_for_an_unknown_agent_offers_a_callback(start_call, fake_facts):
    call, seeded = start_call("mg")
    call.answer()
    twiml = call._take(
        call.hooks.post(
            f"/voice/agent-connect?attempt={seeded.attempt_id}&user=777", call._params()
        )
    )
    assert "atendentes estão ocupados" in said(twiml) and call.gather is not None


# -- the second copy by WhatsApp -------------------------------------------------------------


def _configure_twilio(runtime, **settings: str) -> None:
    """The runtime as an operator configured it for Twilio (webhooks still signed with the
    token these tests sign with)."""
    from ivr.config import load_config
    from ivr.telephony.dev_credentials import EMULATOR_AUTH_TOKEN

    runtime.config = load_config(
        {
            "DATABASE_URL": runtime.config.database_url,
            "CORDIAL_INSTANCE_PATH": str(runtime.config.instance_path),
            "CORDIAL_CARRIER": "twilio",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": EMULATOR_AUTH_TOKEN,
            **settings,
        },
        env_file=None,
    )


def test_menu_1_sends_a_whatsapp_debtor_the_approved_template_from_the_whatsapp_sender(
    start_call, sqlite_runtime, carrier
):
    _configure_twilio(
        sqlite_runtime,
        TWILIO_WHATSAPP_FROM="+5511940000000",
        TWILIO_WHATSAPP_CONTENT_SID_PT_BR="HX" + "a" * 32,
    )
    call, seeded = start_call("mg", preferred_channel="whatsapp")
    call.answer()
    call.press("1")
    assert "por WhatsApp" in said(call.press("1"))
    [message] = carrier.messages
    assert message.channel == "whatsapp" and message.from_ == "+5511940000000"
    assert message.content_sid == "HX" + "a" * 32 and message.content_variables
    assert message.send_by == sqlite_runtime.clock.now() + SECOND_COPY_SEND_SECONDS
    sent = [e for e in events(sqlite_runtime, seeded.attempt_id) if e.kind == "sms.sent"]
    assert [e.channel for e in sent] == ["whatsapp"]


def test_menu_1_without_whatsapp_configured_sends_a_whatsapp_debtor_the_copy_by_sms(
    start_call, sqlite_runtime, carrier
):
    _configure_twilio(sqlite_runtime)  # no WhatsApp sender, no approved template
    call, seeded = start_call("mg", preferred_channel="whatsapp")
    call.answer()
    call.press("1")
    call.press("1")
    [message] = carrier.messages
    assert message.channel == "sms" and message.content_sid is None
    assert message.from_ == "+551130000000"
    sent = [e for e in events(sqlite_runtime, seeded.attempt_id) if e.kind == "sms.sent"]
    assert [e.channel for e in sent] == ["sms"] and sent[0].data["requested_channel"] == "whatsapp"
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(SmsMessage.channel)).all() == ["sms"]
    assert attempt_of(sqlite_runtime, seeded.attempt_id).outcome == "second-copy-sent"


def test_menu_1_without_whatsapp_configured_tells_the_caller_sms(
    start_call, sqlite_runtime, carrier
):
    _configure_twilio(sqlite_runtime)
    call, _ = start_call("mg", preferred_channel="whatsapp")
    call.answer()
    menu = said(call.press("1"))
    assert "por SMS" in menu and "WhatsApp" not in menu
    confirmation = said(call.press("1"))
    assert "Enviamos a segunda via por SMS" in confirmation and "WhatsApp" not in confirmation
