"""Console commands: `cordial users add|list`."""

from __future__ import annotations

import click
from sqlalchemy import select

from agent_console.accounts import ROLES, AccountError, create_user
from agent_console.i18n import LANGUAGES


def register(main: click.Group) -> None:
    from ivr.cli import CliContext, emit_json, pass_cli

    @main.group()
    def users() -> None:
        """Console users (agents and supervisors)."""

    @users.command("add")
    @click.argument("username")
    @click.option("--role", type=click.Choice(ROLES), required=True, help="agent or supervisor.")
    @click.option("--password", help="Password (at least 10 characters); asked for when omitted.")
    @click.option(
        "--language",
        type=click.Choice(LANGUAGES),
        default=None,
        help="Console language (default CORDIAL_DEFAULT_LANGUAGE).",
    )
    @click.option(
        "--dial-target",
        default=None,
        help="Where a taken call rings: +E.164 phone, sip:address or client:identity.",
    )
    @click.option(
        "--display-name", default=None, help="Name shown to other agents (default the username)."
    )
    @click.option("--json", "as_json", is_flag=True)
    @pass_cli
    def users_add(
        cli: CliContext,
        username: str,
        role: str,
        password: str | None,
        language: str | None,
        dial_target: str | None,
        display_name: str | None,
        as_json: bool,
    ) -> None:
        """Create a console user."""
        runtime = cli.runtime
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        language = language or runtime.config.get("CORDIAL_DEFAULT_LANGUAGE")
        try:
            with runtime.db.session() as session:
                user = create_user(
                    session,
                    username,
                    role=role,
                    password=password,
                    now=runtime.clock.now(),
                    language=language,
                    dial_target=dial_target,
                    display_name=display_name,
                )
                created = {
                    "id": user.id,
                    "username": user.username,
                    "role": user.role,
                    "language": user.language,
                    "dial_target": user.dial_target,
                }
        except AccountError as exc:
            hint = f"--{exc.field}" if exc.field != "username" else "USERNAME"
            raise click.BadParameter(str(exc), param_hint=hint) from None
        if as_json:
            emit_json(created)
        else:
            click.echo(
                f"created {created['role']} {created['username']} (id {created['id']}, {created['language']})"
            )

    @users.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @pass_cli
    def users_list(cli: CliContext, as_json: bool) -> None:
        """List console users (never their password hashes)."""
        from ivr.models import User

        with cli.runtime.db.session() as session:
            rows = [
                {
                    "id": u.id,
                    "username": u.username,
                    "role": u.role,
                    "language": u.language,
                    "dial_target": u.dial_target,
                    "active": u.active,
                }
                for u in session.scalars(select(User).order_by(User.username))
            ]
        if as_json:
            emit_json(rows)
            return
        for row in rows:
            state = "" if row["active"] else " (inactive)"
            click.echo(f"{row['username']:20} {row['role']:11} {row['language']}{state}")


__all__ = ["register"]
