"""Every block is explainable in both languages (invariant 10)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.compliance.presets import all_rule_ids, load_presets
from ivr.compliance.reason import (
    ENGINE_RULE_IDS,
    LANGUAGES,
    SERVICE_RULE_IDS,
    Reason,
    explain,
    reason_texts,
)

EMITTED = sorted(ENGINE_RULE_IDS | SERVICE_RULE_IDS | all_rule_ids())
# Every clause the engine puts on a reason, by rule.
CLAUSES = {
    "BR-SP-HOURS": ["BR-AL"],
    "BR-FREQ": ["day", "week"],
    "US-REGF-7IN7": ["week", "conversation"],
    "CAMPAIGN-CAP": ["day", "week"],
    "RETRY-DELAY": ["no-answer", "busy", "machine"],
    "US-TCPA-CONSENT": ["mobile", "unknown"],
    "OPT-OUT": ["debtor", "phone"],
    "US-REGF-OPTOUT": ["debtor", "phone"],
    "BR-NAO-ME-LIGUE": ["document", "phone"],
    "BLOCK-LIST": ["document", "phone"],
    "BR-CDC-42-UNDUE": ["paid", "disputed", "agreement", "closed", "payment-pending"],
    "DEBT-NOT-OPEN": ["paid", "disputed", "agreement", "closed", "payment-pending"],
    "CAMPAIGN-NOT-RUNNING": ["draft", "paused", "finished"],
    "LIVE-ATTEMPT": ["number"],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_rule_id_has_a_one_line_text(language):
    texts = reason_texts(language)["rules"]
    assert sorted(texts) == EMITTED
    for rule_id in EMITTED:
        for clause in CLAUSES.get(rule_id, [None]):
            entry = texts[rule_id]
            if isinstance(entry, dict):
                assert clause in entry, f"{language} {rule_id} lacks clause {clause}"
            line = explain(Reason(rule_id, clause=clause, limit=3), language)
            assert line and "\n" not in line and "{" not in line


def test_both_languages_cover_the_same_rules_and_clauses():
    english, portuguese = (reason_texts(language)["rules"] for language in LANGUAGES)
    for rule_id, entry in english.items():
        other = portuguese[rule_id]
        assert type(entry) is type(other)
        if isinstance(entry, dict):
            assert sorted(entry) == sorted(other)


def test_explain_formats_the_instant_in_the_debtors_zone():
    reason = Reason(
        "BR-SP-HOURS",
        until=datetime(2026, 11, 30, 11, 0, tzinfo=UTC),
        zone="America/Sao_Paulo",
        clause="BR-SP",
    )
    assert "30/11/2026 08:00 (America/Sao_Paulo)" in explain(reason, "pt-BR")
    assert "11/30/2026 08:00 AM (America/Sao_Paulo)" in explain(reason, "en-US")
    assert "11:00 (UTC)" in explain(reason, "pt-BR", display_zone="UTC")


def test_explain_of_a_cap_names_its_limit():
    reason = Reason(
        "BR-FREQ", until=datetime(2026, 11, 25, 3, 0, tzinfo=UTC), clause="week", limit=3
    )
    assert "3" in explain(reason, "en-US")
    assert "25/11/2026 00:00 (America/Sao_Paulo)" in explain(reason, "pt-BR", "America/Sao_Paulo")


def test_window_without_opening_says_so():
    line = explain(Reason("CAMPAIGN-WINDOW", until=None, zone="America/Sao_Paulo"), "pt-BR")
    assert "nenhuma no horizonte de busca" in line


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="fr-FR"):
        explain(Reason("WRONG-NUMBER"), "fr-FR")


def test_alagoas_explanation_names_its_own_law():
    assert load_presets().calling_hours["BR-AL"].rule_id == "BR-SP-HOURS"
    assert "Alagoas" in explain(Reason("BR-SP-HOURS", clause="BR-AL"), "pt-BR")
