"""Splitting one provider call's tokens and cost among the jobs that shared it.

NIM reports only the call's total usage, so each text's share is estimated
(``estimate_tokens``) and the estimates are scaled to the reported total. A
text sent once for several jobs (deduplicated) is split evenly among them.

Rounding is largest remainder: every part gets the floor of its exact share in
whole units (tokens, or ledger quanta of ``MONEY_QUANTUM`` for money) and the
units left over go one each to the parts with the largest fractional
remainders, earlier parts first on a tie. The parts therefore add up to the
total exactly, and no part is off its exact share by a whole unit or more.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction

from grump.money.amounts import MONEY_QUANTUM, quantize_money
from grump.providers.base import estimate_tokens


def largest_remainder(total_units: int, weights: Sequence[Fraction]) -> list[int]:
    """``total_units`` split in proportion to ``weights``; the parts sum to it exactly.

    All-zero weights split evenly (a call of empty texts still has to be paid).
    """
    if not weights:
        return []
    if total_units < 0:
        raise ValueError("cannot split a negative total")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights, Fraction(0))
    if weight_sum == 0:
        weights = [Fraction(1)] * len(weights)
        weight_sum = Fraction(len(weights))
    exact = [Fraction(total_units) * w / weight_sum for w in weights]
    parts = [math.floor(x) for x in exact]
    left_over = total_units - sum(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (parts[i] - exact[i], i))
    for index in by_remainder[:left_over]:
        parts[index] += 1
    return parts


def split_money(total: Decimal, weights: Sequence[Fraction]) -> list[Decimal]:
    """``total`` (rounded to the ledger quantum) split by ``weights``, summing exactly."""
    units = int(quantize_money(total) / MONEY_QUANTUM)
    return [Decimal(part) * MONEY_QUANTUM for part in largest_remainder(units, weights)]


def occurrence_weights(
    texts_per_part: Sequence[Sequence[str]],
    estimate: Callable[[str], int] = estimate_tokens,
) -> list[Fraction]:
    """Each part's estimated share of a call that sent every distinct text once.

    A text that occurs ``k`` times over all parts gives ``estimate(text) / k``
    to each occurrence, so the weights add up to the call's estimated total.
    """
    occurrences = Counter(text for texts in texts_per_part for text in texts)
    return [
        sum((Fraction(estimate(t), occurrences[t]) for t in texts), Fraction(0))
        for texts in texts_per_part
    ]
