"""A provider call's tokens and cost split among its jobs: exact sums, fair parts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grump.jobs.embed.shares import largest_remainder, occurrence_weights, split_money
from grump.money.amounts import MONEY_QUANTUM

weights_st = st.lists(st.fractions(min_value=0, max_value=1000), min_size=1, max_size=40)


@given(total=st.integers(min_value=0, max_value=10**12), weights=weights_st)
def test_parts_add_up_and_stay_within_one_unit_of_the_exact_share(
    total: int, weights: list[Fraction]
) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights) or len(weights)
    effective = weights if sum(weights) else [Fraction(1)] * len(weights)
    for part, weight in zip(parts, effective, strict=True):
        assert abs(part - Fraction(total) * weight / weight_sum) < 1


def test_left_over_units_go_to_the_largest_remainders_then_the_earliest() -> None:
    assert largest_remainder(10, [Fraction(1)] * 3) == [4, 3, 3]
    assert largest_remainder(10, [Fraction(1), Fraction(2), Fraction(2)]) == [2, 4, 4]
    assert largest_remainder(7, [Fraction(0), Fraction(0)]) == [4, 3]  # nothing known: even


@given(
    total=st.decimals(min_value=0, max_value=1000, places=10, allow_nan=False),
    weights=weights_st,
)
def test_money_shares_sum_to_the_call_cost_exactly_in_ledger_quanta(
    total: Decimal, weights: list[Fraction]
) -> None:
    shares = split_money(total, weights)
    assert sum(shares, Decimal(0)) == total
    assert all(share == share.quantize(MONEY_QUANTUM) and share >= 0 for share in shares)


def test_a_text_sent_once_for_two_jobs_is_paid_half_by_each() -> None:
    weights = occurrence_weights([["shared text", "mine"], ["shared text"]], estimate=len)
    assert weights == [Fraction(len("shared text"), 2) + 4, Fraction(len("shared text"), 2)]
    assert sum(weights) == len("shared text") + len("mine")  # the call's estimated total


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        largest_remainder(-1, [Fraction(1)])
    with pytest.raises(ValueError):
        largest_remainder(1, [Fraction(-1), Fraction(2)])
    assert largest_remainder(5, []) == []
