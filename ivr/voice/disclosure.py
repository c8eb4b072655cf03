"""What the call must say, and how, in the debtor's jurisdiction: the recording
notice, the itemised amount, the collector's notice. Pure rules over plain values."""

from __future__ import annotations

from dataclasses import dataclass

# BR-RECORD: São Paulo (Lei 14.953/2013) and Rio de Janeiro (Lei 6.854/2014) require
# collection calls to be recorded, to say so, and to itemise principal, interest and fee.
_BR_RECORDING_STATES = frozenset({"SP", "RJ"})


@dataclass(frozen=True)
class DisclosureRules:
    recording_notice: bool  # say "this call is recorded" in the greeting
    itemised: bool  # say principal, interest and fee, not only the total
    collector_notice: bool  # US-FDCPA-DISCLOSE: "this is an attempt to collect a debt"
    rule_ids: tuple[str, ...] = ()


def disclosure_rules(country: str | None, state: str | None) -> DisclosureRules:
    country = (country or "").upper()
    state = (state or "").upper()
    if country == "BR" and state in _BR_RECORDING_STATES:
        return DisclosureRules(
            recording_notice=True, itemised=True, collector_notice=False, rule_ids=("BR-RECORD",)
        )
    if country == "US":
        return DisclosureRules(
            recording_notice=False,
            itemised=False,
            collector_notice=True,
            rule_ids=("US-FDCPA-DISCLOSE",),
        )
    return DisclosureRules(recording_notice=False, itemised=False, collector_notice=False)


def recording_required(country: str | None, state: str | None) -> bool:
    """Whether calls to this debtor must be recorded (and say so): BR-RECORD."""
    return disclosure_rules(country, state).recording_notice


__all__ = ["DisclosureRules", "disclosure_rules", "recording_required"]
