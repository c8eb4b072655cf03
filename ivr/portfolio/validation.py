"""The portfolio CSV format and the check of one row against it.

A row is one debt with its debtor. Validation turns the row's text cells into
a `PortfolioRow` of typed values, or into a list of `FieldError`s that each
name the column, the value and what was expected. Pure: no database, no clock
(the import date is a parameter). The format is documented in
docs/import-format.md; keep the two in step.
"""

from __future__ import annotations

import binascii
import re
import zoneinfo
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from operator import itemgetter, mul
from typing import Any, NamedTuple

from stdnum.br import cnpj as stdnum_cnpj
from stdnum.exceptions import ValidationError
from stdnum.us import ein as stdnum_ein

from ivr.models import DebtStatus
from ivr.portfolio.documents import validate_cpf, validate_ssn
from ivr.portfolio.phones import PhoneError, parse_phone

BR_STATES = frozenset(
    [
        "AC",
        "AL",
        "AP",
        "AM",
        "BA",
        "CE",
        "DF",
        "ES",
        "GO",
        "MA",
        "MT",
        "MS",
        "MG",
        "PA",
        "PB",
        "PR",
        "PE",
        "PI",
        "RJ",
        "RN",
        "RS",
        "RO",
        "RR",
        "SC",
        "SP",
        "SE",
        "TO",
    ]
)
US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
    ]
)
COUNTRIES = {"BR": "BR", "US": "US"}
DEFAULT_LANGUAGE = {"BR": "pt-BR", "US": "en-US"}
DEFAULT_CURRENCY = {"BR": "BRL", "US": "USD"}
CURRENCIES = frozenset({"BRL", "USD"})
LANGUAGES = {"pt-br": "pt-BR", "en-us": "en-US"}
CHANNELS = frozenset({"sms", "whatsapp"})
STATUSES = frozenset(s.value for s in DebtStatus)
PHONE_TYPES = {"mobile": "mobile", "landline": "landline"}
YES = frozenset({"yes", "y", "true", "1", "sim", "s"})
NO = frozenset({"no", "n", "false", "0", "nao", "não"})

PHONE_SLOTS = 9  # phone1 .. phone9
# CDC art. 52 §1: a late fee (multa) of at most 2% of the installment.
BR_LATE_FEE_CAP_PERCENT = 2
MAX_AMOUNT = Decimal("1000000000000")  # a trillion: anything larger is a typo


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    meaning: str


