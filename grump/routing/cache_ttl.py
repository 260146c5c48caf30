"""When Anthropic's 1-hour prompt-cache TTL pays for its dearer write, and which TTL to use.

Take a prefix of T tokens that a session sends again and again. Reads within
5 minutes of the last send cost the same under both TTLs (a read refreshes
either). They differ on a write, and on a return after more than 5 minutes
idle (within the hour):

* 5-minute TTL: written at ``w5`` (1.25x input), and written again at ``w5``
  after each such idle gap, since the entry has expired;
* 1-hour TTL: written once at ``w1`` (2x input), then read at ``r`` (0.1x)
  after each such gap.

With k such gaps over the prefix's life, 5m costs ``w5 * (1 + k) * T`` and
1h ``(w1 + r * k) * T``: the 1-hour TTL pays when
``k > (w1 - w5) / (w5 - r)``, which is 2.25 / 3.45 = 0.652 for Claude's
multipliers (Sonnet 4.5: $6.00, $3.75, $0.30 per million). So one return
after a coffee break pays for it (2.1x against 2.5x of input); a session that
never idles past 5 minutes loses 0.75x of input on every token it writes.

``auto`` estimates k from the records (``grump.routing.warm_prefixes``): the
tenant's idle returns per session over the last hour or two, so a team that
takes breaks writes even a session's first, largest prefix for the hour. A
session's own past breaks are a worse guide: switching at its first break
re-writes the whole prefix at 2x, which pays only if another break follows.
Below the break-even, and with no record, 5 minutes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from grump.routing.breakpoints import TTL_SECONDS, Ttl
from grump.routing.pricing import ModelPrice

TtlSetting = Literal["auto", "5m", "1h"]
SHORT_TTL_SECONDS = TTL_SECONDS["5m"]
LONG_TTL_SECONDS = TTL_SECONDS["1h"]


def ttl_cost(price: ModelPrice, ttl: Ttl, long_gaps: int, tokens: int = 1_000_000) -> Decimal:
    """What writing ``tokens`` of prefix with ``ttl`` and sending it after ``long_gaps`` idle gaps costs.

    An idle gap is longer than 5 minutes and shorter than an hour: the 5-minute
    entry has expired (the prefix is written again), the 1-hour one is read.
    Reads within 5 minutes cost the same under both TTLs and are left out.
    """
    read, short, long = _rates(price)
    per_token = short * (1 + long_gaps) if ttl == "5m" else long + read * long_gaps
    return per_token * tokens / Decimal(1_000_000)


def break_even_gaps(price: ModelPrice) -> Decimal:
    """The number of idle gaps above which the 1-hour TTL costs less than the 5-minute one.

    ``(w1 - w5) / (w5 - r)``: 0.652 for Claude (2x, 1.25x and 0.1x input).
    """
    read, short, long = _rates(price)
    if short <= read:
        return Decimal("Infinity")  # no cheaper read: nothing to keep warm
    return (long - short) / (short - read)


def one_hour_pays(price: ModelPrice, expected_long_gaps: float) -> bool:
    """Whether the 1-hour TTL is the cheaper one for a prefix expected to idle that many times."""
    return Decimal(str(expected_long_gaps)) > break_even_gaps(price)


def choose_ttl(setting: TtlSetting, price: ModelPrice, expected_long_gaps: float) -> Ttl:
    """The TTL of grump's breakpoints: the setting's, or for ``auto`` the one that pays.

    ``expected_long_gaps`` is how many more times the prefix is expected to be
    sent after more than 5 minutes idle; ``auto`` takes 1h when that beats the
    break-even.
    """
    if setting != "auto":
        return setting
    return "1h" if one_hour_pays(price, expected_long_gaps) else "5m"


def is_long_gap(seconds: float) -> bool:
    """Whether an idle gap expired a 5-minute entry and not a 1-hour one."""
    return SHORT_TTL_SECONDS < seconds <= LONG_TTL_SECONDS


def _rates(price: ModelPrice) -> tuple[Decimal, Decimal, Decimal]:
    base = price.input_per_million
    read = base if price.cached_input_per_million is None else price.cached_input_per_million
    short = base if price.cache_write_per_million is None else price.cache_write_per_million
    long = (
        base if price.cache_write_long_per_million is None else price.cache_write_long_per_million
    )
    return read, short, long
