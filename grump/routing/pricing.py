"""The price catalogue: USD per million tokens per model, in Decimal.

The catalogue ships as ``grump/data/prices.json``; a file named by
``GRUMP_PRICE_CATALOGUE_FILE`` adds models or replaces entries. A model that
is not in the catalogue is an error, never a silent $0.

An entry may price the provider's prompt cache: ``cache_read`` (``cached_input``
is its older name), ``cache_write`` (5-minute TTL) and ``cache_write_1h``.
Anthropic bills a cache write at 1.25x the base input price (2x for the 1-hour
TTL) and a read at 0.1x, so a reservation prices Claude input at its dearest
rate (``estimate_max_cost``).

``batch_discount`` is the share a provider's batch API takes off every token
of a call, cache reads and writes included: Anthropic's Message Batches bill
50% of the standard price ("cutting costs by 50%",
https://platform.claude.com/docs/en/build-with-claude/batch-processing, whose
pricing table halves input, output and both cache rates). A model without it
has no batch API grump uses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from grump.errors import UnknownModel
from grump.jobs.models import AnyJobRequest, CompleteInput, CompleteJobRequest, EmbedJobRequest
from grump.money.amounts import quantize_money
from grump.providers.base import estimate_tokens

_MILLION = Decimal(1_000_000)
# A provider's dated snapshot or moving alias of a model family: "-20250929", "-latest".
_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{8}|latest)$")
PARSER_MODEL = "grump/intent-parser"
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators each chat format adds per message


@dataclass(frozen=True)
class ModelPrice:
    """One model's entry in the catalogue: who serves it, its kind and tier, its prices.

    ``cached_input_per_million`` is the price of an input token read from the
    provider's prompt cache; ``cache_write_per_million`` of one written to it
    with the 5-minute TTL, ``cache_write_long_per_million`` with the 1-hour one.
    An entry without them prices those tokens as ordinary input.
    """

    model: str
    provider: str
    kind: str
    tier: str
    input_per_million: Decimal
    output_per_million: Decimal
    cached_input_per_million: Decimal | None = None
    cache_write_per_million: Decimal | None = None
    cache_write_long_per_million: Decimal | None = None
    batch_discount: Decimal | None = None

    def batch_cost(self, cost: Decimal) -> Decimal:
        """``cost`` (a call priced at the standard rates) at the batch price."""
        share = Decimal(1) - (self.batch_discount or Decimal(0))
        return quantize_money(cost * share)

    def cost(
        self,
        tokens_in: int,
        tokens_out: int = 0,
        cached_tokens_in: int = 0,
        cache_write_tokens: int = 0,
        cache_write_ttl: Literal["5m", "1h"] = "5m",
        *,
        cache_write_long_tokens: int | None = None,
    ) -> Decimal:
        """What a call costs, to the ledger's precision.

        ``tokens_in`` counts every input token, those read from the prompt cache
        (``cached_tokens_in``) and written to it (``cache_write_tokens``) included;
        a ``tokens_in`` smaller than those two is taken as their sum, never as
        fewer plain tokens. The writes are priced at ``cache_write_ttl``'s rate,
        or, when ``cache_write_long_tokens`` says how many of them took the 1-hour
        TTL (Anthropic reports each TTL's part), those at its rate and the rest at
        the 5-minute one.
        """
        read_price = _or(self.cached_input_per_million, self.input_per_million)
        short_price = _or(self.cache_write_per_million, self.input_per_million)
        long_price = _or(self.cache_write_long_per_million, self.input_per_million)
        if cache_write_long_tokens is None:
            long_writes = cache_write_tokens if cache_write_ttl == "1h" else 0
        else:
            long_writes = min(cache_write_long_tokens, cache_write_tokens)
        plain = max(0, tokens_in - cached_tokens_in - cache_write_tokens)
        total = (
            Decimal(plain) * self.input_per_million
            + Decimal(cached_tokens_in) * read_price
            + Decimal(cache_write_tokens - long_writes) * short_price
            + Decimal(long_writes) * long_price
            + Decimal(tokens_out) * self.output_per_million
        ) / _MILLION
        return quantize_money(total)


def _or(price: Decimal | None, default: Decimal) -> Decimal:
    return default if price is None else price


class PriceCatalogue:
    """Every model grump can price, by name; an unknown one is UnknownModel, never $0."""

    def __init__(self, prices: dict[str, ModelPrice]) -> None:
        self._prices = dict(prices)

    def price(self, model: str) -> ModelPrice:
        """The price of ``model``; UnknownModel when the catalogue lacks it.

        A dated snapshot or ``-latest`` name of a catalogued model (what Claude
        Code and Anthropic's SDK send, ``claude-sonnet-4-5-20250929``) is priced
        as that model: a snapshot is billed at its family's list price.
        """
        found = self._prices.get(model)
        if found is None:
            base = _SNAPSHOT_SUFFIX.sub("", model)
            found = self._prices.get(base) if base != model else None
        if found is None:
            raise UnknownModel(model)
        return found

    def __contains__(self, model: object) -> bool:
        if not isinstance(model, str):
            return False
        return model in self._prices or _SNAPSHOT_SUFFIX.sub("", model) in self._prices

    def models(self, kind: str | None = None) -> list[str]:
        """The catalogue's model names, sorted; only those of ``kind`` when it is given."""
        return sorted(m for m, p in self._prices.items() if kind is None or p.kind == kind)


def cache_savings(price: ModelPrice, cached_tokens_in: int) -> Decimal:
    """What reading ``cached_tokens_in`` from the provider's cache saved against the full input price.

    Zero for a model whose reads cost what plain input does (or that has no
    cache price). A cache write's surcharge is not netted off: it is part of
    the call's cost, and so of what routing did or did not save.
    """
    if price.cached_input_per_million is None or cached_tokens_in <= 0:
        return Decimal(0)
    saved_per_million = price.input_per_million - price.cached_input_per_million
    return quantize_money(max(Decimal(0), Decimal(cached_tokens_in) * saved_per_million / _MILLION))


def max_input_per_million(price: ModelPrice) -> Decimal:
    """The dearest rate an input token of ``price``'s model can be billed at (a cache write, for Claude)."""
    rates = (price.cache_write_per_million, price.cache_write_long_per_million)
    return max([price.input_per_million, *(rate for rate in rates if rate is not None)])


def _decimal(raw: dict[str, Any], *keys: str) -> Decimal | None:
    """The first of ``keys`` present in ``raw``, as a Decimal; None when none is."""
    for key in keys:
        if raw.get(key) is not None:
            return Decimal(str(raw[key]))
    return None


def _entry(model: str, raw: dict[str, Any]) -> ModelPrice:
    return ModelPrice(
        model=model,
        provider=str(raw["provider"]),
        kind=str(raw["kind"]),
        tier=str(raw.get("tier", "")),
        input_per_million=Decimal(str(raw["input"])),
        output_per_million=Decimal(str(raw.get("output", "0"))),
        cached_input_per_million=_decimal(raw, "cache_read", "cached_input"),
        cache_write_per_million=_decimal(raw, "cache_write"),
        cache_write_long_per_million=_decimal(raw, "cache_write_1h"),
        batch_discount=_decimal(raw, "batch_discount"),
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


def estimate_input_tokens(request: CompleteInput) -> int:
    """The input tokens a request is estimated at: its messages, and its tools' definitions."""
    tokens = sum(estimate_tokens(m.text()) + MESSAGE_OVERHEAD_TOKENS for m in request.messages)
    if request.tools:
        tokens += estimate_tokens(json.dumps(request.tools, separators=(",", ":")))
    return tokens


def estimate_max_cost(price: ModelPrice, request: CompleteInput) -> Decimal:
    """The most a request can cost on a model: estimated input plus ``max_tokens`` out.

    Input is priced at the dearest rate it can be billed at: on a model with
    cache-write prices every input token might be written to the prompt cache
    (by the client's ``cache_control`` or grump's own breakpoints), at up to 2x
    input for the 1-hour TTL, so that is what a budget holds.
    """
    total = (
        Decimal(estimate_input_tokens(request)) * max_input_per_million(price)
        + Decimal(request.max_tokens) * price.output_per_million
    ) / _MILLION
    return quantize_money(total)


def estimate_reservation(
    catalogue: PriceCatalogue, request: AnyJobRequest, model: str, batched: bool = False
) -> Decimal:
    """The most a job can cost: what submit holds on its budgets.

    A completion may use all of ``max_tokens`` (at the batch price when it is
    ``batched``); an embedding costs its input tokens; the intent parser costs
    nothing, so parse jobs never touch a budget.
    """
    if isinstance(request, CompleteJobRequest):
        price = catalogue.price(model)
        most = estimate_max_cost(price, request.input)
        return price.batch_cost(most) if batched else most
    if isinstance(request, EmbedJobRequest):
        tokens = sum(estimate_tokens(text) for text in request.input.texts)
        return catalogue.price(model).cost(tokens)
    return Decimal(0)
