"""Fixtures for the voice webhooks: an app whose carrier records, signed webhooks, a portfolio."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ivr.runtime import Runtime

from .carrier_helpers import PROFILES, Call, RecordingCarrier, Seeded, SignedWebhooks, seed_call


@pytest.fixture
def carrier(sqlite_runtime: Runtime) -> RecordingCarrier:
    recording = RecordingCarrier()
    sqlite_runtime.extras["carrier"] = recording
    return recording


@pytest.fixture
def hooks(client, sqlite_runtime: Runtime, carrier: RecordingCarrier) -> SignedWebhooks:
    return SignedWebhooks(client, sqlite_runtime.config)


@pytest.fixture
def seed(sqlite_runtime: Runtime) -> Callable[..., Seeded]:
    def make(profile: str = "mg", **kwargs) -> Seeded:
        with sqlite_runtime.db.session() as session:
            return seed_call(session, PROFILES[profile], now=sqlite_runtime.clock.now(), **kwargs)

    return make


@pytest.fixture
def start_call(
    hooks: SignedWebhooks, seed: Callable[..., Seeded]
) -> Callable[..., tuple[Call, Seeded]]:
    def start(profile: str = "mg", **kwargs) -> tuple[Call, Seeded]:
        seeded = seed(profile, **kwargs)
        return Call(hooks, seeded.attempt_id), seeded

    return start


@pytest.fixture
def fake_facts(monkeypatch: pytest.MonkeyPatch, sqlite_runtime: Runtime):
    """Stand-in for ivr.dialer.facts (the rules' side) where a test is about the call flow's
    mechanics, not about which instants the rules allow: three fixed slots."""
    import sys
    import types
    from datetime import timedelta

    now = sqlite_runtime.clock.now()
    slots = [now + timedelta(hours=2), now + timedelta(days=1), now + timedelta(days=1, hours=3)]
    asked: list[dict] = []

    def callback_slots(session, *, debtor_id, phone_id, campaign_id, after, count, slot_minutes=30):
        asked.append(
            {
                "debtor_id": debtor_id,
                "phone_id": phone_id,
                "campaign_id": campaign_id,
                "after": after,
                "count": count,
            }
        )
        return list(module.slots[:count])

    def local_zone_for(session, debtor_id):
        return module.zone

    module = types.ModuleType("ivr.dialer.facts")
    module.callback_slots = callback_slots
    module.local_zone_for = local_zone_for
    module.slots = slots
    module.zone = "America/Sao_Paulo"
    module.asked = asked
    monkeypatch.setitem(sys.modules, "ivr.dialer.facts", module)
    return module
