"""The fakes' invoice: every call they serve, billed at the providers' list prices.

A fake adds a :class:`Charge` for each call the model ran on, whether or not its
answer reached the client, as a provider bills:

* a plain call: its whole usage, once the answer is made (a client that hung up
  while waiting, as a worker killed mid-call does, is billed all the same);
* a streamed call sent to its end: its whole usage;
* a stream the client closed early: the whole input (its prompt-cache reads and
  writes as ``message_start`` reported them) and the output tokens of the events
  sent before the client left. Anthropic bills the tokens a cancelled stream
  generated; input usage comes in the opening event, which a client that leaves
  early has (TrueFoundry's measured account of providers' cancellation billing:
  https://www.truefoundry.com/docs/ai-gateway/stream-disconnect-cost-accounting);
* a batched request (Message Batches): its usage at half of every price.

A stream the fake itself cuts (an upstream dying mid-answer) is not billed.
Prices are USD per million tokens, as Anthropic and NVIDIA list them: Claude
Sonnet 4.5 $3 input, $15 output, cache writes 1.25x input (2x for the 1-hour
TTL), reads 0.1x, batches 50% off (https://www.anthropic.com/pricing); Kimi K2.5
on NIM $0.60 both ways, no cache price.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import orjson

from tests.fakes.chat import count_tokens

MILLION = Decimal(1_000_000)
BATCH_SHARE = Decimal("0.5")


@dataclass(frozen=True)
class ListPrice:
    """USD per million tokens of one model."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal


def _claude(input_price: str, output_price: str) -> ListPrice:
    base = Decimal(input_price)
    return ListPrice(base, Decimal(output_price), base / 10, base * Decimal("1.25"), base * 2)


def _flat(price: str) -> ListPrice:
    value = Decimal(price)
    return ListPrice(value, value, value, value, value)


LIST_PRICES: dict[str, ListPrice] = {
    "claude-sonnet-4-5": _claude("3", "15"),
    "moonshotai/kimi-k2.5": _flat("0.60"),
}


@dataclass(frozen=True)
class Charge:
    """One billed call: its tokens by kind and what they cost."""

    model: str
    uncached: int
    written: int
    written_1h: int
    read: int
    output: int
    batched: bool
    cancelled: bool
    cost: Decimal


def price_of(
    model: str, uncached: int, written: int, written_1h: int, read: int, output: int, batched: bool
) -> Decimal:
    """A call's list price; unknown models are billed at nothing (and show up as such)."""
    price = LIST_PRICES.get(model)
    if price is None:
        return Decimal(0)
    total = (
        uncached * price.input
        + (written - written_1h) * price.cache_write
        + written_1h * price.cache_write_1h
        + read * price.cache_read
        + output * price.output
    ) / MILLION
    return total * BATCH_SHARE if batched else total


class Invoice:
    """The calls billed so far; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._charges: list[Charge] = []

    def bill(
        self,
        model: str,
        *,
        uncached: int,
        output: int,
        written: int = 0,
        written_1h: int = 0,
        read: int = 0,
        batched: bool = False,
        cancelled: bool = False,
    ) -> Charge:
        """Add one call to the invoice."""
        cost = price_of(model, uncached, written, written_1h, read, output, batched)
        charge = Charge(
            model, uncached, written, written_1h, read, output, batched, cancelled, cost
        )
        with self._lock:
            self._charges.append(charge)
        return charge

    @property
    def charges(self) -> list[Charge]:
        with self._lock:
            return list(self._charges)

    @property
    def total(self) -> Decimal:
        return sum((c.cost for c in self.charges), Decimal(0))

    def clear(self) -> None:
        with self._lock:
            self._charges.clear()

    def as_json(self) -> dict[str, Any]:
        """The invoice as ``GET /_fake/invoice`` answers it: money as strings."""
        charges = [{**asdict(c), "cost": str(c.cost)} for c in self.charges]
        return {
            "total": str(sum((Decimal(c["cost"]) for c in charges), Decimal(0))),
            "charges": charges,
        }


def text_tokens_sent(chunks: tuple[bytes, ...]) -> int:
    """The output tokens of the text in streamed events (Anthropic's or OpenAI's), by the fakes' count."""
    tokens = 0
    for chunk in chunks:
        for line in chunk.decode().splitlines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            data = orjson.loads(line.removeprefix("data: "))
            tokens += count_tokens(_delta_text(data))
    return tokens


def _delta_text(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    delta = data.get("delta")
    if data.get("type") == "content_block_delta" and isinstance(delta, dict):
        return str(delta.get("text") or "")
    choices = data.get("choices") or []
    if choices and isinstance(choices[0], dict):
        return str((choices[0].get("delta") or {}).get("content") or "")
    return ""
