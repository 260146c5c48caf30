"""grump cache stats | clear [--tenant T]: the shared cache tiers (Redis, disk) of this host.

Workers' in-process memory tiers are not reachable from here; their entries
expire within GRUMP_CACHE_MEMORY_TTL_SECONDS.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from decimal import Decimal
from typing import Any

from grump.settings import Settings


def _runtime() -> Any:
    from grump.runtime import Runtime

    return Runtime(Settings())


def _shared_cache(runtime: Any) -> Any:
    from grump.cache.build import build_tiered_cache

    return build_tiered_cache(runtime.settings, runtime.redis, with_memory=False)


def _ledger_hits(runtime: Any) -> tuple[int, Decimal]:
    from sqlalchemy import func, select

    from grump.ledger.db import session_scope, utcnow
    from grump.ledger.money_models import CostEvent

    since = utcnow() - timedelta(hours=24)
    query = select(func.count(), func.coalesce(func.sum(CostEvent.cache_savings), 0)).where(
        CostEvent.cached.is_(True), CostEvent.created_at >= since
    )
    with session_scope(runtime.sessions) as session:
        count, saved = session.execute(query).one()
    return int(count), Decimal(saved)


def show_stats(args: argparse.Namespace) -> int:
    """``grump cache stats``: print each shared tier's size and the last 24 hours' hits and savings."""
    runtime = _runtime()
    try:
        cache = _shared_cache(runtime)
        if cache is None:
            print("cache: off (GRUMP_CACHE_ENABLED or every shared tier disabled)")
        else:
            print(f"{'tier':<8} {'items':>10} {'bytes':>14}")
            for stats in cache.stats():
                print(f"{stats.tier:<8} {stats.items:>10} {stats.bytes:>14}")
            cache.close()
        hits, saved = _ledger_hits(runtime)
        print(f"hits in the last 24 h: {hits}, saved: ${saved}")
    finally:
        runtime.dispose()
    return 0


def clear(args: argparse.Namespace) -> int:
    """``grump cache clear``: drop the shared tiers' entries, every tenant's or one's, and print how many."""
    from grump.cache.keys import tenant_namespace

    runtime = _runtime()
    try:
        cache = _shared_cache(runtime)
        if cache is None:
            print("cache: off; nothing to clear")
            return 0
        namespace = tenant_namespace(args.tenant) if args.tenant else None
        dropped = cache.clear(namespace)
        cache.close()
    finally:
        runtime.dispose()
    whose = f"of tenant {args.tenant!r}" if args.tenant else "of every tenant"
    counts = ", ".join(f"{tier}: {n}" for tier, n in dropped.items())
    print(f"cleared the entries {whose} ({counts})")
    return 0


def add_commands(sub: Any) -> None:
    """Add ``grump cache stats`` and ``grump cache clear`` to the parser."""
    cache = sub.add_parser("cache", help="inspect or clear the completion cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    stats = cache_sub.add_parser("stats", help="entries and bytes per tier, hits and savings")
    stats.set_defaults(handler=show_stats)
    clear_cmd = cache_sub.add_parser("clear", help="drop cached answers")
    clear_cmd.add_argument("--tenant", help="only this tenant's entries")
    clear_cmd.set_defaults(handler=clear)
