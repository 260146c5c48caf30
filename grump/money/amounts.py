"""Amounts of money as the ledger holds them: Decimal USD to 1e-10, rounded half to even."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

MONEY_QUANTUM = Decimal("1e-10")  # ledger precision: NUMERIC(20, 10)


def quantize_money(amount: Decimal) -> Decimal:
    """Round ``amount`` to the ledger's precision, as every stored figure is."""
    return amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
