"""Personal documents (CPF, SSN): validation and masking."""

from __future__ import annotations

import re

from stdnum.br import cpf as stdnum_cpf
from stdnum.exceptions import ValidationError


def digits_only(text: str) -> str:
    """The ASCII digits of `text` (not other scripts' digits, which no keypad sends)."""
    return "".join(ch for ch in text if "0" <= ch <= "9")


# 123-45-6789, 123 45 6789, 123.45.6789 or 123456789: ASCII digits in the SSN's groups.
_SSN_SHAPE = re.compile(r"[0-9]{3}([- .]?)[0-9]{2}\1[0-9]{4}")


def validate_cpf(text: str) -> str:
    """Return the CPF's 11 digits, or raise ValueError saying what is wrong."""
    try:
        return stdnum_cpf.validate(text)
    except ValidationError as exc:
        raise ValueError(f"not a valid CPF ({str(exc).lower().rstrip('.')}); expected 11 digits with correct check digits") from None


def validate_ssn(text: str) -> str:
    if not _SSN_SHAPE.fullmatch(text.strip()):
        raise ValueError("not a valid SSN; expected 9 digits such as 123-45-6789")
    digits = digits_only(text)
    if len(digits) != 9 or digits[:3] in {"000", "666"} or digits[0] == "9" or digits[3:5] == "00" or digits[5:] == "0000":
        raise ValueError("not a valid SSN; expected 9 digits such as 123-45-6789")
    return digits


def mask_document(kind: str, digits: str) -> str:
    """Show only what a person needs to recognise the document."""
    if kind == "cpf" and len(digits) == 11:
        return f"***.{digits[3:6]}.***-**"
    if kind == "ssn" and len(digits) == 9:
        return f"***-**-{digits[5:]}"
    return "*" * max(len(digits) - 2, 0) + digits[-2:]
