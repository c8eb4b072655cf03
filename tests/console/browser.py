"""Driving the console in a real browser: the app served by a real werkzeug server
on 127.0.0.1 (an ephemeral port, in a daemon thread) and Debian's chromium through
Playwright. Shared by the browser tests and scripts/bench_screen_pop.py."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPOSITORY = Path(__file__).resolve().parents[2]
ARTIFACTS = REPOSITORY / "tests" / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = REPOSITORY / "docs" / "screenshots"


class LiveServer:
    """The app on a real HTTP server, so EventSource, cookies and redirects are real."""

    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="console-live-server", daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_selector("header.topbar")


def screenshot(page: Any, name: str, *, for_docs: bool = True, full_page: bool = True) -> None:
    """Save to tests/artifacts/screenshots (git-ignored); with CORDIAL_UPDATE_SCREENSHOTS=1,
    the README's copies in docs/screenshots too (a plain test run leaves the tree clean)."""
    refresh_docs = for_docs and os.environ.get("CORDIAL_UPDATE_SCREENSHOTS") == "1"
    targets = [ARTIFACTS] + ([DOCS_SCREENSHOTS] if refresh_docs else [])
    for folder in targets:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(folder / f"{name}.png"), full_page=full_page, animations="disabled"
        )


__all__ = ["LiveServer", "launch_chromium", "live_server", "screenshot", "sign_in"]
