"""Console fixtures: a seeded world, a fake carrier, and signed-in test clients."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from agent_console.web import CONSOLE_PREFIX
from ivr.runtime import Runtime

from .factories import PASSWORD, FakeCarrier, World, build_world


@pytest.fixture
def carrier(sqlite_runtime: Runtime) -> FakeCarrier:
    fake = FakeCarrier()
    sqlite_runtime.extras["carrier"] = fake
    return fake


@pytest.fixture
def world(sqlite_runtime: Runtime, carrier: FakeCarrier) -> World:
    return build_world(sqlite_runtime)


@pytest.fixture
def console(app: Flask) -> Flask:
    app.config["CONSOLE_SSE_MAX_SECONDS"] = 0.6
    return app


def csrf_of(client: FlaskClient) -> str:
    # A console path: only the console's pages open the session cookie.
    with client.session_transaction(f"{CONSOLE_PREFIX}/") as session:
        return session.get("csrf_token", "")


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> FlaskClient:
    client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def signed_in(console: Flask, world: World) -> Callable[[str], FlaskClient]:
    def make(username: str) -> FlaskClient:
        return sign_in(console.test_client(), username)

    return make


@pytest.fixture
def agent(signed_in: Callable[[str], FlaskClient]) -> FlaskClient:
    return signed_in("ana")


@pytest.fixture
def supervisor(signed_in: Callable[[str], FlaskClient]) -> FlaskClient:
    return signed_in("sofia")


def post(client: FlaskClient, url: str, data: dict | None = None, **kwargs):
    """POST a form with the session's CSRF token, as the page would."""
    form = dict(data or {})
    form.setdefault("csrf_token", csrf_of(client))
    return client.post(url, data=form, **kwargs)


def text_of(response) -> str:
    """The visible text of a page, whitespace collapsed (for assertions on messages)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
