"""Reading what a person typed into a console form. Each parser returns a clean
value or raises FieldError naming the field and what is expected, as an i18n code
(`error.<code>` in the catalogs) so the message is in the reader's language."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class FieldError(ValueError):
    def __init__(self, field: str, code: str, /, **values: object) -> None:
        super().__init__(f"{field}: {code} {values or ''}".strip())
        self.field = field
        self.code = code
        self.values = values


def require_text(raw: str | None, field: str, *, max_length: int) -> str:
    text = (raw or "").strip()
    if not text:
        raise FieldError(field, "required")
    if len(text) > max_length:
        raise FieldError(field, "too_long", maximum=max_length, length=len(text))
    return text


MAX_MONEY_DIGITS = 15  # whole units: a trillion and more is no debt this console handles


def parse_money(raw: str | None, field: str, *, required: bool = True) -> Decimal:
    """150, 150.5, 150,50, 1.234,56 or 1,234.56: the last separator is the decimal one
    when two digits or fewer follow it."""
    text = (raw or "").strip().replace(" ", "").replace("R$", "").replace("$", "")
    if not text:
        if required:
            raise FieldError(field, "required")
        return Decimal("0")
    last = max(text.rfind(","), text.rfind("."))
    if last >= 0 and len(text) - last - 1 in (1, 2):
        whole, cents = text[:last], text[last + 1 :]
    else:
        whole, cents = text, ""
    whole = whole.replace(".", "").replace(",", "")
    if not whole.isdigit() and whole != "" or (cents and not cents.isdigit()):
        raise FieldError(field, "money", value=raw)
    if len(whole) > MAX_MONEY_DIGITS:  # a boleto line pasted into the wrong field
        raise FieldError(field, "money", value=raw)
    try:
        return Decimal(f"{whole or '0'}.{cents or '0'}").quantize(Decimal("0.01"))
    except InvalidOperation:
        raise FieldError(field, "money", value=raw) from None


def parse_int(raw: str | None, field: str, *, minimum: int, maximum: int) -> int:
    text = (raw or "").strip()
    if not text:
        raise FieldError(field, "required")
    if not re.fullmatch(r"-?\d{1,18}", text):  # int() refuses more than 4,300 digits
        raise FieldError(field, "whole_number", minimum=minimum, maximum=maximum, value=text[:40])
    value = int(text)
    if not minimum <= value <= maximum:
        raise FieldError(field, "whole_number", minimum=minimum, maximum=maximum, value=text)
    return value


def parse_optional_int(raw: str | None, field: str, *, minimum: int, maximum: int) -> int | None:
    if not (raw or "").strip():
        return None
    return parse_int(raw, field, minimum=minimum, maximum=maximum)


def parse_number(raw: str | None, field: str, *, minimum: float, maximum: float) -> float:
    text = (raw or "").strip().replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise FieldError(
            field, "number", minimum=minimum, maximum=maximum, value=raw or ""
        ) from None
    if not minimum <= value <= maximum:  # also NaN, which compares false
        raise FieldError(field, "number", minimum=minimum, maximum=maximum, value=raw or "")
    return value


def parse_date(raw: str | None, field: str) -> date:
    text = (raw or "").strip()
    if not text:
        raise FieldError(field, "required")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FieldError(field, "date", value=text) from None


def parse_local_datetime(raw: str | None, field: str, zone_key: str) -> datetime:
    """A `datetime-local` value (2026-11-25T10:30) read in `zone_key`, as an aware instant."""
    text = (raw or "").strip()
    if not text:
        raise FieldError(field, "required")
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(field, "datetime", value=text) from None
    if naive.tzinfo is not None:
        raise FieldError(field, "datetime", value=text)
    return naive.replace(tzinfo=ZoneInfo(zone_key))


def parse_time(raw: str | None, field: str) -> time:
    text = (raw or "").strip()
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise FieldError(field, "time", value=text) from None


def parse_choice(raw: str | None, field: str, choices: tuple[str, ...] | list[str]) -> str:
    text = (raw or "").strip()
    if text not in choices:
        raise FieldError(field, "choice", choices=", ".join(choices), value=text)
    return text


def parse_e164(raw: str | None, field: str) -> str:
    text = (raw or "").strip().replace(" ", "").replace("-", "")
    if not E164.match(text):
        raise FieldError(field, "e164", value=raw or "")
    return text


__all__ = [
    "FieldError",
    "parse_choice",
    "parse_date",
    "parse_e164",
    "parse_int",
    "parse_local_datetime",
    "parse_money",
    "parse_number",
    "parse_optional_int",
    "parse_time",
    "require_text",
]
