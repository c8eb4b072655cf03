"""Checks of single values and rows of the import format (pure: no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.br import cpf as stdnum_cpf

from ivr.portfolio.seed import boleto_line, cpf_with_check_digits, pix_code
from ivr.portfolio.validation import (
    REQUIRED_COLUMNS,
    HeaderError,
    PortfolioRow,
    RowValidator,
    _Invalid,
    _mod10,
    _mod11_remainder,
    boleto_due_date,
    cpf_check_digits_ok,
    parse_amount,
    parse_boleto,
    parse_cents,
    parse_cpf,
    parse_creditor_document,
    parse_link,
    parse_pix,
    parse_timezone,
    parse_zip,
    read_header,
)

TODAY = date(2026, 11, 24)


# -- CPF


@st.composite
def cpf_texts(draw) -> str:
    nine = draw(st.text(alphabet="0123456789", min_size=9, max_size=9))
    number = (
        cpf_with_check_digits(nine)
        if draw(st.booleans())
        else nine + draw(st.text(alphabet="0123456789", min_size=2, max_size=2))
    )
    if draw(st.booleans()):
        number = f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"
    return number


@settings(max_examples=5000, deadline=None)
@given(cpf_texts())
def test_fast_cpf_check_agrees_with_stdnum(text: str) -> None:
    assert cpf_check_digits_ok(text) == stdnum_cpf.is_valid(text)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789.- /x", max_size=16))
def test_fast_cpf_check_never_contradicts_stdnum(text: str) -> None:
    fast = cpf_check_digits_ok(text)
    assert fast is None or fast == stdnum_cpf.is_valid(text)


def test_cpf_of_one_repeated_digit_is_refused_although_its_check_digits_match() -> None:
    assert stdnum_cpf.is_valid("111.111.111-11")
    with pytest.raises(_Invalid, match="repeated digit"):
        parse_cpf("111.111.111-11")
    assert parse_cpf("529.982.247-25") == "52998224725"
    with pytest.raises(_Invalid, match="not a valid CPF"):
        parse_cpf("529.982.247-26")


# -- amounts


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1.234.567", "1234567"),
        ("1,234,567", "1234567"),
        ("R$ 1.234,5", "1234.50"),
        ("$12", "12"),
        ("0.5", "0.50"),
        ("0", "0"),
    ],
)
def test_amounts_in_brazilian_and_international_notation(text: str, amount: str) -> None:
    assert parse_amount(text) == Decimal(amount)
    assert parse_cents(text) == int(Decimal(amount) * 100)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1.234", "ambiguous"),
        ("1,234", "ambiguous"),
        ("-10.00", "negative"),
        ("R$ -5", "negative"),
        ("12.345", "ambiguous"),
        ("1234.567", "more than two decimal places"),
        ("12,3456", "more than two decimal places"),
        ("ten", "not an amount"),
        ("1.2.3", "not an amount"),
        ("1000000000000", "too large"),
    ],
)
def test_bad_amounts_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(_Invalid, match=reason):
        parse_amount(text)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 10**11), st.sampled_from(["plain", "br", "us"]))
def test_cents_round_trip_through_every_notation(cents: int, notation: str) -> None:
    whole, fraction = divmod(cents, 100)
    if notation == "plain":
        text = f"{whole}.{fraction:02d}"
    elif notation == "br":
        text = f"{whole:,}".replace(",", ".") + f",{fraction:02d}"
    else:
        text = f"{whole:,}.{fraction:02d}"
    assert parse_cents(text) == cents


# -- other values


def test_zip_codes_per_country() -> None:
    assert parse_zip("01310-100", "BR") == "01310100"
    assert parse_zip("02116", "US") == "02116"
    assert parse_zip("021161234", "US") == "02116-1234"
    with pytest.raises(_Invalid, match="CEP"):
        parse_zip("1310-100", "BR")
    with pytest.raises(_Invalid, match="ZIP"):
        parse_zip("0211", "US")


def test_time_zones_must_be_iana_names() -> None:
    assert parse_timezone("America/Manaus") == "America/Manaus"
    for bad in ("Brasil/Manaus", "GMT-3", "../etc/passwd", "BRT"):
        with pytest.raises(_Invalid, match="IANA"):
            parse_timezone(bad)


def test_creditor_documents_cnpj_or_ein() -> None:
    assert parse_creditor_document("11.222.333/0001-81") == ("11222333000181", "BR")
    assert parse_creditor_document("04-2103594") == ("042103594", "US")
    with pytest.raises(_Invalid, match="not a valid CNPJ"):
        parse_creditor_document("11.222.333/0001-82")
    with pytest.raises(_Invalid, match="CNPJ .* or an EIN"):
        parse_creditor_document("123")


def test_payment_links_must_be_https() -> None:
    assert parse_link("https://pay.example.com/c/1?x=2") == "https://pay.example.com/c/1?x=2"
    for bad in ("http://pay.example.com", "pay.example.com/c/1", "https://", "https://a b.com"):
        with pytest.raises(_Invalid, match="https"):
            parse_link(bad)


# -- boleto and PIX


def _mod10_reference(digits: str) -> int:
    total, weight = 0, 2
    for ch in reversed(digits):
        product = int(ch) * weight
        total += product - 9 if product > 9 else product
        weight = 3 - weight
    return (10 - total % 10) % 10


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=48))
def test_check_digit_sums_match_the_textbook_loops(digits: str) -> None:
    assert _mod10(digits) == _mod10_reference(digits)
    weights = [2 + i % 8 for i in range(len(digits))]
    assert (
        _mod11_remainder(digits)
        == sum(int(d) * w for d, w in zip(reversed(digits), weights, strict=True)) % 11
    )


def _arrecadacao_line(first_43: str) -> str:
    """A 48-digit utility boleto line (value identifier 6: module 10)."""
    assert first_43[0] == "8" and first_43[2] == "6"
    general = _mod10_reference(first_43[:3] + first_43[3:])
    barcode = first_43[:3] + str(general) + first_43[3:]
    blocks = [barcode[i * 11 : i * 11 + 11] for i in range(4)]
    return "".join(block + str(_mod10_reference(block)) for block in blocks)


def test_valid_boleto_lines_pass_and_any_mistyped_digit_is_caught() -> None:
    line = boleto_line("341", date(2026, 12, 5), Decimal("1296.29"), "0" * 5 + "1234567890" * 2)
    assert parse_boleto(line) == line
    spaced = f"{line[:5]}.{line[5:10]} {line[10:15]}.{line[15:21]} {line[21:26]}.{line[26:32]} {line[32]} {line[33:]}"
    assert parse_boleto(spaced) == line
    assert boleto_due_date(line, date(2026, 11, 1)) == date(2026, 12, 5)
    for position in range(47):
        digit = line[position]
        wrong = line[:position] + str((int(digit) + 1) % 10) + line[position + 1 :]
        with pytest.raises(_Invalid, match="check digit"):
            parse_boleto(wrong)
    utility = _arrecadacao_line("8" + "1" + "6" + "1234567890" * 4)
    assert parse_boleto(utility) == utility
    with pytest.raises(_Invalid, match="check digit"):
        parse_boleto(utility[:5] + str((int(utility[5]) + 1) % 10) + utility[6:])
    with pytest.raises(_Invalid, match="47 digits"):
        parse_boleto("1234")


def test_valid_pix_codes_pass_and_changed_ones_are_caught() -> None:
    code = pix_code(
        "maria@example.com", Decimal("120.50"), "Banco Horizonte S.A.", "São Paulo", "TX1"
    )
    assert parse_pix(code) == code
    assert "BANCO HORIZONTE" in code and "SAO PAULO" in code
    with pytest.raises(_Invalid, match="CRC"):
        parse_pix(code.replace("120.50", "12.050"))
    with pytest.raises(_Invalid, match="truncated"):
        parse_pix(code[:-3])
    with pytest.raises(_Invalid, match="000201"):
        parse_pix("https://pay.example.com")


# -- header and rows


def test_header_names_every_problem_and_the_expected_columns() -> None:
    with pytest.raises(HeaderError) as caught:
        read_header(["debtor_external_id", "full_name", "nome", "phone1", "phone1", "phone4_type"])
    message = str(caught.value)
    assert "unknown column 'nome'" in message
    assert "repeated column phone1" in message
    assert "missing required columns document, debt_external_id" in message
    assert "phone4_type without the phone column phone4" in message
    assert "Required columns: " + ", ".join(REQUIRED_COLUMNS) in message


def test_header_is_case_and_space_insensitive() -> None:
    layout = read_header([f"  {name.upper()} " for name in REQUIRED_COLUMNS])
    assert layout.width == len(REQUIRED_COLUMNS)


BASE_ROW = {
    "debtor_external_id": "D1",
    "full_name": "Maria da Silva",
    "document": "529.982.247-25",
    "phone1": "(11) 98765-4321",
    "debt_external_id": "C1",
    "creditor_name": "Banco Horizonte S.A.",
    "creditor_document": "11.222.333/0001-81",
    "principal": "1.000,00",
    "due_date": "2026-08-10",
}


def _row(**cells: str) -> tuple[RowValidator, list[str]]:
    base = dict(BASE_ROW)
    base.update(cells)
    names = list(base)
    return RowValidator(read_header(names), TODAY), [base[n] for n in names]


def test_a_minimal_row_gets_the_defaults() -> None:
    validator, cells = _row()
    row = validator.validate(2, cells)
    assert isinstance(row, PortfolioRow)
    assert (row.country, row.document_kind, row.document) == ("BR", "cpf", "52998224725")
    assert row.phones == [("+5511987654321", "mobile", False, False, 0)]
    assert (row.principal_cents, row.fee_cents, row.status, row.language) == (
        100000,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        ({"document": "123.456.789-00"}, "document", "not a valid CPF"),
        ({"document": "111.111.111-11"}, "document", "repeated digit"),
        ({"country": "US"}, "document", "not a valid SSN"),
        ({"phone1": "(20) 1234-5678"}, "phone1", "not a valid phone number"),
        ({"principal": "-5"}, "principal", "negative"),
        ({"principal": "0"}, "principal", "more than zero"),
        ({"fee": "30.00"}, "fee", "2% cap"),
        ({"due_date": "10/08/2026"}, "due_date", "YYYY-MM-DD"),
        ({"due_date": "2026-02-30"}, "due_date", "no such day"),
        ({"birth_date": "2030-01-01"}, "birth_date", "out of range"),
        ({"state": "XX"}, "state", "not a Brazilian state"),
        ({"country": "US", "document": "123-45-6789", "state": "SP"}, "state", "not a US state"),
        ({"country": "AR"}, "country", "expected BR or US"),
        ({"currency": "EUR"}, "currency", "expected BRL or USD"),
        ({"status": "late"}, "status", "expected open, paid"),
        ({"language": "es-ES"}, "language", "expected pt-BR or en-US"),
        (
            {"preferred_start": "18:00", "preferred_end": "09:00"},
            "preferred_end",
            "end before they start",
        ),
        ({"preferred_start": "9h"}, "preferred_start", "HH:MM"),
        # Digits of other scripts pass str.isdigit() but are no keypad's digits.
        ({"preferred_start": "²:00"}, "preferred_start", "HH:MM"),
        ({"country": "US", "document": "١٢٣-٤٥-٦٧٨٩", "state": "TX"}, "document", "not a valid SSN"),
        ({"country": "US", "document": "²²³-45-6789", "state": "TX"}, "document", "not a valid SSN"),
        ({"country": "US", "document": "02108-1234", "state": "TX"}, "document", "not a valid SSN"),
        ({"phone1_consent": "maybe"}, "phone1_consent", "yes or no"),
        ({"phone1_type": "fax"}, "phone1_type", "mobile or landline"),
        ({"email": "maria@"}, "email", "e-mail"),
        ({"full_name": ""}, "full_name", "required value is empty"),
        ({"debtor_external_id": "x" * 65}, "debtor_external_id", "longer than 64"),
    ],
)
def test_each_bad_value_is_named_with_its_column_value_and_reason(cells, column, reason) -> None:
    validator, values = _row(**cells)
    errors = validator.validate(7, values)
    assert isinstance(errors, list)
    matching = [e for e in errors if e.column == column]
    assert matching, errors
    assert matching[0].line == 7
    assert reason in matching[0].reason
    assert matching[0].value == cells.get(column, BASE_ROW.get(column, ""))


def test_a_row_with_the_wrong_number_of_fields_is_refused_whole() -> None:
    validator, values = _row()
    errors = validator.validate(3, values[:-1])
    assert [(e.line, e.column) for e in errors] == [(3, "(row)")]
    assert "header has 9" in errors[0].reason


def test_several_problems_in_one_row_are_all_reported() -> None:
    validator, values = _row(document="1", principal="abc", state="ZZ")
    errors = validator.validate(2, values)
    assert {e.column for e in errors} == {"document", "principal", "state"}


def test_a_debtor_repeated_on_several_rows_is_reported_on_each_bad_row() -> None:
    validator, first = _row(document="123.456.789-00", debt_external_id="C1")
    second = list(first)
    second[list(BASE_ROW).index("debt_external_id")] = "C2"
    errors = [validator.validate(line, cells) for line, cells in ((2, first), (3, second))]
    assert [[(e.line, e.column) for e in found] for found in errors] == [
        [(2, "document")],
        [(3, "document")],
    ]


def test_a_repeated_debtor_with_a_new_phone_is_checked_again() -> None:
    validator, first = _row()
    assert isinstance(validator.validate(2, first), PortfolioRow)
    second = list(first)
    second[list(BASE_ROW).index("phone1")] = "(11) 1234"
    errors = validator.validate(3, second)
    assert [(e.line, e.column) for e in errors] == [(3, "phone1")]


def test_an_ssn_is_nine_ascii_digits_in_its_groups() -> None:
    from ivr.portfolio.documents import validate_ssn

    for written in ("123-45-6789", "123 45 6789", "123.45.6789", "123456789", " 123-45-6789 "):
        assert validate_ssn(written) == "123456789", written
    for wrong in ("123-456-789", "12-345-6789", "123-45 6789", "123-45-678９"):
        with pytest.raises(ValueError, match="expected 9 digits"):
            validate_ssn(wrong)
