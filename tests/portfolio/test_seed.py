"""The seed: a realistic, valid, deterministic made-up portfolio."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import func, select
from stdnum.br import cpf as stdnum_cpf

from ivr.models import CallingWindow, Campaign, Debt, Debtor, PaymentInstrument, Phone
from ivr.portfolio.phones import BR_DDD_STATE
from ivr.portfolio.seed import DEMO_CAMPAIGN, portfolio_rows, seed_portfolio
from ivr.portfolio.validation import PortfolioRow, RowValidator, read_header
from ivr.runtime import Runtime

TODAY = date(2026, 11, 24)


def validated(rows: list[dict[str, str]]) -> list[PortfolioRow]:
    validator = RowValidator(read_header(list(rows[0])), TODAY)
    out = []
    for line, row in enumerate(rows, start=2):
        result = validator.validate(line, list(row.values()))
        assert isinstance(result, PortfolioRow), (row, result)
        out.append(result)
    return out


def test_same_seed_same_portfolio_other_seed_other_portfolio() -> None:
    assert list(portfolio_rows(200, 5, TODAY)) == list(portfolio_rows(200, 5, TODAY))
    assert list(portfolio_rows(200, 5, TODAY)) != list(portfolio_rows(200, 6, TODAY))


def test_every_seeded_row_is_valid_and_realistic() -> None:
    rows = list(portfolio_rows(1500, 1, TODAY))
    checked = validated(rows)
    debtors = {r.debtor_external_id: r for r in checked}
    assert len(debtors) == 1500
    assert len(rows) > 1.3 * len(debtors)  # 1 to 3 debts each

    for row in checked:
        if row.document_kind == "cpf":
            assert stdnum_cpf.is_valid(row.document)
        else:
            assert row.document[:3] not in {"000", "666"} and row.document[0] != "9"
        for number, *_ in row.phones:
            assert number.startswith("+") and number[1:].isdigit() and len(number) <= 16
        assert 5 <= (TODAY - date.fromisoformat(row.due_date)).days <= 400
        if row.country == "BR" and row.fee_cents:
            assert row.fee_cents * 100 <= row.principal_cents * 2

    countries = Counter(r.country for r in debtors.values())
    assert 0.05 < countries["US"] / len(debtors) < 0.2
    us = [r for r in debtors.values() if r.country == "US"]
    assert "MA" in {r.state for r in us}
    assert any(
        consent for r in us for _, line_type, _, consent, _ in r.phones if line_type == "mobile"
    )
    assert all(
        r.phones[0][0][2:5] != "555" and "5550" in r.phones[0][0] for r in us
    )  # 555-01XX: fiction

    brazilians = [r for r in debtors.values() if r.country == "BR"]
    ddds = {r.phones[0][0][3:5] for r in brazilians}
    assert len(ddds) > 40
    mismatched = [r for r in brazilians if BR_DDD_STATE[r.phones[0][0][3:5]] != r.state]
    assert (
        0.03 < len(mismatched) / len(brazilians) < 0.25
    )  # some zone uncertainty, mostly consistent

    statuses = Counter(r.status or "open" for r in checked)
    assert statuses["open"] > 0.7 * len(checked)
    assert {"paid", "disputed", "agreement"} <= set(statuses)
    assert (
        any(r.boleto for r in checked)
        and any(r.pix for r in checked)
        and any(r.payment_link for r in checked)
    )


def test_seed_portfolio_writes_debtors_and_a_draft_demo_campaign(runtime: Runtime) -> None:
    report = seed_portfolio(runtime, 120, seed=9)
    assert report.rows.rejected == 0
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Debtor)) == 120
        debts = s.scalar(select(func.count()).select_from(Debt))
        assert debts == report.rows.rows
        assert s.scalar(select(func.count()).select_from(Phone)) >= 120
        assert s.scalar(select(func.count()).select_from(PaymentInstrument)) > 0
        campaign = s.scalars(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
        assert campaign.status == "draft"
        windows = s.scalars(
            select(CallingWindow).where(CallingWindow.campaign_id == campaign.id)
        ).all()
        assert sorted(w.weekday for w in windows) == [0, 1, 2, 3, 4]
        assert (
            s.scalar(select(func.count()).select_from(Debt).where(Debt.campaign_id == campaign.id))
            == debts
        )
        queued = s.scalar(
            select(func.count()).select_from(Debtor).where(Debtor.next_call_at.is_not(None))
        )
        assert 0 < queued <= 120

    again = seed_portfolio(runtime, 120, seed=9)
    assert (again.rows.imported, again.rows.updated) == (0, report.rows.rows)
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Debtor)) == 120
        assert s.scalar(select(func.count()).select_from(Campaign)) == 1