# The format, in the order the sample file and the documentation use.
COLUMNS: tuple[Column, ...] = (
    Column(
        "debtor_external_id",
        True,
        "the debtor's id in the creditor's system; rows with the same id are one debtor",
    ),
    Column("full_name", True, "the debtor's full name"),
    Column("document", True, "CPF (BR) or SSN (US), with or without punctuation"),
    Column("birth_date", False, "YYYY-MM-DD"),
    Column("country", False, "BR or US (default BR)"),
    Column("state", False, "UF (BR) or USPS state code (US)"),
    Column("city", False, "city name"),
    Column("zip", False, "CEP with 8 digits (BR); ZIP with 5 or 9 digits (US)"),
    Column("address", False, "street address"),
    Column("email", False, "e-mail address"),
    Column("language", False, "pt-BR or en-US (default by country)"),
    Column(
        "timezone",
        False,
        "IANA time zone that overrides the one derived from the address, e.g. America/Manaus",
    ),
    Column("preferred_start", False, "HH:MM, start of the debtor's preferred calling hours"),
    Column("preferred_end", False, "HH:MM, end of the debtor's preferred calling hours"),
    Column("preferred_channel", False, "sms or whatsapp, for second copies (default sms)"),
    *(
        column
        for n in range(1, PHONE_SLOTS + 1)
        for column in (
            Column(
                f"phone{n}",
                n == 1,
                "phone number in any usual form; +country code for a foreign number",
            ),
            Column(
                f"phone{n}_type",
                False,
                "mobile or landline (default: from the number where the plan tells)",
            ),
            Column(
                f"phone{n}_consent",
                False,
                "yes or no: prior express consent to prerecorded calls (US mobiles)",
            ),
        )
    ),
    Column("debt_external_id", True, "the contract id; one row per debt"),
    Column("creditor_name", True, "the creditor's legal name"),
    Column("creditor_document", True, "the creditor's CNPJ (BR) or EIN (US)"),
    Column("currency", False, "BRL or USD (default by country)"),
    Column("principal", True, "amount owed, e.g. 1234.56 or 1.234,56"),
    Column(
        "fee",
        False,
        "late fee (multa); at most 2% of the principal for Brazilian debtors (default 0)",
    ),
    Column("interest", False, "late interest (default 0)"),
    Column("due_date", True, "YYYY-MM-DD"),
    Column("status", False, "open, paid, disputed, agreement or closed (default open)"),
    Column("campaign", False, "name of an existing campaign"),
    Column("boleto", False, "boleto digitable line (47 or 48 digits)"),
    Column("pix", False, "PIX copy-and-paste code (BR Code)"),
    Column("payment_link", False, "https:// link where the debt can be paid"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
_INDEX = {name: i for i, name in enumerate(COLUMN_NAMES)}
_REQUIRED_INDEXES = tuple(_INDEX[name] for name in REQUIRED_COLUMNS)
_DEBT_START = _INDEX["debt_external_id"]


class HeaderError(ValueError):
    """The header line cannot be read as this format; nothing was imported."""


class FieldError(NamedTuple):
    line: int
    column: str
    value: str
    reason: str


# One phone of a row: (E.164 number, line type, line type given in the file,
# robocall consent, priority: 0 for phone1). A plain tuple: rows are built and
# shipped between processes by the million.
PhoneEntry = tuple[str, str, bool, bool, int]


class PortfolioRow(NamedTuple):
    """One valid row. `None` in an optional field means the cell was blank.

    Values are in their stored form, the same on SQLite and PostgreSQL: money
    in integer cents, dates as ISO text (YYYY-MM-DD), times of day as
    HH:MM:SS.ffffff. The debtor's fields come first, in the order of the
    debtor table (`row[1:17]`). A named tuple of plain values: rows cross a
    process boundary by the million in bulk imports, and these pickle fast.
    """

    line: int
    debtor_external_id: str
    full_name: str
    document_kind: str
    document: str
    birth_date: str | None
    country: str
    state: str | None
    city: str | None
    zip_code: str | None
    address_line: str | None
    email: str | None
    language: str | None
    timezone_override: str | None
    preferred_start: str | None
    preferred_end: str | None
    preferred_channel: str | None
    phones: list[PhoneEntry]
    debt_external_id: str
    creditor_legal_id: str
    creditor_name: str
    creditor_country: str
    currency: str | None
    principal_cents: int
    fee_cents: int | None
    interest_cents: int | None
    due_date: str
    status: str | None
    campaign: str | None
    boleto: str | None
    boleto_due: str | None
    pix: str | None
    payment_link: str | None


class Layout:
    """Where each known column sits in the file's rows."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.width = len(names)
        self.positions = [-1] * len(COLUMN_NAMES)
        for position, name in enumerate(names):
            self.positions[_INDEX[name]] = position
        self.phone_slots = [n for n in range(1, PHONE_SLOTS + 1) if f"phone{n}" in names]
        # Cells of every known column in format order, as one C-level call:
        # absent columns read a blank appended after the row's own cells.
        blank = len(names)
        self.cells_in_order = itemgetter(*(p if p >= 0 else blank for p in self.positions))


def read_header(fields: list[str]) -> Layout:
    """Check the header line; raise HeaderError naming every problem and the expected columns."""
    names = [f.strip().lower() for f in fields]
    problems: list[str] = []
    unknown = [n for n in names if n not in _INDEX]
    if unknown:
        problems.append(
            "unknown column"
            + ("s " if len(unknown) > 1 else " ")
            + ", ".join(repr(n) for n in unknown)
        )
    duplicated = sorted(n for n, times in Counter(names).items() if times > 1)
    if duplicated:
        problems.append(
            "repeated column" + ("s " if len(duplicated) > 1 else " ") + ", ".join(duplicated)
        )
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if missing:
        problems.append(
            "missing required column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)
        )
    orphans = [
        n
        for n in names
        if n in _INDEX and n.startswith("phone") and "_" in n and n.split("_")[0] not in names
    ]
    if orphans:
        problems.append(
            ", ".join(orphans)
            + " without the phone column "
            + ", ".join(sorted({o.split("_")[0] for o in orphans}))
        )
    if problems:
        raise HeaderError(
            "bad header: "
            + "; ".join(problems)
            + ". Required columns: "
            + ", ".join(REQUIRED_COLUMNS)
            + ". Optional columns: "
            + ", ".join(
                n for n in COLUMN_NAMES if n not in REQUIRED_COLUMNS and not _is_extra_phone(n)
            )
            + ", and phone2..phone9 with their _type and _consent (see docs/import-format.md)"
        )
    return Layout(names)


def _is_extra_phone(name: str) -> bool:
    return name.startswith("phone") and not name.startswith("phone1")


# ---------------------------------------------------------------------------
# Values


class _Invalid(ValueError):
    """A cell's value is wrong; the message is the reason shown to the user."""


_CPF_SEPARATORS = str.maketrans("", "", " -.")


def cpf_check_digits_ok(text: str) -> bool | None:
    """Fast CPF check for the usual spellings (digits, dots, dash): True or False.

    Agrees with `stdnum.br.cpf.is_valid`; returns None for spellings it does not
    handle (stdnum decides those).
    """
    number = text.translate(_CPF_SEPARATORS)
    if len(number) != 11 or not number.isascii() or not number.isdigit():
        return None
    b = number.encode()
    # Weighted sums of the digit values; 48 is ord("0"), 54 and 63 the sums of the weights.
    s1 = (
        10 * b[0]
        + 9 * b[1]
        + 8 * b[2]
        + 7 * b[3]
        + 6 * b[4]
        + 5 * b[5]
        + 4 * b[6]
        + 3 * b[7]
        + 2 * b[8]
        - 48 * 54
    )
    d1 = (11 - s1) % 11 % 10
    s2 = (
        11 * b[0]
        + 10 * b[1]
        + 9 * b[2]
        + 8 * b[3]
        + 7 * b[4]
        + 6 * b[5]
        + 5 * b[6]
        + 4 * b[7]
        + 3 * b[8]
        - 48 * 63
        + 2 * d1
    )
    d2 = (11 - s2) % 11 % 10
    return b[9] - 48 == d1 and b[10] - 48 == d2 and number != "00000000000"


def parse_cpf(text: str) -> str:
    """The CPF's 11 digits, or _Invalid."""
    ok = cpf_check_digits_ok(text)
    if ok:
        number = text.translate(_CPF_SEPARATORS)
    else:
        try:
            number = validate_cpf(text)
        except ValueError as exc:
            raise _Invalid(str(exc)) from None
    if number == number[0] * 11:
        raise _Invalid("a CPF of one repeated digit is a placeholder, not a person's document")
    return number


def parse_ssn(text: str) -> str:
    try:
        return validate_ssn(text)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


_PLAIN_AMOUNT = re.compile(r"(\d+)(?:\.(\d\d?))?")
_BR_DECIMAL = re.compile(r"\d+,\d{1,2}")
_BR_GROUPED = re.compile(r"\d{1,3}(?:\.\d{3})+,\d{1,2}|\d{1,3}(?:\.\d{3}){2,}")
_US_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+\.\d{1,2}|\d{1,3}(?:,\d{3}){2,}")
_AMBIGUOUS = re.compile(r"\d{1,3}[.,]\d{3}")
_TOO_PRECISE = re.compile(r"[\d.,]*[.,]\d{3,}")
_CURRENCY_SIGNS = ("R$", "US$", "$")


def parse_amount(text: str) -> Decimal:
    """An amount written as 1234.56, 1.234,56, 1234,56 or 1,234.56; never negative."""
    value = text.strip()
    if _PLAIN_AMOUNT.fullmatch(value):
        amount = Decimal(value)
    else:
        for sign in _CURRENCY_SIGNS:
            if value.startswith(sign):
                value = value[len(sign) :].strip()
                break
        if value.startswith("-") or value.endswith("-") or value.startswith("("):
            raise _Invalid("negative amount; amounts owed are zero or more")
        if _PLAIN_AMOUNT.fullmatch(value):
            amount = Decimal(value)
        elif _BR_DECIMAL.fullmatch(value) or _BR_GROUPED.fullmatch(value):
            amount = Decimal(value.replace(".", "").replace(",", "."))
        elif _US_GROUPED.fullmatch(value):
            amount = Decimal(value.replace(",", ""))
        elif _AMBIGUOUS.fullmatch(value):
            raise _Invalid(
                "ambiguous amount: a single separator before three digits may group thousands "
                "or mark three decimals; write e.g. 1234.00 or 1.234,00"
            )
        elif _TOO_PRECISE.fullmatch(value):
            raise _Invalid("more than two decimal places; amounts are in cents")
        else:
            raise _Invalid("not an amount; expected e.g. 1234.56 or 1.234,56")
    if amount >= MAX_AMOUNT:
        raise _Invalid("amount too large (a trillion or more)")
    return amount


def parse_cents(text: str) -> int:
    """`parse_amount` in integer cents (how money is stored)."""
    plain = _PLAIN_AMOUNT.fullmatch(text)
    if plain is not None and len(text) < 13:
        whole, fraction = plain.groups()
        if fraction is None:
            return int(whole) * 100
        return int(whole) * 100 + int(fraction) * (10 if len(fraction) == 1 else 1)
    return int(parse_amount(text) * 100)


def format_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def parse_date(text: str, earliest: date, latest: date) -> date:
    value = text.strip()
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise _Invalid("not a date; expected YYYY-MM-DD, e.g. 2026-03-14")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _Invalid("no such day; expected a real date as YYYY-MM-DD") from None
    if not earliest <= day <= latest:
        raise _Invalid(
            f"date out of range; expected between {earliest.isoformat()} and {latest.isoformat()}"
        )
    return day


def parse_time(text: str) -> time:
    value = text.strip()
    hours, sep, minutes = value.partition(":")
    if (
        sep
        and (hours + minutes).isascii()
        and hours.isdigit()
        and minutes.isdigit()
        and len(hours) in (1, 2)
        and len(minutes) == 2
    ):
        h, m = int(hours), int(minutes)
        if h < 24 and m < 60:
            return time(h, m)
    raise _Invalid("not a time of day; expected HH:MM (24-hour), e.g. 09:00")


def parse_zip(text: str, country: str) -> str:
    digits = text.strip().replace("-", "").replace(".", "").replace(" ", "")
    if not digits.isascii() or not digits.isdigit() or set(digits) == {"0"}:
        digits = ""
    if country == "BR":
        if len(digits) == 8:
            return digits
        raise _Invalid("not a CEP; expected 8 digits, e.g. 01310-100")
    if len(digits) == 5:
        return digits
    if len(digits) == 9:
        return f"{digits[:5]}-{digits[5:]}"
    raise _Invalid("not a ZIP code; expected 5 digits or ZIP+4, e.g. 02108 or 02108-1234")


_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]{2,}")


def parse_email(text: str) -> str:
    value = text.strip()
    if len(value) > 200 or not _EMAIL.fullmatch(value):
        raise _Invalid("not an e-mail address; expected e.g. maria@example.com")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


_ZONES: dict[str, bool] = {}


def parse_timezone(text: str) -> str:
    value = text.strip()
    known = _ZONES.get(value)
    if known is None:
        try:
            zoneinfo.ZoneInfo(value)
            known = "/" in value or value == "UTC"
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            known = False
        if len(_ZONES) < 10_000:
            _ZONES[value] = known
    if not known:
        raise _Invalid("not an IANA time zone; expected e.g. America/Sao_Paulo or America/New_York")
    return value


# Digit sums as table look-ups over the ASCII bytes, so the loops run in C.
_DOUBLED_DIGIT_SUM = (
    bytes(range(48)) + bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)) + bytes(range(58, 256))
)
_MOD11_WEIGHTS: dict[int, tuple[int, ...]] = {}


