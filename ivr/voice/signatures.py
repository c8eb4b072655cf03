"""Checking that a webhook really comes from the carrier (X-Twilio-Signature).

The signature covers the URL the carrier called, which is the PUBLIC URL
(CORDIAL_PUBLIC_BASE_URL + path + query), not the one this process sees
behind a proxy or tunnel, plus the POSTed form fields.
"""

from __future__ import annotations

import functools
import hmac
from urllib.parse import parse_qsl

from flask import Request
from twilio import request_validator as twilio_validation
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from ivr.config import Config
from ivr.telephony.dev_credentials import EMULATOR_AUTH_TOKEN

SIGNATURE_HEADER = "X-Twilio-Signature"
_SETTINGS_HEADER = getattr(
    twilio_validation, "SIGNATURE_SETTINGS_HEADER", "X-Twilio-Webhooks-Signature-Settings"
)


def webhook_auth_token(config: Config) -> str:
    """The key webhooks are signed with: the Twilio auth token when configured,
    else the local carrier emulator's fixed development token."""
    return config.get("TWILIO_AUTH_TOKEN") or EMULATOR_AUTH_TOKEN


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def public_url_of(config: Config, request: Request) -> str:
    """The URL the carrier called: the public base, then this request's path and query."""
    base = config.get("CORDIAL_PUBLIC_BASE_URL").rstrip("/")
    query = request.query_string.decode("latin-1")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


_FORM = "cordial.carrier_form"  # where a request keeps its parsed form (WSGI environ)
_URLENCODED = "application/x-www-form-urlencoded"


def carrier_form(request: Request) -> MultiDict[str, str]:
    """The fields the carrier POSTed (none for another method), parsed once per request.

    A urlencoded body, which is what Twilio and the emulator send, is parsed here as
    Werkzeug parses it (`parse_qsl`, blanks kept; a body that is not UTF-8 gives no
    fields), without the parser objects and stream wrappers of `request.form`, which
    cost a webhook about 30 µs more; any other body goes through `request.form`. One
    difference: a percent-escape that is not UTF-8 becomes U+FFFD here, where Werkzeug
    keeps it escaped; no carrier sends one, and the signature fails either way."""
    form = request.environ.get(_FORM)
    if form is None:
        if request.method != "POST":
            form = MultiDict()
        elif request.mimetype == _URLENCODED:
            try:
                text = request.get_data().decode()
            except ValueError:
                text = ""
            form = MultiDict(parse_qsl(text, keep_blank_values=True, errors="replace"))
        else:
            form = request.form
        request.environ[_FORM] = form
    return form


def carrier_values(request: Request) -> dict[str, str]:
    """The query's fields and then the form's, the first value of each, as `request.values`
    gives them (the webhooks' own parameters, such as `tries`, are in the query)."""
    values = dict(request.args.items())
    for name, value in carrier_form(request).items():
        values.setdefault(name, value)
    return values


def is_signed_by_carrier(config: Config, request: Request) -> bool:
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return False
    params = carrier_form(request)
    algorithm = None
    settings = request.headers.get(_SETTINGS_HEADER)
    if settings and hasattr(twilio_validation, "get_signature_algorithm"):
        algorithm = twilio_validation.get_signature_algorithm(settings)
    validator = _validator(webhook_auth_token(config))
    url = public_url_of(config, request)
    try:
        # The signature of the URL exactly as configured is one of the variants `validate`
        # accepts, and the one the carrier signs: one HMAC instead of two for a good request.
        if algorithm is None and hmac.compare_digest(
            validator.compute_signature(url, params), signature
        ):
            return True
        if algorithm is None:
            return validator.validate(url, params, signature)
        return validator.validate(url, params, signature, algorithm)
    except (ValueError, TypeError, UnicodeError):
        return False


def sign(config: Config, url: str, params: dict[str, str]) -> str:
    """The signature the carrier puts on a POST of `params` to `url` (for the emulator and tests)."""
    return _validator(webhook_auth_token(config)).compute_signature(url, params)


__all__ = [
    "SIGNATURE_HEADER",
    "carrier_form",
    "carrier_values",
    "is_signed_by_carrier",
    "public_url_of",
    "sign",
    "webhook_auth_token",
]
