"""The emulator's REST API: the part of Twilio's 2010-04-01 API that Cordial
uses (Calls: create, list, fetch, update; Messages: create with a Body or a content
template (ContentSid, ContentVariables), list, fetch; Recordings: media), with Twilio's
JSON shapes, Basic auth and error bodies, so the official `twilio` SDK works against it
unchanged."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, request

from .emulator import API_VERSION, MESSAGE_ERRORS, ApiError, rfc2822
from .faults import Fault
from .records import EmulatedCall, EmulatedMessage

if TYPE_CHECKING:
    from .emulator import CarrierEmulator

# Set by the in-process SDK client (sdk_client.WsgiHttpClient) on every request.
IN_PROCESS_ENVIRON_KEY = "cordial.emulator.in_process"
# Tells the in-process SDK client to raise a read timeout instead of returning.
SIMULATED_TIMEOUT_HEADER = "X-Cordial-Emulator-Simulated-Timeout"

ERROR_CODES = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}
PREFIX = f"/{API_VERSION}/Accounts/<account_sid>"


def call_json(call: EmulatedCall) -> dict[str, Any]:
    uri = f"/{API_VERSION}/Accounts/{call.account_sid}/Calls/{call.sid}.json"
    base = uri.removesuffix(".json")
    return {
        "account_sid": call.account_sid,
        "annotation": None,
        "answered_by": call.answered_by,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(call.date_created),
        "date_updated": rfc2822(call.date_updated),
        "direction": call.direction,
        "duration": None if call.duration is None else str(call.duration),
        "end_time": rfc2822(call.end_time) if call.ended else None,
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": call.from_,
        "group_sid": None,
        "parent_call_sid": call.parent_call_sid,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": rfc2822(call.start_time),
        "status": call.status,
        "subresource_uris": {
            "notifications": f"{base}/Notifications.json",
            "recordings": f"{base}/Recordings.json",
            "streams": f"{base}/Streams.json",
            "events": f"{base}/Events.json",
        },
        "to": call.to,
        "to_formatted": call.to,
        "trunk_sid": None,
        "uri": uri,
    }


def message_json(message: EmulatedMessage) -> dict[str, Any]:
    uri = f"/{API_VERSION}/Accounts/{message.account_sid}/Messages/{message.sid}.json"
    return {
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.date_created),
        "date_sent": rfc2822(message.date_sent),
        "date_updated": rfc2822(message.date_updated),
        "direction": "outbound-api",
        "error_code": message.error_code,
        "error_message": MESSAGE_ERRORS.get(message.error_code)
        if message.error_code is not None
        else None,
        "from": message.from_,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": str(max(1, -(-len(message.body) // 153))),
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
        "to": message.to,
        "uri": uri,
    }


E164 = re.compile(r"^\+[1-9]\d{6,14}$")
STATUS_CALLBACK_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
Form = Mapping[str, list[str]]


def _one(form: Form, name: str, default: str | None = None) -> str | None:
    values = form.get(name)
    return values[0] if values and values[0] != "" else default


def parse_call_creation(form: Form) -> dict[str, Any]:
    """Twilio's Calls create parameters, validated with Twilio's error codes."""
    to, from_ = _one(form, "To"), _one(form, "From")
    url, twiml = _one(form, "Url"), _one(form, "Twiml")
    if not to:
        raise ApiError(400, 21201, "No 'To' number is specified")
    if not from_:
        raise ApiError(400, 21213, "No 'From' number is specified")
    if not (E164.match(to) or to.startswith(("sip:", "client:"))):
        raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not (E164.match(from_) or from_.startswith("client:")):
        raise ApiError(400, 21212, f"Invalid 'From' Phone Number: {from_}")
    if not url and not twiml:
        raise ApiError(400, 21205, "Url parameter is required.")
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise ApiError(400, 21205, f"Url is not a valid URL: {url}")
    events = {e for v in form.get("StatusCallbackEvent", []) for e in v.replace(",", " ").split()}
    if events - STATUS_CALLBACK_EVENTS:
        raise ApiError(400, 21626, "One or more of the StatusCallbackEvents provided were invalid.")
    try:
        timeout = min(600, max(1, int(_one(form, "Timeout", "60") or "60")))
    except ValueError:
        raise ApiError(400, 21210, "Timeout must be a whole number of seconds") from None
    machine_detection = _one(form, "MachineDetection")
    if machine_detection and machine_detection not in ("Enable", "DetectMessageEnd"):
        raise ApiError(400, 21631, f"Invalid MachineDetection value: {machine_detection}")
    return {
        "to": to,
        "from_": from_,
        "url": url,
        "method": _one(form, "Method", "POST"),
        "twiml": None if url else twiml,
        "fallback_url": _one(form, "FallbackUrl"),
        "fallback_method": _one(form, "FallbackMethod", "POST"),
        "status_callback": _one(form, "StatusCallback"),
        "status_callback_method": _one(form, "StatusCallbackMethod", "POST"),
        "status_callback_events": events or {"completed"},
        "machine_detection": machine_detection,
        "record": (_one(form, "Record", "false") or "false").lower() == "true",
        "timeout": timeout,
    }


def parse_call_update(form: Form) -> dict[str, Any]:
    status, url, twiml = _one(form, "Status"), _one(form, "Url"), _one(form, "Twiml")
    if status is not None and status not in ("completed", "canceled"):
        raise ApiError(
            400, 21218, f"Invalid Status value: {status}; expected completed or canceled"
        )
    if status is None and not url and not twiml:
        raise ApiError(400, 21218, "Nothing to update: give Status, Url or Twiml")
    return {"status": status, "url": url, "method": _one(form, "Method", "POST"), "twiml": twiml}


CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")


def parse_message_creation(form: Form) -> dict[str, Any]:
    to, from_, body = _one(form, "To"), _one(form, "From"), _one(form, "Body")
    content_sid, raw_variables = _one(form, "ContentSid"), _one(form, "ContentVariables")
    if not to:
        raise ApiError(400, 21604, "A 'To' phone number is required.")
    if not from_:
        raise ApiError(400, 21603, "A 'From' phone number is required.")
    if raw_variables is not None and content_sid is None:
        raise ApiError(
            400, 21654, "A ContentSid must be specified if ContentVariables are provided."
        )
    if content_sid is not None and not CONTENT_SID.match(content_sid):
        raise ApiError(400, 21655, "The ContentSid is Invalid")
    if not body and content_sid is None:
        raise ApiError(400, 21602, "Message body is required.")
    content_variables = _content_variables(raw_variables) if raw_variables is not None else None
    if to.startswith("whatsapp:") != from_.startswith("whatsapp:"):
        raise ApiError(
            400, 21910, "Invalid From and To pair. From and To should be of the same channel"
        )
    if not E164.match(to.removeprefix("whatsapp:")):
        raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    return {
        "to": to,
        "from_": from_,
        "body": None if content_sid else body,  # a template's text is the template's
        "status_callback": _one(form, "StatusCallback"),
        "content_sid": content_sid,
        "content_variables": content_variables,
    }


def _content_variables(raw: str) -> dict[str, str]:
    """ContentVariables: a JSON object of placeholder -> value."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in parsed.values()
    ):
        raise ApiError(400, 21656, "The ContentVariables Parameter is invalid")
    return {str(k): str(v) for k, v in parsed.items()}


