"""Typed amounts become integer cents or a message a resident understands, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commonpot.money import format_cents, parse_cents
from tests.hostile import HOSTILE, hostile_text


@HOSTILE
@given(st.integers(-(10**17) + 1, 10**17 - 1))
def test_what_is_shown_reads_back_to_the_same_cents(cents):
    shown = format_cents(cents).replace("$", "")
    assert parse_cents(shown) == cents
    sign, whole, part = "-" if cents < 0 else "", *divmod(abs(cents), 100)
    assert parse_cents(f"{sign}{whole}.{part:02d}") == cents


@HOSTILE
@given(st.one_of(hostile_text(), st.text()))
def test_any_text_is_cents_or_a_clear_refusal(text):
    try:
        cents = parse_cents(text)
    except ValueError as error:
        assert str(error).endswith(".") and len(str(error)) < 80
    else:
        assert isinstance(cents, int) and abs(cents) < 10**17


@pytest.mark.parametrize("text", ["1e309", "1e-400", "NaN", "Infinity", "0x10", "1.001", "9" * 20])
def test_giants_and_non_numbers_are_refused(text):
    with pytest.raises(ValueError):
        parse_cents(text)
