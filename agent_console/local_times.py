"""The zone in which the console shows a debtor's local time: the dialer's own
zone resolution (address, area code, override), so the agent and the rules agree."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.dialer.facts import display_zone, zones_of
from ivr.models import Debtor


def debtor_zone(debtor: Debtor) -> str:
    return display_zone(zones_of(debtor, debtor.phones))


def local_now(debtor: Debtor, instant: datetime) -> datetime:
    return instant.astimezone(ZoneInfo(debtor_zone(debtor)))


__all__ = ["debtor_zone", "local_now"]