def _mod10(digits: str) -> int:
    """FEBRABAN module 10: weights 2, 1, 2, ... from the right, digits of each product summed."""
    raw = digits.encode()
    doubled = raw[-1::-2]
    single = raw[-2::-2]
    total = sum(doubled.translate(_DOUBLED_DIGIT_SUM)) + sum(single) - 48 * len(single)
    return (10 - total % 10) % 10


def _mod11_remainder(digits: str) -> int:
    """Sum of the digits weighted 2..9 from the right, repeating, modulo 11."""
    weights = _MOD11_WEIGHTS.get(len(digits))
    if weights is None:
        weights = _MOD11_WEIGHTS[len(digits)] = tuple(2 + (i % 8) for i in range(len(digits)))[::-1]
    raw = digits.encode()
    return (sum(map(mul, weights, raw)) - 48 * sum(weights)) % 11


def boleto_bank_check_digit(barcode_without_dv: str) -> int:
    """General check digit of a bank boleto's 44-digit bar code (FEBRABAN mod 11)."""
    remainder = _mod11_remainder(barcode_without_dv)
    return 1 if remainder in (0, 1) else 11 - remainder


def boleto_field_check_digit(digits: str) -> int:
    return _mod10(digits)


_BOLETO_SEPARATORS = str.maketrans("", "", " .-")
_OLD_FACTOR_BASE = date(1997, 10, 7)
_NEW_FACTOR_BASE = date(2025, 2, 22)  # the due-date factor wrapped from 9999 back to 1000


