"""The price catalogue: USD per million tokens per model, in Decimal.

The catalogue ships as ``grump/data/prices.json``; a file named by
``GRUMP_PRICE_CATALOGUE_FILE`` adds models or replaces entries. A model that
is not in the catalogue is an error, never a silent $0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from grump.errors import UnknownModel

MONEY_QUANTUM = Decimal("1e-10")  # ledger precision: NUMERIC(20, 10)
_MILLION = Decimal(1_000_000)
PARSER_MODEL = "grump/intent-parser"


def quantize_money(amount: Decimal) -> Decimal:
    return amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class ModelPrice:
    model: str
    provider: str
    kind: str
    tier: str
    input_per_million: Decimal
    output_per_million: Decimal
    cached_input_per_million: Decimal | None = None

    def cost(self, tokens_in: int, tokens_out: int = 0, cached_tokens_in: int = 0) -> Decimal:
        """What a call costs, to the ledger's precision."""
        cached_price = self.cached_input_per_million
        if cached_price is None:
            cached_price = self.input_per_million
        total = (
            Decimal(tokens_in - cached_tokens_in) * self.input_per_million
            + Decimal(cached_tokens_in) * cached_price
            + Decimal(tokens_out) * self.output_per_million
        ) / _MILLION
        return quantize_money(total)


class PriceCatalogue:
    def __init__(self, prices: dict[str, ModelPrice]) -> None:
        self._prices = dict(prices)

    def price(self, model: str) -> ModelPrice:
        try:
            return self._prices[model]
        except KeyError:
            raise UnknownModel(model) from None

    def __contains__(self, model: object) -> bool:
        return model in self._prices

    def models(self, kind: str | None = None) -> list[str]:
        return sorted(m for m, p in self._prices.items() if kind is None or p.kind == kind)


def _entry(model: str, raw: dict[str, Any]) -> ModelPrice:
    cached = raw.get("cached_input")
    return ModelPrice(
        model=model,
        provider=str(raw["provider"]),
        kind=str(raw["kind"]),
        tier=str(raw.get("tier", "")),
        input_per_million=Decimal(str(raw["input"])),
        output_per_million=Decimal(str(raw.get("output", "0"))),
        cached_input_per_million=None if cached is None else Decimal(str(cached)),
    )


def _read(text: str) -> dict[str, ModelPrice]:
    data = json.loads(text)
    return {model: _entry(model, raw) for model, raw in data["models"].items()}


def load_catalogue(override: Path | None = None) -> PriceCatalogue:
    """The packaged catalogue, with the entries of ``override`` laid over it."""
    packaged = resources.files("grump").joinpath("data/prices.json").read_text("utf-8")
    prices = _read(packaged)
    if override is not None:
        prices.update(_read(override.read_text("utf-8")))
    return PriceCatalogue(prices)
