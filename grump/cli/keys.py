"""grump keys create --tenant NAME [--admin]: prints the new key alone on stdout."""

from __future__ import annotations

import argparse
from typing import Any

from grump.settings import Settings


def create_key(args: argparse.Namespace) -> int:
    """``grump keys create``: make an API key for a tenant and print it."""
    from grump.ledger.db import make_engine, make_sessionmaker, session_scope
    from grump.ledger.keys import create_api_key

    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            key = create_api_key(session, args.tenant, admin=args.admin)
    finally:
        engine.dispose()
    print(key)
    return 0


def add_commands(sub: Any) -> None:
    """Add ``grump keys create`` to the parser."""
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key for a tenant and print it")
    create.add_argument("--tenant", required=True)
    create.add_argument("--admin", action="store_true", help="may manage budgets and keys")
    create.set_defaults(handler=create_key)
