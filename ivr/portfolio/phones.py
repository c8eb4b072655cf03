"""Phone numbers as the importer needs them: any written form to E.164 and a line type.

Brazilian and NANP numbers (almost every row) take a fast path that reads the
validation patterns out of phonenumbers' own metadata, so the answer is the
library's answer, only without its general-purpose parser (tens of
microseconds a number); anything else is handed to `phonenumbers.parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberType

# Area code (DDD) -> state (UF). Every DDD Anatel assigns; the phone numbering
# plan follows state borders except that 61 (Brasília) also reaches into Goiás.
BR_DDD_STATE: dict[str, str] = {
    **dict.fromkeys(("11", "12", "13", "14", "15", "16", "17", "18", "19"), "SP"),
    **dict.fromkeys(("21", "22", "24"), "RJ"),
    **dict.fromkeys(("27", "28"), "ES"),
    **dict.fromkeys(("31", "32", "33", "34", "35", "37", "38"), "MG"),
    **dict.fromkeys(("41", "42", "43", "44", "45", "46"), "PR"),
    **dict.fromkeys(("47", "48", "49"), "SC"),
    **dict.fromkeys(("51", "53", "54", "55"), "RS"),
    "61": "DF",
    **dict.fromkeys(("62", "64"), "GO"),
    "63": "TO",
    **dict.fromkeys(("65", "66"), "MT"),
    "67": "MS",
    "68": "AC",
    "69": "RO",
    **dict.fromkeys(("71", "73", "74", "75", "77"), "BA"),
    "79": "SE",
    **dict.fromkeys(("81", "87"), "PE"),
    "82": "AL",
    "83": "PB",
    "84": "RN",
    **dict.fromkeys(("85", "88"), "CE"),
    **dict.fromkeys(("86", "89"), "PI"),
    **dict.fromkeys(("91", "93", "94"), "PA"),
    **dict.fromkeys(("92", "97"), "AM"),
    "95": "RR",
    "96": "AP",
    **dict.fromkeys(("98", "99"), "MA"),
}

LINE_TYPES = ("mobile", "landline", "unknown")

# Kinds of number that reach a service, not a person.
_NOT_PERSONAL = {
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.UAN: "a company's universal access number",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
    PhoneNumberType.PAGER: "a pager number",
}

_LINE_TYPE = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
}

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code after +",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too few digits for a phone number",
    NumberParseException.TOO_LONG: "too many digits for a phone number",
}

_FORMATTING = str.maketrans("", "", " -().\t")


class PhoneError(ValueError):
    """A phone cell that is not a callable number; the message says why."""


@dataclass(frozen=True, slots=True)
class ParsedPhone:
    e164: str
    line_type: str  # mobile | landline | unknown (NANP numbers do not say)


class _NumberingPlan:
    """The validity test phonenumbers applies to a national number, for one region.

    phonenumbers decides a number's type by trying its metadata patterns in
    turn (`_number_type_helper`): the general pattern, then the service kinds
    (premium rate, toll free, ...), then fixed line and mobile, each with its
    possible lengths. The same decision is compiled here into one regular
    expression of look-aheads over those same patterns, whose named group says
    the line type.
    """

    def __init__(self, region: str) -> None:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            raise ValueError(f"no numbering plan for region {region!r}")
        self.prefix = "+" + str(metadata.country_code)
        general = self._desc(metadata.general_desc)
        services = [
            self._desc(d)
            for d in (
                metadata.premium_rate,
                metadata.toll_free,
                metadata.shared_cost,
                metadata.voip,
                metadata.personal_number,
                metadata.pager,
                metadata.uan,
                metadata.voicemail,
            )
            if d is not None and d.national_number_pattern
        ]
        fixed = self._desc(metadata.fixed_line)
        mobile = self._desc(metadata.mobile)
        personal = general + "".join(f"(?!{desc})" for desc in services)
        if metadata.same_mobile_and_fixed_line_pattern:
            kinds = f"{fixed}(?P<unknown>)"
        else:
            # Alternatives in phonenumbers' order: fixed and mobile, fixed, mobile.
            kinds = f"{fixed}{mobile}(?P<unknown>)|{fixed}(?P<landline>)|{mobile}(?P<mobile>)"
        self.pattern = re.compile(f"{personal}(?:{kinds})")

    @staticmethod
    def _desc(desc) -> str:
        """A look-ahead body that matches a whole national number fitting `desc`."""
        if desc is None or not desc.national_number_pattern:
            return "(?!)"
        lengths = "|".join(rf"\d{{{n}}}\Z" for n in desc.possible_length or ())
        fits = f"(?={lengths})" if lengths else ""
        return rf"(?={fits}(?:{desc.national_number_pattern})\Z)"

    def line_type(self, national: str) -> str | None:
        """The line type of a valid personal number, or None to let phonenumbers decide."""
        match = self.pattern.match(national)
        return match.lastgroup if match is not None else None


_BR = _NumberingPlan("BR")
_NANP = _NumberingPlan("US")


def _fast(text: str, region: str) -> ParsedPhone | None:
    if text.startswith("+"):
        digits = text[1:].translate(_FORMATTING)
        if not (digits.isascii() and digits.isdigit()):
            return None
        if digits.startswith("55"):
            plan, national = _BR, digits[2:]
        elif digits.startswith("1"):
            plan, national = _NANP, digits[1:]
        else:
            return None
    else:
        digits = text.translate(_FORMATTING)
        if not (digits.isascii() and digits.isdigit()):
            return None
        if region == "BR" and len(digits) in (10, 11):
            plan, national = _BR, digits
        elif region == "US" and len(digits) == 10:
            plan, national = _NANP, digits
        elif region == "US" and len(digits) == 11 and digits[0] == "1":
            plan, national = _NANP, digits[1:]
        else:
            return None
    line_type = plan.line_type(national)
    if line_type is None:
        return None
    return ParsedPhone(plan.prefix + national, line_type)


def _slow(text: str, region: str) -> ParsedPhone:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneError(_PARSE_ERRORS.get(exc.error_type, "not a phone number")) from None
    if not phonenumbers.is_valid_number(number):
        example = (
            "(11) 98765-4321 or +55 11 98765-4321"
            if region == "BR"
            else "(617) 555-0123 or +1 617 555 0123"
        )
        raise PhoneError(
            f"not a valid phone number (wrong length or unassigned area code); expected e.g. {example}"
        )
    kind = phonenumbers.number_type(number)
    if kind in _NOT_PERSONAL:
        raise PhoneError(f"{_NOT_PERSONAL[kind]}, not a person's phone")
    return ParsedPhone(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        _LINE_TYPE.get(kind, "unknown"),
    )


def parse_phone(text: str, region: str) -> ParsedPhone:
    """E.164 and line type of a number written in any usual form.

    `region` (BR or US) is where a number written without a country code is
    dialled from. Raises PhoneError naming what is wrong.
    """
    text = text.strip()
    if not text:
        raise PhoneError("empty phone number")
    return _fast(text, region) or _slow(text, region)


def parse_phone_slow(text: str, region: str) -> ParsedPhone:
    """The same answer as `parse_phone`, always through phonenumbers (the reference in tests)."""
    text = text.strip()
    if not text:
        raise PhoneError("empty phone number")
    return _slow(text, region)


__all__ = [
    "BR_DDD_STATE",
    "LINE_TYPES",
    "ParsedPhone",
    "PhoneError",
    "parse_phone",
    "parse_phone_slow",
]