def parse_boleto(text: str) -> str:
    """The digitable line's digits (47: bank boleto; 48: utility/tax "arrecadação")."""
    line = text.translate(_BOLETO_SEPARATORS)
    if not line.isascii() or not line.isdigit() or len(line) not in (47, 48):
        raise _Invalid(
            "not a boleto digitable line; expected 47 digits (bank) or 48 digits (utilities/taxes)"
        )
    if len(line) == 47:
        for n, (start, end) in enumerate(((0, 9), (10, 20), (21, 31)), start=1):
            if _mod10(line[start:end]) != ord(line[end]) - 48:
                raise _Invalid(
                    f"boleto line: check digit of field {n} does not match (mistyped digit?)"
                )
        barcode = line[0:4] + line[32] + line[33:47] + line[4:9] + line[10:20] + line[21:31]
        if boleto_bank_check_digit(barcode[:4] + barcode[5:]) != ord(barcode[4]) - 48:
            raise _Invalid("boleto line: general check digit does not match (mistyped digit?)")
        return line
    if line[0] != "8" or line[2] not in "6789":
        raise _Invalid(
            "not a boleto digitable line; a 48-digit line starts with 8 and its third digit is 6 to 9"
        )
    mod10 = line[2] in "67"
    blocks = [line[i * 12 : i * 12 + 11] for i in range(4)]
    for n, block in enumerate(blocks, start=1):
        expected = _mod10(block) if mod10 else _arrecadacao_mod11(block)
        if expected != ord(line[n * 12 - 1]) - 48:
            raise _Invalid(
                f"boleto line: check digit of block {n} does not match (mistyped digit?)"
            )
    barcode = "".join(blocks)
    rest = barcode[:3] + barcode[4:]
    expected = _mod10(rest) if mod10 else _arrecadacao_mod11(rest)
    if expected != ord(barcode[3]) - 48:
        raise _Invalid("boleto line: general check digit does not match (mistyped digit?)")
    return line


