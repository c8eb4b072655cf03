"""Access rules: every console route needs a signed-in user, supervisor pages need
the supervisor role, every state-changing request needs the CSRF token, logins
are rate-limited, and session cookies are locked down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule

from agent_console.login_throttle import MAX_FAILURES_PER_USERNAME
from ivr.app import create_app
from ivr.clock import VirtualClock
from ivr.models import User

from ..conftest import make_runtime
from .conftest import csrf_of, post, sign_in, text_of
from .factories import PASSWORD, World

PUBLIC_ENDPOINTS = {
    "console_auth.login",
    "console_auth.logout",
    "console_auth.set_language",
    "console_assets.static",
}


def console_rules(app: Flask, blueprint: str | None = None) -> list[Rule]:
    rules = []
    for rule in app.url_map.iter_rules():
        name = rule.endpoint.split(".")[0]
        if not name.startswith("console_") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        if blueprint is None or name == blueprint:
            rules.append(rule)
    assert rules, "the console registered no routes"
    return rules


def concrete_url(rule: Rule) -> str:
    values = {arg: 1 for arg in rule.arguments}
    return rule.build(values)[1] if values else rule.rule


def methods_of(rule: Rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def test_every_console_route_needs_a_signed_in_user(console: Flask, world: World) -> None:
    client = console.test_client()
    checked = 0
    for rule in console_rules(console):
        url = concrete_url(rule)
        for method in methods_of(rule):
            response = client.open(url, method=method)
            checked += 1
            if method == "GET" and response.status_code == 302:
                assert "/console/login" in response.headers["Location"], (method, url)
            else:
                assert response.status_code == 401, (method, url, response.status_code)
    assert checked >= 30


def test_streams_answer_401_not_a_redirect(console: Flask, world: World) -> None:
    client = console.test_client()
    for url in ("/console/stream", "/console/supervisor/wallboard/stream"):
        assert client.get(url, headers={"Accept": "text/event-stream"}).status_code == 401


def test_agents_get_403_on_every_supervisor_page(agent, console: Flask) -> None:
    rules = console_rules(console, "console_supervisor")
    for rule in rules:
        url = concrete_url(rule)
        for method in methods_of(rule):
            response = agent.open(url, method=method, data={"csrf_token": csrf_of(agent)})
            assert response.status_code == 403, (method, url, response.status_code)
    page = agent.get("/console/supervisor/wallboard")
    assert "só para supervisores" in text_of(page)


def test_supervisors_reach_agent_and_supervisor_pages(supervisor, world: World) -> None:
    assert supervisor.get("/console/").status_code == 200
    assert supervisor.get(f"/console/debtors/{world.debtor_id}").status_code == 200
    assert supervisor.get("/console/supervisor/campaigns").status_code == 200


def test_every_form_post_without_the_csrf_token_is_rejected(supervisor, console: Flask) -> None:
    rules = [r for r in console_rules(console) if "POST" in r.methods]
    assert len(rules) >= 15
    for rule in rules:
        url = concrete_url(rule)
        assert supervisor.post(url, data={}).status_code == 400, url
        assert supervisor.post(url, data={"csrf_token": "forged"}).status_code == 400, url


def test_csrf_token_in_a_header_is_accepted_for_fetch(agent, world: World) -> None:
    url = f"/console/debtors/{world.debtor_id}/reveal"
    refused = agent.post(url, data={"field": "document"}, headers={"X-CSRF-Token": "nope"})
    assert refused.status_code == 400
    accepted = agent.post(url, data={"field": "document"}, headers={"X-CSRF-Token": csrf_of(agent)})
    assert accepted.status_code == 200


def test_login_form_itself_needs_the_csrf_token(console: Flask, world: World) -> None:
    client = console.test_client()
    client.get("/console/login")
    response = client.post("/console/login", data={"username": "ana", "password": PASSWORD})
    assert response.status_code == 400


def test_login_and_logout(console: Flask, world: World) -> None:
    client = console.test_client()
    assert client.get("/console/").status_code == 302
    sign_in(client, "ana")
    home = client.get("/console/")
    assert home.status_code == 200 and "Ana Souza" in text_of(home)
    response = post(client, "/console/logout")
    assert response.status_code == 302
    assert client.get("/console/").status_code == 302


def test_signing_out_ends_copies_of_the_session_cookie(console: Flask, world: World) -> None:
    """The session lives in a signed cookie: signing out must make a saved copy useless
    (a shared workstation, a copied cookie), and a new sign-in works again."""
    client = sign_in(console.test_client(), "ana")
    cookie = client.get_cookie("cordial_session")
    assert cookie is not None
    copy = console.test_client()
    copy.set_cookie("cordial_session", cookie.value)
    assert copy.get("/console/").status_code == 200
    post(client, "/console/logout")
    assert copy.get("/console/").status_code == 302  # to the login page
    assert copy.get(f"/console/debtors/{world.debtor_id}").status_code == 302
    again = sign_in(console.test_client(), "ana")
    assert again.get("/console/").status_code == 200


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    console: Flask, world: World
) -> None:
    client = console.test_client()
    client.get("/console/login")
    for username in ("ana", "nobody"):
        response = client.post(
            "/console/login",
            data={
                "username": username,
                "password": "wrong password!",
                "csrf_token": csrf_of(client),
            },
        )
        assert response.status_code == 401
        assert "Usuário ou senha incorretos" in text_of(response)


def test_empty_login_form_names_the_missing_fields(console: Flask, world: World) -> None:
    client = console.test_client()
    client.get("/console/login")
    response = client.post(
        "/console/login", data={"username": "", "password": "", "csrf_token": csrf_of(client)}
    )
    assert response.status_code == 400
    text = text_of(response)
    assert "Usuário: informe" in text and "Senha: informe" in text


def _fail(client, username: str, address: str) -> int:
    client.get("/console/login", environ_base={"REMOTE_ADDR": address})
    return client.post(
        "/console/login",
        data={"username": username, "password": "not the password", "csrf_token": csrf_of(client)},
        environ_base={"REMOTE_ADDR": address},
    ).status_code


def test_login_is_rate_limited_per_username_and_address(
    console: Flask, world: World, clock: VirtualClock
) -> None:
    client = console.test_client()
    for _ in range(MAX_FAILURES_PER_USERNAME):
        assert _fail(client, "ana", "10.0.0.7") == 401
    # Locked now, even with the right password, and the page says for how long.
    locked = client.post(
        "/console/login",
        data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(client)},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert locked.status_code == 429
    assert "Tente de novo em" in text_of(locked)
    # Another address, or another username, is not locked.
    other = console.test_client()
    other.get("/console/login", environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert (
        other.post(
            "/console/login",
            data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(other)},
            environ_base={"REMOTE_ADDR": "10.0.0.8"},
        ).status_code
        == 302
    )
    # After the window the lock lifts.
    clock.advance(timedelta(minutes=16))
    again = console.test_client()
    again.get("/console/login", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert (
        again.post(
            "/console/login",
            data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(again)},
            environ_base={"REMOTE_ADDR": "10.0.0.7"},
        ).status_code
        == 302
    )


def test_rate_limit_is_shared_by_web_workers(
    world: World, sqlite_runtime, sqlite_url: str, tmp_path: Path, clock: VirtualClock
) -> None:
    """Two app instances (two workers) on one database count failures together."""
    first = create_app({"TESTING": True}, runtime=sqlite_runtime)
    second_runtime = make_runtime(sqlite_url, tmp_path / "instance", clock)
    second = create_app({"TESTING": True}, runtime=second_runtime)
    try:
        a, b = first.test_client(), second.test_client()
        for index in range(MAX_FAILURES_PER_USERNAME):
            assert _fail(a if index % 2 else b, "bruno", "10.1.1.1") == 401
        assert _fail(a, "bruno", "10.1.1.1") == 429
        assert _fail(b, "bruno", "10.1.1.1") == 429
    finally:
        second_runtime.close()


def test_session_cookie_is_httponly_and_samesite_lax(console: Flask, world: World) -> None:
    client = console.test_client()
    client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(client)},
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the public URL is plain http here


def test_only_console_pages_open_the_session_cookie(console: Flask, world: World) -> None:
    """Webhooks and audio never read nor re-sign the cookie; the console keeps it."""
    from flask import session
    from flask.sessions import NullSession

    client = console.test_client()
    sign_in(client, "ana")
    for path in ("/healthz", "/voice/answer", "/audio/manifest.json"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers, path
    with console.test_request_context("/healthz"):
        assert isinstance(session._get_current_object(), NullSession)
    with console.test_request_context("/console/login"):
        assert not isinstance(session._get_current_object(), NullSession)
    assert client.get("/console/").status_code == 200  # still signed in


def test_session_cookie_is_secure_when_the_public_url_is_https(
    sqlite_url: str, tmp_path: Path, clock: VirtualClock
) -> None:
    runtime = make_runtime(
        sqlite_url, tmp_path / "https", clock, CORDIAL_PUBLIC_BASE_URL="https://cordial.example"
    )
    try:
        app = create_app({"TESTING": True}, runtime=runtime)
        assert app.config["SESSION_COOKIE_SECURE"] is True
        response = app.test_client().get("/console/login")
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        runtime.close()


def test_login_never_redirects_off_site(console: Flask, world: World) -> None:
    client = console.test_client()
    client.get("/console/login")
    for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        response = client.post(
            "/console/login",
            data={
                "username": "ana",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_of(client),
            },
        )
        assert response.headers["Location"] == "/console/", target
        post(client, "/console/logout")
        client.get("/console/login")


def test_login_returns_to_the_page_asked_for(console: Flask, world: World) -> None:
    client = console.test_client()
    first = client.get(f"/console/debtors/{world.debtor_id}")
    assert first.status_code == 302
    login_page = client.get(first.headers["Location"])
    assert f"/console/debtors/{world.debtor_id}" in login_page.get_data(as_text=True)
    response = client.post(
        "/console/login",
        data={
            "username": "ana",
            "password": PASSWORD,
            "next": f"/console/debtors/{world.debtor_id}",
            "csrf_token": csrf_of(client),
        },
    )
    assert response.headers["Location"] == f"/console/debtors/{world.debtor_id}"


def test_a_deactivated_user_is_signed_out_at_once(agent, sqlite_runtime, world: World) -> None:
    assert agent.get("/console/").status_code == 200
    with sqlite_runtime.db.session() as session:
        session.get(User, world.agent_id).active = False
    assert agent.get("/console/").status_code == 302


def test_passwords_are_stored_as_scrypt_hashes(sqlite_runtime, world: World) -> None:
    with sqlite_runtime.db.session() as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert hashes and all(h.startswith("scrypt:") and PASSWORD not in h for h in hashes)


def test_pages_carry_security_headers(agent) -> None:
    response = agent.get("/console/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_language_follows_the_user_and_can_be_switched(
    signed_in, sqlite_runtime, world: World
) -> None:
    bruno = signed_in("bruno")  # an en-US user
    assert "Waiting for an agent" in text_of(bruno.get("/console/"))
    post(bruno, "/console/language", {"language": "pt-BR", "next": "/console/"})
    assert "Aguardando um agente" in text_of(bruno.get("/console/"))
    with sqlite_runtime.db.session() as session:
        assert session.get(User, world.agent2_id).language == "pt-BR"
    assert post(bruno, "/console/language", {"language": "fr-FR"}).status_code == 400


@pytest.mark.parametrize("accept, expected", [("en-US,en;q=0.9", "Sign in"), ("pt-BR", "Entrar")])
def test_login_page_speaks_the_browser_language(console: Flask, accept: str, expected: str) -> None:
    page = console.test_client().get("/console/login", headers={"Accept-Language": accept})
    assert expected in text_of(page)


def test_ids_beyond_any_column_are_not_found(agent, world: World) -> None:
    huge = "9" * 23
    assert agent.get(f"/console/debtors/{huge}").status_code == 404
    assert post(agent, f"/console/calls/{huge}/take").status_code == 404
    revealed = post(
        agent,
        f"/console/debtors/{world.debtor_id}/reveal",
        {"field": "phone", "phone_id": "9" * 25},
    )
    assert revealed.status_code == 400  # no such phone, named as the refusal says


def test_a_nul_character_in_any_field_is_refused_naming_it(agent, world: World) -> None:
    found = agent.get("/console/debtors?q=Maria%00")
    assert found.status_code == 400
    assert found.get_data(as_text=True).startswith("q: contém um caractere nulo")
    noted = post(agent, f"/console/debtors/{world.debtor_id}/note", {"text": "a\x00b"})
    assert noted.status_code == 400 and noted.get_data(as_text=True).startswith("text: ")


def test_access_logs_mask_what_a_search_says(console: Flask, world: World, caplog) -> None:
    """BR-LGPD: "GET /console/debtors?q=Maria+da+Silva" is logged without the name, by the
    development server's real request log (and gunicorn's access log, same filter)."""
    import logging
    import threading

    from werkzeug.serving import make_server

    from agent_console.web import MaskPersonalQueries

    server = make_server("127.0.0.1", 0, console, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            import urllib.request

            url = f"http://127.0.0.1:{server.server_port}/console/debtors?q=Maria+da+Silva&page=2"
            with urllib.request.urlopen(url) as answer:  # to the login page: not signed in
                assert answer.status == 200
    finally:
        server.shutdown()
        thread.join()
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "werkzeug")
    assert "/console/debtors?q=***&page=2" in logged and "Maria" not in logged

    # gunicorn's access log passes its atoms as a dict: the request line and the raw query.
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '"%(r)s" %(q)s', None, None)
    record.args = {"r": "GET /console/debtors?q=Maria HTTP/1.1", "q": "q=Maria&page=2"}
    MaskPersonalQueries().filter(record)
    assert record.getMessage() == '"GET /console/debtors?q=*** HTTP/1.1" q=***&page=2'
