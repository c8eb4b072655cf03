"""Build small portfolios directly in the database for tests."""

from __future__ import annotations

import itertools
from datetime import date, time
from decimal import Decimal

from sqlalchemy.orm import Session

from ivr.dialer.campaigns import set_windows
from ivr.models import Campaign, Creditor, Debt, Debtor, Phone

_serial = itertools.count(1)

ALL_WEEK = [(d, time(0, 0), time(23, 59)) for d in range(7)]


def campaign(session: Session, name: str = "Test", *, status: str = "running", windows=ALL_WEEK,
             cps: float = 100.0, max_concurrent: int = 1000, **fields) -> Campaign:
    c = Campaign(name=name, caller_id="+551140000000", status=status, calls_per_second=cps,
                 max_concurrent=max_concurrent, **fields)
    session.add(c)
    session.flush()
    set_windows(session, c, list(windows))
    session.flush()
    return c


def creditor(session: Session) -> Creditor:
    c = Creditor(name="Banco Exemplo S.A.", legal_id=f"1122233300{next(_serial):04d}", country="BR")
    session.add(c)
    session.flush()
    return c


def debtor(session: Session, camp: Campaign | None, *, country: str = "BR", state: str = "SP",
           number: str | None = None, status: str = "open", next_call_at=None, priority: int = 5,
           line_type: str = "mobile", consent: bool = False, principal: str = "120.50",
           cred: Creditor | None = None, **fields) -> Debtor:
    n = next(_serial)
    d = Debtor(external_id=f"D{n:06d}", full_name=fields.pop("full_name", f"Maria Teste {n}"),
               document_kind="cpf" if country == "BR" else "ssn",
               document=fields.pop("document", f"{n:011d}" if country == "BR" else f"{n:09d}"),
               country=country, state=state, language="pt-BR" if country == "BR" else "en-US",
               next_call_at=next_call_at, dial_priority=priority, **fields)
    session.add(d)
    session.flush()
    if number is None:
        number = f"+55119{n:08d}" if country == "BR" else f"+1617555{n % 10000:04d}"
    session.add(Phone(debtor_id=d.id, number=number, line_type=line_type, robocall_consent=consent))
    cred = cred or creditor(session)
    session.add(Debt(external_id=f"C{n:06d}", debtor_id=d.id, creditor_id=cred.id,
                     campaign_id=camp.id if camp else None, currency="BRL" if country == "BR" else "USD",
                     principal=Decimal(principal), fee=Decimal("2.41"), interest=Decimal("1.20"),
                     due_date=date(2026, 9, 1), status=status))
    session.flush()
    return d