def _arrecadacao_mod11(digits: str) -> int:
    remainder = _mod11_remainder(digits)
    return 0 if remainder in (0, 1) else 11 - remainder


def boleto_due_date(line: str, near: date) -> date | None:
    """The due date a bank boleto line encodes (its factor), the reading closest to `near`."""
    if len(line) != 47 or line[33:37] == "0000":
        return None
    factor = int(line[33:37])
    readings = [_OLD_FACTOR_BASE + timedelta(days=factor)]
    if factor >= 1000:
        readings.append(_NEW_FACTOR_BASE + timedelta(days=factor - 1000))
    return min(readings, key=lambda d: abs((d - near).days))


def boleto_factor(due: date) -> int:
    """The due-date factor of a bank boleto (inverse of `boleto_due_date`)."""
    if due >= _NEW_FACTOR_BASE:
        return 1000 + (due - _NEW_FACTOR_BASE).days % 9000
    return (due - _OLD_FACTOR_BASE).days


def pix_crc(payload: str) -> str:
    """CRC16/CCITT-FALSE of a BR Code payload up to and including "6304", as 4 hex digits."""
    return f"{binascii.crc_hqx(payload.encode('utf-8'), 0xFFFF):04X}"


def parse_pix(text: str) -> str:
    code = text.strip()
    if not code.startswith("000201") or len(code) < 40 or len(code) > 512:
        raise _Invalid("not a PIX copy-and-paste code; it starts with 000201 (EMV BR Code)")
    if code[-8:-4] != "6304":
        raise _Invalid("PIX code is truncated: it must end with its CRC field 6304XXXX")
    if code[-4:].upper() != pix_crc(code[:-4]):
        raise _Invalid("PIX code's CRC does not match its content (changed or truncated code)")
    # Walk the top-level fields (2-digit tag, 2-digit length, value) up to the CRC.
    end = len(code) - 8
    position = 0
    has_key = False
    while position < end:
        size = code[position + 2 : position + 4]
        if not (size.isascii() and size.isdigit()):
            break
        start, position = position + 4, position + 4 + int(size)
        if not has_key and "26" <= code[start - 4 : start - 2] <= "51":
            has_key = "br.gov.bcb.pix" in code[start:position].lower()
    if position != end:
        raise _Invalid("PIX code is malformed (its fields do not add up)")
    if not has_key:
        raise _Invalid("PIX code has no PIX key (no merchant account with br.gov.bcb.pix)")
    return code


