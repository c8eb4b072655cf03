"""A realistic, made-up portfolio for demos, tests and benchmarks (`cordial seed`).

Rows are generated as the text cells of the import format and go through the
importer's validation and bulk upsert, so a seeded portfolio is exactly what
an imported one would be. Deterministic for a given seed and import date (due
dates are counted back from the import date). Every person, document and
creditor is invented; US numbers use the 555-01XX range reserved for fiction,
but Brazil has no such range, so never point a real carrier at seeded data.
"""

from __future__ import annotations

import json
import random
import time as timer
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from stdnum.br import cnpj as stdnum_cnpj

from ivr.models import CallingWindow, Campaign
from ivr.portfolio.importer import ImportReport, import_rows
from ivr.portfolio.phones import BR_DDD_STATE
from ivr.portfolio.validation import (
    boleto_bank_check_digit,
    boleto_factor,
    boleto_field_check_digit,
    pix_crc,
)
from ivr.runtime import Runtime

DATA_FILE = Path(__file__).with_name("seed_data.json")
DEMO_CAMPAIGN = "Demo"
DEMO_WINDOWS = [
    (weekday, time(9, 0), time(18, 0)) for weekday in range(5)
]  # Mon-Fri, debtor's local time
US_SHARE = 0.12

SEED_COLUMNS = (
    "debtor_external_id",
    "full_name",
    "document",
    "birth_date",
    "country",
    "state",
    "city",
    "zip",
    "address",
    "email",
    "language",
    "timezone",
    "preferred_start",
    "preferred_end",
    "preferred_channel",
    "phone1",
    "phone1_type",
    "phone1_consent",
    "phone2",
    "phone2_type",
    "phone2_consent",
    "phone3",
    "phone3_type",
    "phone3_consent",
    "debt_external_id",
    "creditor_name",
    "creditor_document",
    "currency",
    "principal",
    "fee",
    "interest",
    "due_date",
    "status",
    "campaign",
    "boleto",
    "pix",
    "payment_link",
)

_STATUSES = (("open", 82), ("paid", 6), ("agreement", 6), ("disputed", 4), ("closed", 2))
_BANKS = ("001", "033", "104", "237", "341", "260", "077")
_PREFERRED_HOURS = (("09:00", "12:00"), ("13:00", "18:00"), ("18:00", "20:00"), ("08:00", "10:00"))
_ZONE_OVERRIDES = (
    "America/Sao_Paulo",
    "America/Manaus",
    "America/Rio_Branco",
    "America/Cuiaba",
    "America/Noronha",
)


@cache
def seed_data() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as f:
        return json.load(f)


def cpf_with_check_digits(nine: str) -> str:
    digits = [int(c) for c in nine]
    d1 = (11 - sum((10 - i) * d for i, d in enumerate(digits))) % 11 % 10
    d2 = (11 - sum((11 - i) * d for i, d in enumerate(digits)) - 2 * d1) % 11 % 10
    return f"{nine}{d1}{d2}"


def boleto_line(bank: str, due: date, amount: Decimal, free_field: str) -> str:
    """A bank boleto digitable line (47 digits) with correct check digits."""
    factor = f"{boleto_factor(due):04d}"
    cents = int(amount * 100)
    value = f"{cents:010d}" if cents < 10**10 else "0" * 10
    general = boleto_bank_check_digit(bank + "9" + factor + value + free_field)
    fields = (bank + "9" + free_field[:5], free_field[5:15], free_field[15:25])
    return (
        "".join(f + str(boleto_field_check_digit(f)) for f in fields)
        + str(general)
        + factor
        + value
    )


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def _ascii_upper(text: str, limit: int) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.upper()[:limit].strip()


def pix_code(key: str, amount: Decimal, merchant: str, city: str, txid: str) -> str:
    """A static PIX copy-and-paste code (EMV BR Code) with its CRC."""
    account = _tlv("00", "br.gov.bcb.pix") + _tlv("01", key)
    payload = (
        _tlv("00", "01")
        + _tlv("26", account)
        + _tlv("52", "0000")
        + _tlv("53", "986")
        + _tlv("54", f"{amount:.2f}")
        + _tlv("58", "BR")
        + _tlv("59", _ascii_upper(merchant, 25))
        + _tlv("60", _ascii_upper(city, 15))
        + _tlv("62", _tlv("05", txid[:25]))
        + "6304"
    )
    return payload + pix_crc(payload)


