"""`cordial import` and `cordial seed` through the command line: output and exit statuses."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .test_import import SAMPLE, sample_rows, write_csv


def test_import_exits_0_when_every_row_is_imported(cli) -> None:
    result = cli("import", str(SAMPLE))
    assert result.exit_code == 0, result.output
    assert "21 rows; 21 imported, 0 updated, 0 rejected" in result.output
    again = cli("import", str(SAMPLE), "--json")
    payload = json.loads(again.output)
    assert again.exit_code == 0
    assert (payload["imported"], payload["updated"], payload["rejected"], payload["errors"]) == (
        0,
        21,
        0,
        [],
    )
    assert payload["error_file"] is None


def test_import_exits_1_and_lists_rejected_rows(cli, tmp_path: Path) -> None:
    rows = sample_rows()
    rows[3]["document"] = "123.456.789-00"
    rows[5]["due_date"] = "31/12/2026"
    path = write_csv(tmp_path / "carteira.csv", rows)
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert "19 imported, 0 updated, 2 rejected" in result.output
    assert "line 5, document = '************00': not a valid CPF" in result.output
    assert "line 7, due_date = '31/12/2026': not a date; expected YYYY-MM-DD" in result.output
    error_file = tmp_path / "carteira.import-errors.csv"
    assert f"Every error is listed in {error_file}" in result.output
    with error_file.open(encoding="utf-8-sig", newline="") as f:
        listed = list(csv.DictReader(f))
    assert listed[0]["value"] == "123.456.789-00"  # in full in the file, masked on screen


def test_import_json_summary_is_machine_readable(cli, tmp_path: Path) -> None:
    rows = sample_rows()
    rows[0]["phone1"] = "12"
    path = write_csv(tmp_path / "p.csv", rows)
    result = cli("import", str(path), "--json")
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["imported"] == 20 and payload["rejected"] == 1
    assert payload["errors"] == [
        {"line": 2, "column": "phone1", "value": "12", "reason": payload["errors"][0]["reason"]}
    ]
    assert payload["error_file"] == str(tmp_path / "p.import-errors.csv")


def test_import_exits_2_on_a_file_it_cannot_read(cli, tmp_path: Path) -> None:
    missing = cli("import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert "no such file" in missing.output
    header = tmp_path / "header.csv"
    header.write_text("id;name;phone\n1;Maria;11987654321\n", encoding="utf-8")
    bad = cli("import", str(header), "--json")
    assert bad.exit_code == 2
    payload = json.loads(bad.output)
    assert "missing required columns" in payload["error"] and "debt_external_id" in payload["error"]


def test_seed_is_deterministic_and_fills_the_database(cli) -> None:
    first = cli("seed", "--debtors", "60", "--seed", "3", "--json")
    assert first.exit_code == 0, first.output
    payload = json.loads(first.output)
    assert (
        payload["debtors"] == 60
        and payload["rejected"] == 0
        and payload["imported"] == payload["debts"]
    )
    again = json.loads(cli("seed", "--debtors", "60", "--seed", "3", "--json").output)
    assert (again["imported"], again["updated"]) == (0, payload["debts"])
    text = cli("seed", "--debtors", "5", "--seed", "4")
    assert text.exit_code == 0 and "Seeded 5 debtors" in text.output