_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?#][^\s]*)?")


def parse_link(text: str) -> str:
    value = text.strip()
    if len(value) > 2000 or not _HTTPS_URL.fullmatch(value):
        raise _Invalid(
            "not an https:// link; payment links must be https URLs, e.g. https://pay.example.com/c/123"
        )
    return value


_CREDITORS: dict[str, tuple[str, str] | str] = {}


def parse_creditor_document(text: str) -> tuple[str, str]:
    """(legal id, country): a CNPJ (14 characters) or a US EIN (9 digits)."""
    value = text.strip()
    known = _CREDITORS.get(value)
    if known is None:
        compact = value.replace(".", "").replace("/", "").replace("-", "").replace(" ", "").upper()
        try:
            if len(compact) == 9 and compact.isascii() and compact.isdigit():
                known = (stdnum_ein.validate(compact), "US")
            elif len(compact) == 14:
                known = (stdnum_cnpj.validate(compact), "BR")
            else:
                known = "not a CNPJ (14 characters, e.g. 11.222.333/0001-81) or an EIN (9 digits, e.g. 12-3456789)"
        except ValidationError as exc:
            kind = "EIN" if len(compact) == 9 else "CNPJ"
            known = f"not a valid {kind} ({str(exc).lower().rstrip('.')})"
        if len(_CREDITORS) >= 10_000:
            _CREDITORS.clear()
        _CREDITORS[value] = known
    if isinstance(known, str):
        raise _Invalid(known)
    return known


