"""Tests of the portfolio: import, validation, phones, seed."""
