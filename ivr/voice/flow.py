"""The robocall as a state machine over carrier webhooks.

Answer -> (machine: neutral voicemail) | (callback call: straight to an agent)
| greeting + opt-out key + right-party check -> [second factor] -> disclosure
-> menu (1 second copy, 2 callback, 3 agent, 9 stop calling, * repeat).

Each webhook loads the attempt with everything the call needs in one query
(ivr.voice.call_context), decides from the key pressed, notes its changes to the
attempt and its contact events, which the webhook writes in one short
transaction, and answers TwiML through a CallReply. The step and the re-prompt count travel
in the webhook URLs, so no state lives in the process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.db import rows_changed
from ivr.messaging.second_copy import SecondCopyRefused, second_copy_channel, send_second_copy
from ivr.models import Callback, Debt, Debtor, DebtStatus, Phone, User
from ivr.runtime import Runtime
from ivr.speech.live import start_live_transcript  # live transcript of transfers
from ivr.speech.wording import spoken_amount, spoken_date, spoken_slot
from ivr.voice.call_context import CallContext, CallWrites
from ivr.voice.call_status import answered_by_kind
from ivr.voice.disclosure import DisclosureRules, disclosure_rules
from ivr.voice.speaker import CallReply, Line, line
from ivr.voice.urls import queue_wait_url, step_url

log = logging.getLogger(__name__)

MAX_REPROMPTS = 2  # after the first prompt, at most this many re-prompts, then goodbye
KEY_TIMEOUT_SECONDS = 6
CALLBACK_OPT_OUT_SECONDS = 2  # after a booked callback's greeting, before the transfer
FACTOR_TIMEOUT_SECONDS = 8
DEFAULT_TRANSFER_TIMEOUT_SECONDS = 60
CALLBACK_SLOTS_OFFERED = 3
# The caller waits on the line while the second copy goes out; the carrier webhook gives up
# after 15 s, so the carrier's retries stop well before.
SECOND_COPY_SEND_SECONDS = timedelta(seconds=6)
# The first slot offered starts at least this long after the offer: a slot that came due
# while this call is still on the line would find it live, and the dialer would miss it.
CALLBACK_MIN_LEAD = timedelta(minutes=10)
AGENT_RING_SECONDS = 20
OPT_OUT_KEY = "9"
REPEAT_KEY = "*"
SECOND_FACTOR_DIGITS = {"birth_year": 4, "cpf_digits": 3}
CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp"}

_SID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def dial_target_of(user: User) -> tuple[str, str]:
    """How to reach an agent: (number | sip | client, target). Without a configured target,
    the browser softphone identity agent-<id> (with the emulator, a simulated agent)."""
    target = (user.dial_target or "").strip()
    if target.startswith("sip:"):
        return "sip", target
    if target.startswith("client:"):
        return "client", target.removeprefix("client:")
    if target:
        return "number", target
    return "client", f"agent-{user.id}"


def _int(raw: str | None, default: int | None = None) -> int | None:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class CarrierInput:
    """What the carrier told one webhook, parsed defensively (anything odd becomes None)."""

    call_sid: str | None = None
    answered_by: str | None = None
    digits: str | None = None
    queue_result: str | None = None
    queue_time: int | None = None
    dial_status: str | None = None
    dial_duration: int | None = None
    tries: int = 0
    slots: tuple[datetime, ...] = ()
    then: str = "end"

    @classmethod
    def parse(cls, values: Mapping[str, str]) -> CarrierInput:
        sid = (values.get("CallSid") or "").strip()
        digits = values.get("Digits")
        if digits is not None:
            digits = digits.strip().rstrip("#")[:32]
        tries = _int(values.get("tries"), 0) or 0
        return cls(
            call_sid=sid if _SID.match(sid) else None,
            answered_by=(values.get("AnsweredBy") or "").strip()[:32] or None,
            digits=digits or None,
            queue_result=(values.get("QueueResult") or "").strip().lower()[:32] or None,
            queue_time=_seconds(values.get("QueueTime")),
            dial_status=(values.get("DialCallStatus") or "").strip().lower()[:32] or None,
            dial_duration=_seconds(values.get("DialCallDuration")),
            tries=min(max(tries, 0), MAX_REPROMPTS),
            slots=_parse_slots(values.get("slots")),
            then="menu" if values.get("then") == "menu" else "end",
        )


def _seconds(raw: str | None) -> int | None:
    value = _int(raw)
    return value if value is not None and 0 <= value < 10**7 else None


def _parse_slots(raw: str | None) -> tuple[datetime, ...]:
    if not raw:
        return ()
    slots: list[datetime] = []
    for part in raw.split(",")[:CALLBACK_SLOTS_OFFERED]:
        seconds = _int(part)
        if seconds is None or not 0 < seconds < 253402300799:
            return ()
        slots.append(datetime.fromtimestamp(seconds, UTC))
    return tuple(slots)


class CallFlow:
    """One webhook's worth of the call: decide, record, answer."""

    def __init__(
        self,
        runtime: Runtime,
        call: CallContext,
        reply: CallReply,
        given: CarrierInput,
        writes: CallWrites,
    ) -> None:
        self.writes = writes
        self.runtime = runtime
        self.config = runtime.config
        self.call = call
        self.attempt = call.attempt
        self.debtor = call.debtor
        self.reply = reply
        self.language = reply.language
        self.given = given
        self.now = runtime.clock.now()
        self._zone: ZoneInfo | None = None

    @property
    def session(self) -> Session:
        """The write transaction, for the steps that need more than the attempt's columns."""
        return self.writes.session

    # -- recording ------------------------------------------------------------

    def record(self, kind: str, *, channel: str = "voice", **data: Any) -> None:
        """Note a contact event; the webhook writes all of its events together."""
        if self.given.call_sid:
            data.setdefault("call_sid", self.given.call_sid)
        self.writes.event(
            {
                "debtor_id": self.debtor.id,
                "attempt_id": self.attempt.id,
                "phone_id": self.call.phone.id,
                "debt_id": self.attempt.debt_id,
                "kind": kind,
                "channel": channel,
                "actor": "ivr",
                "occurred_at": self.now,
                "data": data,
            }
        )

    def _outcome(self, outcome: str, *, weak: bool = False) -> None:
        """Set the attempt's business outcome; a weak one never replaces a stronger one."""
        self.writes.outcome(outcome, weak=weak)

    def _step(self, step: str) -> None:
        self.writes.set(ivr_step=step)

    def _url(self, step: str, tries: int = 0, **extra: Any) -> str:
        return step_url(self.config, step, self.attempt.id, self.language, tries=tries, **extra)

    # -- entry points -----------------------------------------------------------

    def answer(self) -> None:
        attempt, given = self.attempt, self.given
        kind = answered_by_kind(given.answered_by)
        self.writes.answered(self.now, kind, given.call_sid)
        self.record(
            "ivr.answered", answered_by=given.answered_by or "none", callback_id=attempt.callback_id
        )

        if kind == "machine":
            self._leave_voicemail()
        elif attempt.callback_id is not None:
            self._answer_booked_callback()
        else:
            self._step("right_party")
            self._ask_right_party([], tries=0, full_intro=True)

    def handle(self, step: str) -> None:
        handler = self._steps().get(step)
        if handler is None:
            log.warning("attempt %s: unknown voice step %r", self.attempt.id, step[:40])
            self.reply.end("goodbye")
            return
        handler()

    def _steps(self) -> dict[str, Callable[[], None]]:
        return {
            "right_party": self._on_right_party,
            "second_factor": self._on_second_factor,
            "menu": self._on_menu,
            "callback": self._on_callback_choice,
            "callback_intro": self._on_callback_intro,
            "queue_result": self._on_queue_result,
            "agent_result": self._on_agent_result,
        }

    # -- answer -----------------------------------------------------------------

    def _leave_voicemail(self) -> None:
        """A limited-content message: neutral business name, a person, a number; no debt."""
        self._step("voicemail")
        self._outcome("voicemail")
        self.record("voicemail.left", answered_by=self.given.answered_by)
        self.reply.pause(1).end("voicemail")

    def _answer_booked_callback(self) -> None:
        """The debtor asked for this call: who is calling, then the opt-out key (a
        prerecorded call offers it at once, US-TCPA-OPTOUT), then straight to an agent."""
        lines = [line("callback_intro")]
        if self._rules().recording_notice:
            lines.append(line("recording_notice"))
        lines.append(line("opt_out_offer"))
        self._step("callback_intro")
        url = self._url("callback_intro")
        self.reply.ask(
            lines, action=url, no_answer_url=url, timeout_seconds=CALLBACK_OPT_OUT_SECONDS
        )

    def _on_callback_intro(self) -> None:
        digits = self.given.digits
        if digits is not None:
            self.record("ivr.key", step="callback_intro", digits=digits[:1],
                        valid=digits == OPT_OUT_KEY)
        if digits == OPT_OUT_KEY:
            self._opt_out("callback_intro")
            return
        self._transfer(reason="callback")

    # -- right party -------------------------------------------------------------

    def _ask_right_party(self, prefix: Sequence[Line], tries: int, full_intro: bool) -> None:
        lines = list(prefix)
        if full_intro:
            lines.append(line("greeting"))
            if self._rules().recording_notice:
                lines.append(line("recording_notice"))
        lines += [
            line("opt_out_offer"),
            line("right_party_check", first_name=self.debtor.first_name),
        ]
        url = self._url("right_party", tries)
        self.reply.ask(lines, action=url, no_answer_url=url, timeout_seconds=KEY_TIMEOUT_SECONDS)

    def _on_right_party(self) -> None:
        self._dispatch(
            "right_party",
            choose=lambda digits: {"1": self._confirmed_identity, "2": self._wrong_person}.get(
                digits
            ),
            ask_again=lambda prefix, tries, repeat: self._ask_right_party(
                prefix, tries, full_intro=repeat
            ),
        )

    def _confirmed_identity(self) -> None:
        factor = self._second_factor_kind()
        if factor is None:
            self._verified(second_factor=None)
            return
        if self._second_factor_expected(factor) is None:
            # Nothing on record to check the answer against: never disclose unverified.
            self.record("ivr.unverified", reason="no-reference", second_factor=factor)
            self._outcome("unverified", weak=True)
            self._step("goodbye")
            self.reply.say("verification_failed").end("goodbye")
            return
        self._step("second_factor")
        self._ask_second_factor([], tries=0)

    def _wrong_person(self) -> None:
        self.session.execute(
            update(Phone)
            .where(Phone.id == self.call.phone.id, Phone.wrong_number_at.is_(None))
            .values(wrong_number_at=self.now)
        )
        self._step("wrong_person")
        self._outcome("wrong-number")
        self.record("ivr.wrong_person", phone_marked_wrong_number=True)
        self.reply.end("wrong_person_apology")

    # -- second factor ---------------------------------------------------------------

    def _second_factor_kind(self) -> str | None:
        campaign = self.call.campaign
        factor = campaign.second_factor if campaign else "none"
        return factor if factor in SECOND_FACTOR_DIGITS else None

    def _second_factor_expected(self, factor: str) -> str | None:
        debtor = self.debtor
        if factor == "birth_year":
            return f"{debtor.birth_date.year:04d}" if debtor.birth_date else None
        digits = "".join(ch for ch in debtor.document or "" if ch.isdigit())
        return digits[:3] if len(digits) >= 3 else None

    def _ask_second_factor(self, prefix: Sequence[Line], tries: int) -> None:
        factor = self._second_factor_kind() or "birth_year"
        if factor == "birth_year":
            question = line("second_factor_birth_year")
        else:
            names = self.reply.speaker.catalog.book(self.language).document_names
            kind = self.debtor.document_kind or "cpf"
            question = line(
                "second_factor_document_digits", document_name=names.get(kind, kind.upper())
            )
        url = self._url("second_factor", tries)
        self.reply.ask(
            [*prefix, question],
            action=url,
            no_answer_url=url,
            digits=SECOND_FACTOR_DIGITS[factor],
            timeout_seconds=FACTOR_TIMEOUT_SECONDS,
        )

    def _on_second_factor(self) -> None:
        factor = self._second_factor_kind()
        expected = self._second_factor_expected(factor) if factor else None
        if factor is None or expected is None:
            self.reply.end("goodbye")
            return

        def choose(digits: str) -> Callable[[], None] | None:
            return (lambda: self._verified(second_factor=factor)) if digits == expected else None

        def give_up(why: str) -> None:
            self.record("ivr.unverified", reason="second-factor-mismatch", second_factor=factor)
            self._outcome("unverified", weak=True)
            self._step("goodbye")
            self.reply.say(why).say("verification_failed").end("goodbye")

        self._dispatch(
            "second_factor",
            choose=choose,
            secret=True,
            give_up=give_up,
            ask_again=lambda prefix, tries, repeat: self._ask_second_factor(prefix, tries),
        )

    # -- disclosure and menu ----------------------------------------------------------

    def _verified(self, second_factor: str | None) -> None:
        self.writes.set(right_party_verified=True, conversation=True, ivr_step="menu")
        self.record("ivr.right_party", verified=True, second_factor=second_factor)
        disclosure = self._disclosure_lines()
        if disclosure:
            rules = self._rules()
            self._outcome("disclosed", weak=True)
            self.record(
                "ivr.disclosed",
                itemised=rules.itemised,
                collector_notice=rules.collector_notice,
                rule_ids=list(rules.rule_ids),
                debt_id=self.call.debt.id if self.call.debt else None,
            )
        self._ask_menu(disclosure, tries=0)

    def _disclosure_lines(self) -> list[Line]:
        """Amount (itemised where required), due date, creditor: only to the verified debtor,
        and only about a debt that may still be collected (BR-CDC-42-UNDUE)."""
        debt, creditor = self.call.debt, self.call.creditor
        if not self.attempt.right_party_verified or debt is None or creditor is None:
            return []
        if debt.status != DebtStatus.OPEN.value or debt.payment_pending:
            return []
        lang, rules = self.language, self._rules()
        lines: list[Line] = []
        if rules.collector_notice:
            lines.append(line("fdcpa_disclosure"))
        lines.append(
            line(
                "disclosure",
                first_name=self.debtor.first_name,
                amount=spoken_amount(debt.total, debt.currency, lang),
                creditor=creditor.name,
                due_date=spoken_date(
                    debt.due_date, lang, with_year=debt.due_date.year != self.now.year
                ),
            )
        )
        if rules.itemised:
            lines.append(
                line(
                    "disclosure_itemised",
                    principal=spoken_amount(debt.principal, debt.currency, lang),
                    interest=spoken_amount(debt.interest, debt.currency, lang),
                    fee=spoken_amount(debt.fee, debt.currency, lang),
                )
            )
        return lines

    def _ask_menu(self, prefix: Sequence[Line], tries: int) -> None:
        channel = CHANNEL_NAMES[
            second_copy_channel(
                self.runtime.config, self.debtor.preferred_channel, self.debtor.language
            )
        ]
        url = self._url("menu", tries)
        self.reply.ask(
            [*prefix, line("menu", channel=channel)],
            action=url,
            no_answer_url=url,
            timeout_seconds=KEY_TIMEOUT_SECONDS,
        )

    def _on_menu(self) -> None:
        if not self.attempt.right_party_verified:
            # The menu follows the disclosure; nobody unverified reaches it (invariant 3).
            log.warning(
                "attempt %s: menu reached without right-party verification", self.attempt.id
            )
            self.reply.end("goodbye")
            return
        self._dispatch(
            "menu",
            choose=lambda digits: {
                "1": self._send_second_copy,
                "2": lambda: self._offer_callback([], then="menu"),
                "3": lambda: self._transfer(reason="menu"),
            }.get(digits),
            ask_again=lambda prefix, tries, repeat: self._ask_menu(
                [*prefix, *(self._disclosure_lines() if repeat else [])], tries
            ),
        )

    def _send_second_copy(self) -> None:
        self.writes.write_events()  # the key press goes in the log before what it caused
        session, call = self.session, self.call
        try:
            message = send_second_copy(
                session,
                self.runtime,
                session.get_one(Debtor, self.debtor.id),
                session.get(Debt, call.debt.id) if call.debt else None,
                "ivr",
                phone=session.get(Phone, call.phone.id),
                attempt_id=self.attempt.id,
                send_within=SECOND_COPY_SEND_SECONDS,
            )
        except SecondCopyRefused as refused:
            log.info("attempt %s: second copy not sent: %s", self.attempt.id, refused.reason)
            self._ask_menu([line("sms_unavailable")], tries=0)
            return
        self._outcome("second-copy-sent")
        # The channel it went by: SMS where WhatsApp is not configured or refused it.
        self._ask_menu([line("sms_sent", channel=CHANNEL_NAMES[message.channel])], tries=0)

    # -- callback ---------------------------------------------------------------------

    def _local_zone(self) -> ZoneInfo:
        if self._zone is None:
            from ivr.dialer.facts import local_zone_for  # the rules' side, loaded when first needed

            self._zone = ZoneInfo(local_zone_for(self.session, self.debtor.id))
        return self._zone

    def _spoken_slot(self, instant: datetime) -> str:
        zone = self._local_zone()
        return spoken_slot(
            instant.astimezone(zone), self.language, today=self.now.astimezone(zone).date()
        )

    def _offer_callback(self, prefix: Sequence[Line], then: str) -> None:
        from ivr.dialer.facts import (
            callback_slots,  # the one place that decides when calls may happen
        )

        slots = callback_slots(
            self.session,
            debtor_id=self.debtor.id,
            phone_id=self.call.phone.id,
            campaign_id=self.attempt.campaign_id,
            after=self.now + CALLBACK_MIN_LEAD,
            count=CALLBACK_SLOTS_OFFERED,
        )[:CALLBACK_SLOTS_OFFERED]
        if not slots:
            self.record("callback.unavailable")
            if then == "menu":
                self._ask_menu([*prefix, line("callback_unavailable")], tries=0)
            else:
                self._step("goodbye")
                self.reply.say_lines([*prefix, line("callback_unavailable")]).end("goodbye")
            return
        self._step("callback_offer")
        self.record("callback.offered", slots=[s.astimezone(UTC).isoformat() for s in slots])
        self._ask_callback(prefix, tries=0, slots=tuple(slots), then=then)

    def _ask_callback(
        self, prefix: Sequence[Line], tries: int, slots: tuple[datetime, ...], then: str
    ) -> None:
        lines = [*prefix, line("callback_offer")]
        lines += [
            line("callback_option", slot=self._spoken_slot(s), digit=str(i))
            for i, s in enumerate(slots, start=1)
        ]
        url = self._url(
            "callback", tries, slots=",".join(str(int(s.timestamp())) for s in slots), then=then
        )
        self.reply.ask(lines, action=url, no_answer_url=url, timeout_seconds=KEY_TIMEOUT_SECONDS)

    def _on_callback_choice(self) -> None:
        slots = tuple(s for s in self.given.slots if s > self.now)
        if not slots:
            self._step("goodbye")
            self.reply.say("callback_unavailable").end("goodbye")
            return
        # The keys as the caller heard them; a slot that has passed since is asked again.
        choices = {str(i): slot for i, slot in enumerate(self.given.slots, start=1) if slot in slots}
        self._dispatch(
            "callback",
            choose=lambda digits: (
                (lambda: self._book_callback(choices[digits])) if digits in choices else None
            ),
            ask_again=lambda prefix, tries, repeat: self._ask_callback(
                prefix, tries, slots, self.given.then
            ),
        )

    def _book_callback(self, due_at: datetime) -> None:
        call = self.call
        booked = self.session.scalar(
            select(Callback).where(
                Callback.debtor_id == self.debtor.id,
                Callback.due_at == due_at,
                Callback.status == "scheduled",
            )
        )
        if booked is None:  # a retried webhook books once
            booked = Callback(
                debtor_id=self.debtor.id,
                phone_id=call.phone.id,
                debt_id=self.attempt.debt_id,
                campaign_id=self.attempt.campaign_id,
                due_at=due_at,
                status="scheduled",
                requested_via="ivr",
                created_at=self.now,
            )
            self.session.add(booked)
            self.session.flush()
        self._step("callback_booked")
        self._outcome("callback-booked")
        self.record(
            "callback.booked", callback_id=booked.id, due_at=due_at.astimezone(UTC).isoformat()
        )
        self.reply.say("callback_confirmed", slot=self._spoken_slot(due_at)).end("goodbye")

    # -- transfer to an agent ---------------------------------------------------------------

    def _transfer(self, reason: str) -> None:
        """Into the agents' queue with hold prompts; the console pops the debtor on this event."""
        attempt = self.attempt
        self._step("queue")
        self._outcome("transferred")
        self.record(
            "transfer.requested",
            queue="agents",
            reason=reason,
            callback_id=attempt.callback_id,
            right_party_verified=attempt.right_party_verified,
        )
        campaign = self.call.campaign
        limit = (
            campaign.transfer_timeout_seconds if campaign else None
        ) or DEFAULT_TRANSFER_TIMEOUT_SECONDS
        # Live transcript (ivr.speech.live): the caller's audio streams to the agent's screen
        # from here until the call ends, through the queue and the conversation.
        start_live_transcript(self.reply.response, self.config, attempt.id, self.language)
        self.reply.say("transfer_hold")
        self.reply.enqueue(
            wait_url=queue_wait_url(self.config, attempt.id, self.language, limit),
            action=self._url("queue_result"),
        )

    def _on_queue_result(self) -> None:
        """Where the caller goes when they leave the agents' queue (Enqueue's action)."""
        result = self.given.queue_result or "unknown"
        if result == "redirected":
            # An agent took the call: the carrier runs /voice/agent-connect instead of this.
            self.record("transfer.left_queue", result=result, queue_time=self.given.queue_time)
            self.reply.end("goodbye")
            return
        if result in ("bridged", "bridging-in-process", "hangup"):
            self.record("transfer.ended", result=result, queue_time=self.given.queue_time)
            if result.startswith("bridg"):
                self._agent_conversation_held()
            self._step("goodbye")
            self.reply.end("goodbye")
            return
        # Left the queue (timeout), queue full or error: nobody took the call.
        self.record("transfer.no_agent", result=result, queue_time=self.given.queue_time)
        self._outcome("no-agent")
        self._offer_callback([line("transfer_no_agent")], then="end")

    def connect_agent(self, user_id: int | None) -> None:
        """An agent took the transfer in the console: dial their phone, SIP address or
        browser, and come back to /voice/step/agent_result when that leg ends."""
        user = self.session.get(User, user_id) if user_id is not None else None
        if user is None or not user.active:
            log.warning(
                "attempt %s: agent-connect for unknown or inactive user %s",
                self.attempt.id,
                user_id,
            )
            self.record("transfer.no_agent", result="unknown-agent", user_id=user_id)
            self._offer_callback([line("transfer_no_agent")], then="end")
            return
        kind, target = dial_target_of(user)
        self._step("agent")
        self.record("transfer.connecting", user_id=user.id, target_kind=kind)
        self.reply.say("agent_connecting")
        campaign = self.call.campaign
        self.reply.dial(
            kind,
            target,
            action=self._url("agent_result"),
            timeout_seconds=AGENT_RING_SECONDS,
            caller_id=campaign.caller_id if campaign else None,
        )

    def _on_agent_result(self) -> None:
        status = self.given.dial_status or "unknown"
        if status == "completed":
            self.record(
                "transfer.ended",
                result="agent-completed",
                duration_seconds=self.given.dial_duration,
            )
            self._agent_conversation_held()
            self._step("goodbye")
            self.reply.end("goodbye")
            return
        self.record("transfer.no_agent", result=f"agent-{status}"[:40])
        self._outcome("no-agent")
        self._offer_callback([line("transfer_no_agent")], then="end")

    def _agent_conversation_held(self) -> None:
        # A conversation with the debtor, for the caps' quiet days after one (US-REGF-7IN7):
        # a booked callback reaches the agent without the automated right-party check.
        self.writes.set(conversation=True)
        self._outcome("agent-conversation")
        if self.attempt.callback_id:
            self.session.execute(
                update(Callback)
                .where(
                    Callback.id == self.attempt.callback_id,
                    # "missed": the call's "completed" callback can land before the Dial's
                    # action (the caller hung up on the agent), and call it missed.
                    Callback.status.in_(("scheduled", "dialing", "missed")),
                )
                .values(status="done")
            )

    # -- keys common to every step --------------------------------------------------------------

    def _dispatch(
        self,
        step: str,
        *,
        choose: Callable[[str], Callable[[], None] | None],
        ask_again: Callable[[list[Line], int, bool], None],
        secret: bool = False,
        give_up: Callable[[str], None] | None = None,
    ) -> None:
        """9 stops the calls and * repeats, at every step; silence and unknown keys re-prompt
        up to MAX_REPROMPTS times, then the call ends politely."""
        digits, tries = self.given.digits, self.given.tries
        if digits is None:
            self.record("ivr.no_input", step=step, tries=tries)
            self._reprompt(step, "no_input", tries, ask_again, give_up)
            return
        handler = choose(digits)
        shown = digits if not secret or digits in (OPT_OUT_KEY, REPEAT_KEY) else "*" * len(digits)
        valid = handler is not None or digits in (OPT_OUT_KEY, REPEAT_KEY)
        self.record("ivr.key", step=step, digits=shown, valid=valid)
        if handler is not None:
            handler()
        elif digits == OPT_OUT_KEY:
            self._opt_out(step)
        elif digits == REPEAT_KEY:
            ask_again([], tries, True)
        else:
            self._reprompt(step, "invalid_key", tries, ask_again, give_up)

    def _reprompt(
        self,
        step: str,
        why: str,
        tries: int,
        ask_again: Callable[[list[Line], int, bool], None],
        give_up: Callable[[str], None] | None,
    ) -> None:
        if tries < MAX_REPROMPTS:
            ask_again([line(why)], tries + 1, False)
            return
        self.record("ivr.gave_up", step=step, reason=why.replace("_", "-"))
        if give_up is not None:
            give_up(why)
            return
        self._outcome("no-input", weak=True)
        self._step("goodbye")
        self.reply.say(why).end("goodbye")

    def _opt_out(self, step: str) -> None:
        """Stop calling: the debtor and this phone, every campaign and worker, at once."""
        debtor, phone = self.debtor, self.call.phone
        for model, row_id in ((Debtor, debtor.id), (Phone, phone.id)):
            self.session.execute(
                update(model)
                .where(model.id == row_id, model.voice_opt_out_at.is_(None))
                .values(voice_opt_out_at=self.now)
            )
        canceled = rows_changed(
            self.session.execute(
                update(Callback)
                .where(Callback.debtor_id == debtor.id, Callback.status == "scheduled")
                .values(status="canceled")
            )
        )
        self._step("opted_out")
        self._outcome("opted-out")
        self.record(
            "opt_out",
            step=step,
            scope=["debtor", "phone"],
            opted_out_channel="voice",
            right_party_verified=self.attempt.right_party_verified,
            callbacks_canceled=canceled or 0,
        )
        self.reply.say("opted_out").end("goodbye")

    def _rules(self) -> DisclosureRules:
        return disclosure_rules(self.debtor.country, self.debtor.state)


__all__ = ["CallFlow", "CarrierInput", "MAX_REPROMPTS", "dial_target_of"]
