"""A money column stored as whole units of 1e-10 USD (the ledger's precision).

Budget counters are updated by SQL arithmetic (``reserved = reserved + :amount``
with a ``spent + reserved + :amount <= limit`` guard). On Postgres NUMERIC
would be exact, but SQLite has no decimal type and would add such text values
as floats. Integers add exactly on both, and are cheaper on a hot row. Python
code still sees ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from grump.money.amounts import MONEY_QUANTUM, quantize_money

UNITS_PER_USD = int(1 / MONEY_QUANTUM)
# A signed 64-bit column holds at most this many USD at 1e-10 precision.
MAX_USD = Decimal(2**63 - 1) * MONEY_QUANTUM


def to_units(amount: Decimal) -> int:
    """``amount`` (USD) as an integer count of 1e-10 USD."""
    return int(quantize_money(Decimal(amount)) * UNITS_PER_USD)


def from_units(units: int) -> Decimal:
    """The USD amount of an integer count of 1e-10 USD."""
    return quantize_money(Decimal(int(units)) * MONEY_QUANTUM)


class MoneyUnits(TypeDecorator[Decimal]):
    """BIGINT of 1e-10 USD in the database, ``Decimal`` USD in Python."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """The amount as units for the database; ValueError when it does not fit the column."""
        if value is None:
            return None
        if abs(Decimal(value)) > MAX_USD:
            raise ValueError(f"{value} USD does not fit a budget column")
        return to_units(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """The stored units as a ``Decimal`` USD amount."""
        return None if value is None else from_units(int(value))