def _text(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise _Invalid(f"{what} longer than {limit} characters")
    if not value.isprintable():
        raise _Invalid(f"{what} contains control characters (a line break inside a quoted value?)")
    return " ".join(value.split()) if "  " in value else value


# ---------------------------------------------------------------------------
# Rows


class RowValidator:
    """Checks rows of one file against its header (remembering only the last debtor checked)."""

    def __init__(self, layout: Layout, today: date) -> None:
        self.layout = layout
        self.today = today
        self.birth_range = (date(1900, 1, 1), today)
        self.due_range = (date(1970, 1, 1), date(2099, 12, 31))
        self.slots = [
            (n, _INDEX[f"phone{n}"], _INDEX[f"phone{n}_type"], _INDEX[f"phone{n}_consent"])
            for n in layout.phone_slots
        ]
        self._last_debtor_cells: list[str] | None = None
        self._last_debtor: tuple[tuple[Any, ...], list[PhoneEntry]] = ((), [])

    def _debtor(
        self, v: list[str], bad: Callable[[str, str], None], checked: Callable[..., Any]
    ) -> tuple[tuple[Any, ...], list[PhoneEntry]]:
        """The debtor's fields (in PortfolioRow order) and phones; problems go to `bad`."""
        (
            debtor_external_id,
            full_name,
            document,
            birth_text,
            country_text,
            state_text,
            city,
            zip_text,
            address,
            email_text,
            language_text,
            tz_text,
            start_text,
            end_text,
            channel_text,
        ) = v[:15]
        # The common, valid case is checked inline; `checked` and the parse_*
        # functions explain what is wrong. (This loop runs a million times a file.)
        if len(debtor_external_id) > 64 or not debtor_external_id.isprintable():
            debtor_external_id = checked("debtor_external_id", _text, debtor_external_id, 64, "id")
        if len(full_name) > 200 or not full_name.isprintable() or "  " in full_name:
            full_name = checked("full_name", _text, full_name, 200, "name")

        country = COUNTRIES.get(country_text.upper()) if country_text else "BR"
        if country is None:
            bad("country", "unknown country; expected BR or US")
            country = "BR"
        if country == "BR":
            document_kind = "cpf"
            digits = document.translate(_CPF_SEPARATORS)
            if cpf_check_digits_ok(digits) and digits != digits[0] * 11:
                document = digits
            else:  # says what is wrong
                document = checked("document", parse_cpf, document)
        else:
            document_kind, document = "ssn", checked("document", parse_ssn, document)
        birth_date = None
        if birth_text:
            birth_day = _iso_date(birth_text)
            if birth_day is None or not self.birth_range[0] <= birth_day <= self.birth_range[1]:
                checked("birth_date", parse_date, birth_text, *self.birth_range)
            birth_date = birth_text
        state = None
        if state_text:
            state = state_text.upper()
            if state not in (BR_STATES if country == "BR" else US_STATES):
                if country == "BR":
                    bad("state", "not a Brazilian state; expected a UF such as SP, RJ or AM")
                else:
                    bad("state", "not a US state; expected a two-letter code such as NY, MA or CA")
        if city and (len(city) > 120 or not city.isprintable()):
            city = checked("city", _text, city, 120, "city")
        zip_code = checked("zip", parse_zip, zip_text, country) if zip_text else None
        if address and (len(address) > 200 or not address.isprintable()):
            address = checked("address", _text, address, 200, "address")
        email = checked("email", parse_email, email_text) if email_text else None
        language = None
        if language_text:
            language = LANGUAGES.get(language_text.lower().replace("_", "-"))
            if language is None:
                bad("language", "unknown language; expected pt-BR or en-US")
        timezone = checked("timezone", parse_timezone, tz_text) if tz_text else None
        start = checked("preferred_start", _stored_time, start_text) if start_text else None
        end = checked("preferred_end", _stored_time, end_text) if end_text else None
        if start is not None and end is not None and start >= end:
            bad("preferred_end", f"preferred hours end before they start ({start_text}–{end_text})")
        channel = None
        if channel_text:
            channel = channel_text.lower()
            if channel not in CHANNELS:
                bad("preferred_channel", "unknown channel; expected sms or whatsapp")

        phones: list[PhoneEntry] = []
        for n, number_ix, type_ix, consent_ix in self.slots:
            number_text = v[number_ix]
            if not number_text:
                continue
            try:
                parsed = parse_phone(number_text, country)
            except PhoneError as exc:
                bad(f"phone{n}", str(exc))
                continue
            type_text, consent_text = v[type_ix], v[consent_ix]
            line_type = parsed.line_type
            if type_text:
                given_type = PHONE_TYPES.get(type_text.lower())
                if given_type is None:
                    bad(f"phone{n}_type", "unknown line type; expected mobile or landline")
                    continue
                line_type = given_type
            consent = False
            if consent_text:
                answer = consent_text.lower()
                if answer in YES:
                    consent = True
                elif answer not in NO:
                    bad(f"phone{n}_consent", "expected yes or no")
                    continue
            if all(p[0] != parsed.e164 for p in phones):
                phones.append((parsed.e164, line_type, bool(type_text), consent, n - 1))

        debtor = (
            debtor_external_id,
            full_name,
            document_kind,
            document,
            birth_date,
            country,
            state,
            city or None,
            zip_code,
            address or None,
            email,
            language,
            timezone,
            start,
            end,
            channel,
        )
        return debtor, phones

    def validate(self, line: int, cells: list[str]) -> PortfolioRow | list[FieldError]:
        """The row as typed values, or every problem found in it."""
        layout = self.layout
        if len(cells) != layout.width:
            return [
                FieldError(
                    line,
                    "(row)",
                    _preview(cells),
                    f"row has {len(cells)} fields but the header has {layout.width} "
                    "(a delimiter inside an unquoted value, or a missing one?)",
                )
            ]
        v = list(map(str.strip, layout.cells_in_order(cells + _BLANK)))
        errors: list[FieldError] = []

        def bad(column: str, reason: str) -> None:
            errors.append(FieldError(line, column, v[_INDEX[column]], reason))

        def checked(column: str, parse: Callable[..., Any], *args: Any) -> Any:
            try:
                return parse(*args)
            except _Invalid as exc:
                bad(column, str(exc))
                return None
            except (ValueError, ArithmeticError) as exc:
                # A value no parser foresaw: this row is refused, never the whole import.
                bad(column, f"not understood ({str(exc)[:80]})")
                return None

        for i in _REQUIRED_INDEXES:
            if not v[i]:
                bad(COLUMN_NAMES[i], "required value is empty")
        if errors:
            # Other checks on a row missing its identity would only add noise.
            return errors

        (
            debt_external_id,
            creditor_name,
            creditor_doc,
            currency_text,
            principal_text,
            fee_text,
            interest_text,
            due_text,
            status_text,
            campaign,
            boleto_text,
            pix_text,
            link_text,
        ) = v[_DEBT_START:]

        # A debtor's columns repeat on each of its rows: check them once.
        debtor_cells = v[:_DEBT_START]
        if debtor_cells == self._last_debtor_cells:
            debtor, phones = self._last_debtor
        else:
            debtor, phones = self._debtor(v, bad, checked)
            if errors:
                self._last_debtor_cells = None
            else:
                self._last_debtor_cells, self._last_debtor = debtor_cells, (debtor, phones)
        country = debtor[5]

        if len(debt_external_id) > 64 or not debt_external_id.isprintable():
            debt_external_id = checked("debt_external_id", _text, debt_external_id, 64, "id")
        if len(creditor_name) > 200 or not creditor_name.isprintable() or "  " in creditor_name:
            creditor_name = checked("creditor_name", _text, creditor_name, 200, "name")
        creditor = checked("creditor_document", parse_creditor_document, creditor_doc)
        currency = None
        if currency_text:
            currency = currency_text.upper()
            if currency not in CURRENCIES:
                bad("currency", "unknown currency; expected BRL or USD")
        principal = checked("principal", parse_cents, principal_text)
        if principal is not None and principal <= 0:
            bad("principal", "principal must be more than zero")
        fee = checked("fee", parse_cents, fee_text) if fee_text else None
        interest = checked("interest", parse_cents, interest_text) if interest_text else None
        if country == "BR" and fee and principal:
            cap = (principal * BR_LATE_FEE_CAP_PERCENT + 50) // 100  # half up, in cents
            if fee > cap:
                bad(
                    "fee",
                    f"late fee above the 2% cap of CDC art. 52 (at most {format_cents(cap)} "
                    f"on a principal of {format_cents(principal)})",
                )
        due_day = _iso_date(due_text)
        if due_day is None or not self.due_range[0] <= due_day <= self.due_range[1]:
            due_day = checked("due_date", parse_date, due_text, *self.due_range)
        status = None
        if status_text:
            status = status_text.lower()
            if status not in STATUSES:
                bad("status", "unknown status; expected open, paid, disputed, agreement or closed")
        if campaign and (len(campaign) > 120 or not campaign.isprintable()):
            campaign = checked("campaign", _text, campaign, 120, "campaign name")
        boleto = checked("boleto", parse_boleto, boleto_text) if boleto_text else None
        pix = checked("pix", parse_pix, pix_text) if pix_text else None
        link = checked("payment_link", parse_link, link_text) if link_text else None

        if errors:
            return errors
        return PortfolioRow._make(
            (
                line,
                *debtor,
                phones,
                debt_external_id,
                creditor[0],
                creditor_name,
                creditor[1],
                currency,
                principal,
                fee,
                interest,
                due_text,
                status,
                campaign or None,
                boleto,
                _iso(boleto_due_date(boleto, due_day)) if boleto else None,
                pix,
                link,
            )
        )


_BLANK = [""]


def _stored_time(text: str) -> str:
    """A time of day as SQLAlchemy stores it on SQLite (PostgreSQL reads the same text)."""
    value = parse_time(text)
    return f"{value.hour:02d}:{value.minute:02d}:00.000000"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _iso_date(text: str) -> date | None:
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    return None


def _preview(cells: list[str]) -> str:
    text = ",".join(cells)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = [
    "BR_STATES",
    "COLUMNS",
    "COLUMN_NAMES",
    "FieldError",
    "HeaderError",
    "Layout",
    "PhoneEntry",
    "PortfolioRow",
    "REQUIRED_COLUMNS",
    "RowValidator",
    "US_STATES",
    "boleto_bank_check_digit",
    "boleto_due_date",
    "boleto_factor",
    "boleto_field_check_digit",
    "cpf_check_digits_ok",
    "parse_amount",
    "parse_boleto",
    "parse_pix",
    "pix_crc",
    "read_header",
]
