"""Cordial's engine: portfolio, compliance rules, dialer, telephony, voice flow, speech."""

import zoneinfo

# One source of time-zone rules on every machine: the `tzdata` package pinned by
# pyproject, not whatever the operating system happens to ship.
zoneinfo.reset_tzpath([])

from ivr.app import create_app  # noqa: E402

__all__ = ["create_app"]
