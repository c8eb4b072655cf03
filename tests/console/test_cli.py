"""`cordial users add|list`."""

from __future__ import annotations

import json

from sqlalchemy import select

from ivr.db import Database
from ivr.models import User


def users_in(cli) -> list[User]:
    db = Database(f"sqlite:///{cli.instance / 'cordial.db'}")
    try:
        with db.session() as session:
            return list(session.scalars(select(User).order_by(User.username)))
    finally:
        db.dispose()


def test_users_add_with_password_option(cli) -> None:
    result = cli(
        "users",
        "add",
        "carla",
        "--role",
        "supervisor",
        "--password",
        "a long passphrase",
        "--language",
        "en-US",
        "--dial-target",
        "client:carla",
        "--json",
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["role"] == "supervisor" and created["dial_target"] == "client:carla"
    [user] = users_in(cli)
    assert user.password_hash.startswith("scrypt:") and user.language == "en-US"


def test_users_add_prompts_for_the_password(cli) -> None:
    result = cli(
        "users", "add", "davi", "--role", "agent", input="segredo muito bom\nsegredo muito bom\n"
    )
    assert result.exit_code == 0, result.output
    assert "created agent davi" in result.output
    assert users_in(cli)[0].language == "pt-BR"  # CORDIAL_DEFAULT_LANGUAGE


def test_users_add_refuses_a_short_password_or_a_taken_name(cli) -> None:
    short = cli("users", "add", "eva", "--role", "agent", "--password", "curta")
    assert short.exit_code != 0 and "at least 10" in short.output
    assert cli("users", "add", "eva", "--role", "agent", "--password", "0123456789").exit_code == 0
    taken = cli("users", "add", "eva", "--role", "agent", "--password", "0123456789")
    assert taken.exit_code != 0 and "already taken" in taken.output
    bad_role = cli("users", "add", "fabio", "--role", "boss", "--password", "0123456789")
    assert bad_role.exit_code != 0 and "boss" in bad_role.output


def test_users_list_never_prints_hashes(cli) -> None:
    cli("users", "add", "gil", "--role", "agent", "--password", "0123456789")
    listed = cli("users", "list", "--json")
    assert json.loads(listed.output)[0]["username"] == "gil"
    assert "scrypt" not in listed.output