def _filter_bound(value: str, name: str) -> tuple[datetime, bool]:
    """A list filter value: `YYYY-MM-DD` (a whole UTC day) or an ISO 8601 instant."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC), True
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, 20001, f"Invalid {name} filter {value!r}: expected YYYY-MM-DD"
        ) from None
    return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)), False


def matches_time_filters(instant: datetime | None, name: str, args: Mapping[str, str]) -> bool:
    """Twilio's `Name`, `Name>` (on or after) and `Name<` (on or before) filters;
    a record without that instant never matches one."""
    for suffix in ("", ">", "<"):
        value = args.get(name + suffix)
        if not value:
            continue
        bound, whole_day = _filter_bound(value, name)
        if instant is None:
            return False
        end = bound + timedelta(days=1) if whole_day else bound
        if suffix == ">":
            ok = instant >= bound
        elif suffix == "<":
            ok = instant < end if whole_day else instant <= bound
        else:
            ok = bound <= instant < end if whole_day else instant == bound
        if not ok:
            return False
    return True


def select_calls(emulator: CarrierEmulator, args: Mapping[str, str]) -> list[EmulatedCall]:
    with emulator.lock:
        calls = list(emulator.calls.values())
    fields = {"To": "to", "From": "from_", "Status": "status", "ParentCallSid": "parent_call_sid"}
    found = [
        c
        for c in calls
        if all(getattr(c, attr) == args[key] for key, attr in fields.items() if key in args)
        and matches_time_filters(c.start_time, "StartTime", args)
        and matches_time_filters(c.end_time if c.ended else None, "EndTime", args)
    ]
    return sorted(found, key=lambda c: c.date_created, reverse=True)  # newest first, as Twilio


def select_messages(emulator: CarrierEmulator, args: Mapping[str, str]) -> list[EmulatedMessage]:
    with emulator.lock:
        messages = list(emulator.messages.values())
    found = [
        m
        for m in messages
        if ("To" not in args or m.to == args["To"])
        and ("From" not in args or m.from_ == args["From"])
        and matches_time_filters(m.date_sent, "DateSent", args)
    ]
    return sorted(found, key=lambda m: m.date_created, reverse=True)


def create_rest_app(emulator: CarrierEmulator) -> Flask:
    app = Flask("cordial_carrier_emulator")

    def error(status: int, code: int, message: str) -> Response:
        response = jsonify(ApiError(status, code, message).to_json())
        response.status_code = status
        return response

    def fault_response(fault: Fault) -> Response:
        code, message = ERROR_CODES.get(fault.status, (fault.status, "Injected failure"))
        return error(fault.status, code, message)

    def held(fault: Fault, response: Response) -> Response:
        """A timeout after the work is done."""
        if request.environ.get(IN_PROCESS_ENVIRON_KEY):
            timed_out = Response(status=504)
            timed_out.headers[SIMULATED_TIMEOUT_HEADER] = "1"
            return timed_out
        emulator.stopping.wait(fault.hold_seconds)  # the client gives up meanwhile
        return response

    def run(operation: str, work: Any) -> Response:
        fault = emulator.faults.take(operation)
        if fault is not None and fault.kind == "status" and not fault.after_effect:
            return fault_response(fault)
        try:
            response = work()
        except ApiError as exc:
            return error(exc.status, exc.code, exc.message)
        if fault is None:
            return response
        if fault.kind == "timeout":
            return held(fault, response)
        return fault_response(fault)

    @app.before_request
    def authenticate() -> Response | None:
        # The API and the emulator's own audit (every call's numbers, parameters and TwiML:
        # not for any page a browser on this machine happens to open).
        protected = request.path.startswith((f"/{API_VERSION}/Accounts/", "/_emulator/"))
        if not protected or request.endpoint == "recording_media":
            return None  # recording media is public by default, as on Twilio
        auth = request.authorization
        if (
            auth is None
            or not hmac.compare_digest(auth.username or "", emulator.account_sid)
            or not hmac.compare_digest(auth.password or "", emulator.auth_token)
        ):
            return error(401, 20003, "Authenticate")
        account = (request.view_args or {}).get("account_sid")
        if account is not None and account != emulator.account_sid:
            return error(403, 20003, f"Account {account} is not the authenticated account")
        return None

    def form() -> dict[str, list[str]]:
        return {key: request.form.getlist(key) for key in request.form}

    def page(items: list[Any], key: str, render: Any) -> Response:
        try:
            size = min(1000, max(1, int(request.args.get("PageSize", "50"))))
            number = max(0, int(request.args.get("Page", "0")))
        except ValueError:
            return error(400, 20001, "Page and PageSize must be whole numbers")
        start = number * size
        chunk = items[start : start + size]
        filters = [
            (k, v)
            for k, v in request.args.items(multi=True)
            if k not in ("Page", "PageSize", "PageToken")
        ]

        def uri(n: int) -> str:
            return f"{request.path}?{urlencode(filters + [('PageSize', size), ('Page', n)])}"

        has_next = start + size < len(items)
        return jsonify(
            {
                key: [render(item) for item in chunk],
                "uri": uri(number),
                "first_page_uri": uri(0),
                "next_page_uri": uri(number + 1) + f"&PageToken=PA{number + 1}"
                if has_next
                else None,
                "previous_page_uri": uri(number - 1) if number > 0 else None,
                "page": number,
                "page_size": size,
                "start": start,
                "end": start + max(0, len(chunk) - 1),
            }
        )

    @app.post(f"{PREFIX}/Calls.json")
    def create_call(account_sid: str) -> Response:
        def work() -> Response:
            response = jsonify(call_json(emulator.create_call(**parse_call_creation(form()))))
            response.status_code = 201
            return response

        return run("calls.create", work)

    @app.get(f"{PREFIX}/Calls.json")
    def list_calls(account_sid: str) -> Response:
        return run(
            "calls.list",
            lambda: page(select_calls(emulator, request.args.to_dict()), "calls", call_json),
        )

    @app.get(f"{PREFIX}/Calls/<sid>.json")
    def fetch_call(account_sid: str, sid: str) -> Response:
        return run("calls.fetch", lambda: jsonify(call_json(emulator.get_call(sid))))

    @app.post(f"{PREFIX}/Calls/<sid>.json")
    def update_call(account_sid: str, sid: str) -> Response:
        return run(
            "calls.update",
            lambda: jsonify(call_json(emulator.update_call(sid, **parse_call_update(form())))),
        )

    @app.post(f"{PREFIX}/Messages.json")
    def create_message(account_sid: str) -> Response:
        def work() -> Response:
            response = jsonify(
                message_json(emulator.create_message(**parse_message_creation(form())))
            )
            response.status_code = 201
            return response

        return run("messages.create", work)

    @app.get(f"{PREFIX}/Messages.json")
    def list_messages(account_sid: str) -> Response:
        return run(
            "messages.list",
            lambda: page(
                select_messages(emulator, request.args.to_dict()), "messages", message_json
            ),
        )

    @app.get(f"{PREFIX}/Messages/<sid>.json")
    def fetch_message(account_sid: str, sid: str) -> Response:
        return run("messages.fetch", lambda: jsonify(message_json(emulator.get_message(sid))))

    @app.get(f"{PREFIX}/Recordings/<sid>")
    def recording_media(account_sid: str, sid: str) -> Response:
        sid = sid.removesuffix(".wav")
        if sid not in emulator.recordings:
            return error(404, 20404, f"The requested resource {request.path} was not found")
        return Response(emulator.recording_wav(sid), mimetype="audio/x-wav")

    @app.get("/_emulator/audit.json")
    def audit() -> Response:
        return jsonify(emulator.audit_log())

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return error(404, 20404, f"The requested resource {request.path} was not found")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return error(405, 20004, "Method not allowed")

    return app
