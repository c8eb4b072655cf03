"""Fixed, non-secret credentials of the local carrier emulator.

The emulator signs its webhooks the way Twilio does, with this token, so the
app validates every webhook the same way whichever carrier is in use. These
values are public on purpose: they only ever protect loopback development.
"""

from __future__ import annotations

EMULATOR_AUTH_TOKEN = "cordial-emulator-token"
EMULATOR_ACCOUNT_SID = "AC" + "0" * 32

__all__ = ["EMULATOR_ACCOUNT_SID", "EMULATOR_AUTH_TOKEN"]