class _Generator:
    def __init__(self, seed: int, today: date, campaign: str | None, prefix: str) -> None:
        data = seed_data()
        self.rng = random.Random(seed)
        self.today = today
        self.campaign = campaign or ""
        self.prefix = f"{prefix}{seed}"
        self.data = data
        self.br_places = data["br_places"]
        self.br_weights = [p["weight"] for p in self.br_places]
        self.us_places = data["us_places"]
        self.us_weights = [p["weight"] for p in self.us_places]
        self.ddds = sorted(BR_DDD_STATE)
        self.br_creditors = [
            (
                c["name"],
                stdnum_cnpj.format(
                    c["cnpj_base"] + stdnum_cnpj.calc_check_digits(c["cnpj_base"] + "00")
                ),
            )
            for c in data["br_creditors"]
        ]
        self.us_creditors = [
            (c["name"], f"{c['ein'][:2]}-{c['ein'][2:]}") for c in data["us_creditors"]
        ]

    # -- people

    def _br_name(self) -> str:
        r = self.rng
        surnames = r.sample(self.data["br_surnames"], r.choice((1, 2, 2, 3)))
        if len(surnames) > 1 and r.random() < 0.3:
            # "Maria da Silva", "João dos Santos", "Ana de Souza"
            last = surnames[-1]
            particle = (
                "dos"
                if last in ("Santos", "Reis", "Anjos")
                else r.choice(self.data["br_particles"])
            )
            surnames.insert(-1, particle)
        return " ".join([r.choice(self.data["br_first_names"]), *surnames])

    def _us_name(self) -> str:
        r = self.rng
        middle = f" {chr(r.randrange(65, 91))}." if r.random() < 0.3 else ""
        return (
            f"{r.choice(self.data['us_first_names'])}{middle} {r.choice(self.data['us_surnames'])}"
        )

    def _cpf(self) -> str:
        r = self.rng
        while True:
            nine = f"{r.randrange(10**9):09d}"
            if len(set(nine)) > 1:
                break
        number = cpf_with_check_digits(nine)
        if r.random() < 0.6:
            return f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"
        return number

    def _ssn(self) -> str:
        r = self.rng
        area = r.randrange(1, 900)
        while area == 666:
            area = r.randrange(1, 900)
        return f"{area:03d}-{r.randrange(1, 100):02d}-{r.randrange(1, 10000):04d}"

    def _email(self, name: str) -> str:
        r = self.rng
        if r.random() < 0.35:
            return ""
        parts = _ascii_upper(name, 200).lower().replace("'", "").split()
        user = f"{parts[0]}.{parts[-1]}" if r.random() < 0.7 else f"{parts[0]}{r.randrange(1, 999)}"
        return f"{user}@{r.choice(self.data['email_domains'])}"

    def _br_phone(self, ddd: str, mobile: bool) -> str:
        r = self.rng
        if mobile:
            number = f"9{r.randrange(6, 10)}{r.randrange(10**7):07d}"
            styles: tuple[str, ...] = (
                f"({ddd}) {number[:5]}-{number[5:]}",
                f"{ddd}{number}",
                f"+55 {ddd} {number[:5]}-{number[5:]}",
                f"{ddd} {number[:5]} {number[5:]}",
            )
        else:
            number = f"{r.randrange(2, 6)}{r.randrange(10**7):07d}"
            styles = (
                f"({ddd}) {number[:4]}-{number[4:]}",
                f"{ddd}{number}",
                f"+55 {ddd} {number[:4]}-{number[4:]}",
            )
        return r.choice(styles)

    def _us_phone(self, area_code: str) -> str:
        line = f"01{self.rng.randrange(100):02d}"  # 555-0100..0199: reserved for fiction
        return self.rng.choice(
            (f"({area_code}) 555-{line}", f"{area_code}-555-{line}", f"+1 {area_code} 555 {line}")
        )

    def debtor(self, index: int) -> dict[str, str]:
        r = self.rng
        cells = dict.fromkeys(SEED_COLUMNS, "")
        cells["debtor_external_id"] = f"{self.prefix}-D{index:07d}"
        birth = date(1950, 1, 1) + timedelta(days=r.randrange(365 * 55))
        cells["birth_date"] = birth.isoformat() if r.random() < 0.9 else ""
        if r.random() < US_SHARE:
            place = r.choices(self.us_places, self.us_weights)[0]
            name = self._us_name()
            cells.update(
                full_name=name,
                document=self._ssn(),
                country="US",
                state=place["state"],
                city=place["city"],
                zip=r.choice(place["zip"])
                + (f"-{r.randrange(10000):04d}" if r.random() < 0.3 else ""),
                address=f"{r.randrange(1, 9999)} {r.choice(self.data['us_streets'])}",
                language="en-US" if r.random() < 0.5 else "",
            )
            area_codes = list(place["area_codes"])
            if r.random() < 0.2:  # kept the number after moving from another state
                area_codes.insert(0, r.choice(r.choice(self.us_places)["area_codes"]))
            for slot in range(1, r.choice((1, 1, 2)) + 1):
                mobile = r.random() < 0.75
                cells[f"phone{slot}"] = self._us_phone(area_codes[(slot - 1) % len(area_codes)])
                cells[f"phone{slot}_type"] = "mobile" if mobile else "landline"
                if mobile:
                    cells[f"phone{slot}_consent"] = "yes" if r.random() < 0.6 else "no"
        else:
            place = r.choices(self.br_places, self.br_weights)[0]
            name = self._br_name()
            cells.update(
                full_name=name,
                document=self._cpf(),
                state=place["state"],
                city=place["city"],
                zip=f"{r.choice(place['cep'])}-{r.randrange(1000):03d}",
                address=f"{r.choice(self.data['br_streets'])}, {r.randrange(1, 3000)}",
                country="BR" if r.random() < 0.5 else "",
            )
            ddd = place["ddd"]
            if r.random() < 0.12:  # a number from another state: the zone is uncertain
                ddd = r.choice(self.ddds)
            for slot in range(1, r.choice((1, 1, 2, 2, 3)) + 1):
                mobile = slot == 1 or r.random() < 0.6
                cells[f"phone{slot}"] = self._br_phone(
                    ddd if slot == 1 or r.random() < 0.8 else r.choice(self.ddds), mobile
                )
                if r.random() < 0.3:
                    cells[f"phone{slot}_type"] = "mobile" if mobile else "landline"
            if r.random() < 0.3:
                cells["preferred_channel"] = "whatsapp"
            if r.random() < 0.01:
                cells["timezone"] = r.choice(_ZONE_OVERRIDES)
        cells["email"] = self._email(name)
        if r.random() < 0.15:
            cells["preferred_start"], cells["preferred_end"] = r.choice(_PREFERRED_HOURS)
        return cells

    # -- debts

    def _amount(self) -> Decimal:
        r = self.rng
        band = r.random()
        low, high = (50, 500) if band < 0.4 else (500, 5000) if band < 0.85 else (5000, 50000)
        return Decimal(r.randrange(low * 100, high * 100)) / 100

    def debts(self, debtor: dict[str, str], index: int) -> Iterator[dict[str, str]]:
        r = self.rng
        us = debtor["country"] == "US"
        for number in range(1, r.choices((1, 2, 3), (60, 30, 10))[0] + 1):
            row = dict(debtor)
            principal = self._amount()
            days_late = r.randrange(5, 401)
            due = self.today - timedelta(days=days_late)
            if us:
                creditor_name, creditor_document = r.choice(self.us_creditors)
                fee = Decimal(r.choice((0, 0, 25, 35)))
                interest = (principal * Decimal("0.015") * (days_late // 30)).quantize(
                    Decimal("0.01"), ROUND_DOWN
                )
            else:
                creditor_name, creditor_document = r.choice(self.br_creditors)
                fee = (
                    (principal * Decimal("0.02")).quantize(Decimal("0.01"), ROUND_DOWN)
                    if r.random() < 0.8
                    else Decimal(0)
                )
                interest = (principal * Decimal("0.01") * (days_late // 30)).quantize(
                    Decimal("0.01"), ROUND_DOWN
                )
            debt_id = f"{self.prefix}-C{index:07d}-{number}"
            status = r.choices([s for s, _ in _STATUSES], [w for _, w in _STATUSES])[0]
            row.update(
                debt_external_id=debt_id,
                creditor_name=creditor_name,
                creditor_document=creditor_document,
                currency="USD" if us else ("BRL" if r.random() < 0.5 else ""),
                principal=self._brazilian(principal)
                if not us and r.random() < 0.3
                else f"{principal:.2f}",
                fee=f"{fee:.2f}" if fee or r.random() < 0.5 else "",
                interest=f"{interest:.2f}",
                due_date=due.isoformat(),
                status=status if status != "open" or r.random() < 0.5 else "",
                campaign=self.campaign,
            )
            total = principal + fee + interest
            if us:
                if r.random() < 0.9:
                    row["payment_link"] = f"https://pay.example.com/us/{debt_id}"
            else:
                if r.random() < 0.8:
                    free = f"{r.randrange(10**25):025d}"
                    row["boleto"] = boleto_line(
                        r.choice(_BANKS), self.today + timedelta(days=7), total, free
                    )
                if r.random() < 0.7:
                    key = f"{r.getrandbits(128):032x}"
                    key = f"{key[:8]}-{key[8:12]}-4{key[13:16]}-a{key[17:20]}-{key[20:]}"
                    row["pix"] = pix_code(
                        key,
                        total,
                        creditor_name,
                        debtor["city"] or "BRASIL",
                        debt_id.replace("-", ""),
                    )
                if r.random() < 0.5:
                    row["payment_link"] = f"https://pay.example.com/br/{debt_id}"
            yield row

    @staticmethod
    def _brazilian(amount: Decimal) -> str:
        whole, cents = f"{amount:.2f}".split(".")
        groups: list[str] = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        return ".".join([whole, *groups]) + "," + cents


def portfolio_rows(
    debtors: int,
    seed: int = 1,
    today: date | None = None,
    campaign: str | None = DEMO_CAMPAIGN,
    prefix: str = "SEED",
) -> Iterator[dict[str, str]]:
    """Rows of the import format (one per debt) for `debtors` made-up debtors."""
    generator = _Generator(seed, today or date(2026, 1, 1), campaign, prefix)
    for index in range(1, debtors + 1):
        yield from generator.debts(generator.debtor(index), index)


def ensure_demo_campaign(runtime: Runtime) -> int:
    """The "Demo" campaign (draft, weekdays 09:00-18:00), created when missing."""
    with runtime.db.session() as session:
        existing = session.scalar(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN))
        if existing is not None:
            return existing.id
        campaign = Campaign(
            name=DEMO_CAMPAIGN,
            status="draft",
            caller_id=runtime.config.get("CORDIAL_CALLBACK_NUMBER"),
            created_at=runtime.clock.now(),
            windows=[CallingWindow(weekday=d, start=s, end=e) for d, s, e in DEMO_WINDOWS],
        )
        session.add(campaign)
        session.flush()
        return campaign.id


@dataclass
class SeedReport:
    debtors: int
    seed: int
    campaign: str
    rows: ImportReport

    def as_json(self) -> dict[str, Any]:
        return {
            "debtors": self.debtors,
            "seed": self.seed,
            "campaign": self.campaign,
            "debts": self.rows.rows,
            "imported": self.rows.imported,
            "updated": self.rows.updated,
            "rejected": self.rows.rejected,
            "seconds": round(self.rows.seconds, 3),
        }


def seed_portfolio(
    runtime: Runtime,
    debtors: int,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Generate `debtors` debtors with their phones, debts and payment instruments, and the Demo campaign."""
    started = timer.perf_counter()
    ensure_demo_campaign(runtime)
    now = runtime.clock.now()
    report = import_rows(
        runtime.db,
        portfolio_rows(debtors, seed, now.date()),
        now=now,
        source=f"seed {seed}",
        progress=progress,
    )
    report.seconds = timer.perf_counter() - started
    return SeedReport(debtors=debtors, seed=seed, campaign=DEMO_CAMPAIGN, rows=report)


__all__ = [
    "DEMO_CAMPAIGN",
    "SEED_COLUMNS",
    "SeedReport",
    "boleto_line",
    "cpf_with_check_digits",
    "ensure_demo_campaign",
    "pix_code",
    "portfolio_rows",
    "seed_portfolio",
]
