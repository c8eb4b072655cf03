"""`cordial demo`, the first of the two README commands, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.demo import latest_window_start

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORDIAL_", "DATABASE_URL"))}
    env["CORDIAL_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def test_demo_runs_a_campaign_reports_it_and_serves_the_console(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ivr.cli", "demo", "--debtors", "40", "--hours", "2",
                             "--port", str(port)], env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in proc.stdout:  # the demo prints the console address once it serves
            lines.append(line)
            if line.startswith("Carrier emulator:"):
                break
        output = "".join(lines)
        assert "Portfolio: 40 debtors" in output
        assert "calls placed" in output and "audit: no invariant violated" in output
        assert "right party contacts" in output and "transfers requested" in output
        assert f"Console: http://127.0.0.1:{port}/console/" in output
        assert "agent" in output and "supervisor" in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/login", timeout=10) as reply:
            assert reply.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert (tmp_path / "instance" / "demo.db").exists()


def test_demo_json_summary_without_serving(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "ivr.cli", "demo", "--debtors", "25", "--hours", "1",
                             "--no-serve", "--json"], env=_env(tmp_path), cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["portfolio"]["debtors"] == 25
    assert payload["campaign"]["violations"] == [] and payload["campaign"]["calls_placed"] > 0
    assert {u["role"] for u in payload["console"]["users"]} == {"agent", "supervisor"}


def test_the_demo_day_is_not_a_national_holiday() -> None:
    """Monday 2 Nov 2026 is Finados: the rules would let almost no call through. The demo
    runs the Friday before; on an ordinary Monday evening it runs that Monday."""
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    finados = latest_window_start(datetime(2026, 11, 2, 21, 0, tzinfo=sao_paulo), 8)
    assert finados.astimezone(sao_paulo) == datetime(2026, 10, 30, 9, 0, tzinfo=sao_paulo)
    monday = latest_window_start(datetime(2026, 11, 9, 21, 0, tzinfo=sao_paulo), 8)
    assert monday.astimezone(sao_paulo) == datetime(2026, 11, 9, 9, 0, tzinfo=sao_paulo)
