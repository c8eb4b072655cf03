"""`cordial web` and `cordial emulator`: run the web app or the local carrier
emulator as their own processes (production runs the web app under gunicorn)."""

from __future__ import annotations

from urllib.parse import urlparse

import click

from ivr.cli_context import CliContext, pass_cli


def register(main: click.Group) -> None:
    main.add_command(web_cmd)
    main.add_command(emulator_cmd)


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@pass_cli
def web_cmd(cli: CliContext, host: str, port: int) -> None:
    """Serve the webhooks and the console (development server; use gunicorn in production)."""
    from werkzeug.serving import run_simple

    from ivr.app import create_app

    app = create_app(runtime=cli.runtime)
    click.echo(f"Cordial web on http://{host}:{port}  (webhooks expect CORDIAL_PUBLIC_BASE_URL="
               f"{cli.runtime.config.get('CORDIAL_PUBLIC_BASE_URL')})")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@click.command("emulator")
@click.option("--port", type=click.IntRange(0, 65535), help="Port on 127.0.0.1 (default: CORDIAL_EMULATOR_URL's).")
@click.option("--seed", default="cordial", show_default=True, help="Seed of the deterministic persona choice.")
@pass_cli
def emulator_cmd(cli: CliContext, port: int | None, seed: str) -> None:
    """Run the local carrier emulator: Twilio's REST API on loopback, and debtor personas
    answering the calls by fetching the app's webhooks."""
    import threading

    from ivr.telephony.emulator import CarrierEmulator, PersonaChooser

    if port is None:
        port = urlparse(cli.runtime.config.get("CORDIAL_EMULATOR_URL")).port or 5080
    emulator = CarrierEmulator(personas=PersonaChooser.default(seed=seed), seed=seed)
    with emulator.serve(port=port) as server:
        click.echo(f"carrier emulator on {server.base_url} (Ctrl-C stops)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("stopping")
