"""A WSGI app for the webhook worker's tests, served by a real gunicorn.

GET /pid                   the pid of the worker that answered
GET /meet?me=a&other=b     note that `me` arrived (a file in $MEETING_DIR), then wait for
                           `other` to arrive too (at most 20 s); 200 with this worker's pid
                           if it did, 504 if not. Two such requests at once can both
                           succeed only when two workers serve them at the same time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import parse_qs

from ivr.webhook_worker import WebhookWorker

MEETING_SECONDS = 20


def app(environ, start_response):
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    status = "200 OK"
    if environ["PATH_INFO"] == "/meet":
        folder = Path(os.environ["MEETING_DIR"])
        (folder / query["me"]).touch()
        deadline = time.monotonic() + MEETING_SECONDS
        while not (folder / query["other"]).exists():
            if time.monotonic() > deadline:
                status = "504 Gateway Timeout"
                break
            time.sleep(0.01)
    start_response(status, [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


class PatientWorker(WebhookWorker):
    """The webhook worker without its once-a-second look for connections (gunicorn's
    heartbeat still wakes it every timeout/2): a connection it was not woken for waits
    far longer than a meeting, so a lost wakeup fails the meeting instead of slowing it."""

    longest_sleep_seconds = 3600.0
