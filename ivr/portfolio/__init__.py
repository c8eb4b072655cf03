"""The portfolio: debtors, their phones and debts, and how they get in (import, seed)."""
