"""Column types that behave the same on Postgres and on the embedded SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from grump.money.amounts import quantize_money


class Money(TypeDecorator[Decimal]):
    """NUMERIC(20, 10) on Postgres; exact decimal text on SQLite, which has no decimal type."""

    impl = Numeric(20, 10)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """The column type of the dialect: text on SQLite, NUMERIC(20, 10) elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 10, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """The amount quantised to the ledger's precision, as text on SQLite."""
        if value is None:
            return None
        amount = quantize_money(Decimal(value))
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """The stored amount as a quantised ``Decimal``."""
        if value is None:
            return None
        return quantize_money(Decimal(str(value)))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, on Postgres and on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """The instant in UTC for the database; ValueError for a naive datetime."""
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: grump stores UTC only")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """The stored instant as an aware UTC datetime (SQLite's naive values taken as UTC)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
