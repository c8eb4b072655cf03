"""How the console shows personal data until an agent asks to see it (LGPD: show
only what the task needs). Documents are masked by ivr.portfolio.documents."""

from __future__ import annotations


def mask_phone(number: str) -> str:
    """+5511987654321 -> +55 ••••••4321: the country and the last four digits."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) <= 4:
        return "•" * len(digits)
    country = "55" if digits.startswith("55") else "1" if digits.startswith("1") else ""
    hidden = len(digits) - len(country) - 4
    prefix = f"+{country} " if country else ""
    return f"{prefix}{'•' * hidden}{digits[-4:]}"


__all__ = ["mask_phone"]
