"""Which carrier this process talks to: Twilio, or the local carrier emulator
through the same Twilio SDK (CORDIAL_CARRIER)."""

from __future__ import annotations

from ivr.runtime import Runtime
from ivr.telephony.carrier import Carrier
from ivr.telephony.dev_credentials import EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN
from ivr.telephony.twilio_carrier import TwilioCarrier


def carrier_for(runtime: Runtime) -> Carrier:
    """The process's carrier; built once and kept in `runtime.extras["carrier"]`."""
    carrier = runtime.extras.get("carrier")
    if carrier is None:
        config = runtime.config
        if config.get("CORDIAL_CARRIER") == "twilio":
            carrier = TwilioCarrier(config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN"))
        else:
            carrier = TwilioCarrier(EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN,
                                    api_base_url=config.get("CORDIAL_EMULATOR_URL"))
        runtime.extras["carrier"] = carrier
    return carrier
