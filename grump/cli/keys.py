"""``grump keys``: API keys straight on the ledger (GRUMP_DATABASE_URL).

grump keys create --tenant T [--name N] [--expires 30d|2027-01-31] [--admin] [--rps R] [--tpm N]
grump keys list --tenant T
grump keys revoke ID
grump keys rotate ID          (the old key works for GRUMP_KEY_ROTATION_GRACE_SECONDS more)
grump keys limits ID [--rps R] [--tpm N]

``create`` and ``rotate`` print the new key alone on stdout. Changes are announced
through Redis (GRUMP_REDIS_URL) so every API process sees them within a second.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from grump.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from grump.ledger.models import ApiKey

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"^(\d+)([smhdw])$")


def parse_expiry(text: str, now: datetime) -> datetime:
    """``30d``, ``12h``, ``90m``, ``3600s``, ``2w`` from ``now``, or an ISO date or time (UTC if no zone)."""
    match = _DURATION.match(text.strip())
    if match:
        return now + timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a duration (30d, 12h) or an ISO date: {text!r}"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _expiry(text: str) -> datetime:
    when = parse_expiry(text, datetime.now(UTC))
    if when <= datetime.now(UTC):
        raise argparse.ArgumentTypeError(f"{text!r} is not in the future")
    return when


@contextmanager
def _ledger() -> Iterator[tuple[Settings, Session]]:
    from grump.ledger.db import make_engine, make_sessionmaker, session_scope

    settings = Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield settings, session
    finally:
        engine.dispose()


def _announce(settings: Settings) -> None:
    from grump.api.keycache import announce_change
    from grump.redis_client import is_redis_url, redis_client

    url = settings.redis_url or (settings.broker_url if is_redis_url(settings.broker_url) else None)
    client = redis_client(url) if url else None
    try:
        if not announce_change(client):
            print(
                "grump: no Redis to announce the change: API processes see it within"
                f" GRUMP_KEY_CACHE_SECONDS ({settings.key_cache_seconds:g} s)",
                file=sys.stderr,
            )
    finally:
        if client is not None:
            client.close()


def create_key(args: argparse.Namespace) -> int:
    """``grump keys create``: make an API key for a tenant and print it."""
    from grump.ledger.keys import new_api_key

    with _ledger() as (_, session):
        key, _row = new_api_key(
            session,
            args.tenant,
            admin=args.admin,
            name=args.name,
            expires_at=args.expires,
            rps_limit=args.rps,
            tpm_limit=args.tpm,
        )
    print(key)
    return 0


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _line(row: ApiKey, now: datetime) -> str:
    from grump.ledger.keys import key_state

    limits = f"rps {row.rps_limit if row.rps_limit is not None else '-'}"
    limits += f" tpm {row.tpm_limit if row.tpm_limit is not None else '-'}"
    return (
        f"{row.id:<6} {row.prefix:<14} {row.name or '-':<20} {key_state(row, now).value:<8}"
        f" {'admin' if row.admin else '-':<6} {_when(row.created_at):<17}"
        f" {_when(row.expires_at or row.grace_until):<17} {_when(row.last_used_at):<17} {limits}"
    )


def list_keys(args: argparse.Namespace) -> int:
    """``grump keys list``: a tenant's keys, with state, name, expiry, last use and limits."""
    from grump.ledger.db import utcnow
    from grump.ledger.keys import list_keys as rows_of

    now = utcnow()
    with _ledger() as (_, session):
        rows = rows_of(session, args.tenant)
        lines = [_line(r, now) for r in rows]
    print(
        f"{'id':<6} {'prefix':<14} {'name':<20} {'state':<8} {'admin':<6} {'created':<17}"
        f" {'expires':<17} {'last used':<17} limits"
    )
    print("\n".join(lines) if lines else f"{args.tenant}: no keys")
    return 0


def _change(args: argparse.Namespace, act: Callable[[Settings, Session], str | None]) -> int:
    with _ledger() as (settings, session):
        shown = act(settings, session)
    _announce(settings)
    if shown:
        print(shown)
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    """``grump keys revoke``: refuse a key from now on."""
    from grump.ledger.db import utcnow
    from grump.ledger.keys import revoke

    def act(_: Settings, session: Session) -> str:
        return _line(revoke(session, args.tenant, args.id, utcnow()), utcnow())

    return _change(args, act)


def rotate_key(args: argparse.Namespace) -> int:
    """``grump keys rotate``: print a new key; the old one works for the grace period more."""
    from grump.ledger.db import utcnow
    from grump.ledger.keys import rotate

    def act(settings: Settings, session: Session) -> str:
        grace = timedelta(seconds=settings.key_rotation_grace_seconds)
        return rotate(session, args.tenant, args.id, utcnow(), grace)[0]

    return _change(args, act)


def set_limits(args: argparse.Namespace) -> int:
    """``grump keys limits``: set a key's own rates (omitted: back to the settings' default)."""
    from grump.ledger.db import utcnow
    from grump.ledger.keys import set_limits as store

    def act(_: Settings, session: Session) -> str:
        return _line(store(session, args.tenant, args.id, args.rps, args.tpm), utcnow())

    return _change(args, act)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"not a rate: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(text)


def _name(text: str) -> str:
    from grump.ledger.keys import NAME_PATTERN

    if len(text) > 100 or not re.match(NAME_PATTERN, text):
        raise argparse.ArgumentTypeError(f"a name is letters, digits and ' ._:/@+-': {text!r}")
    return text


def _limits(parser: Any) -> None:
    parser.add_argument("--rps", type=_rate, help="submits per second (0: none)")
    parser.add_argument("--tpm", type=_count, help="tokens per minute (0: none)")


def add_commands(sub: Any) -> None:
    """Add ``grump keys create|list|revoke|rotate|limits`` to the parser."""
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key for a tenant and print it")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", default="", type=_name, help="the service that calls with it")
    create.add_argument("--expires", type=_expiry, help="30d, 12h, ... or an ISO date (UTC)")
    create.add_argument("--admin", action="store_true", help="may manage budgets and keys")
    _limits(create)
    create.set_defaults(handler=create_key)
    listing = keys_sub.add_parser("list", help="a tenant's keys")
    listing.add_argument("--tenant", required=True)
    listing.set_defaults(handler=list_keys)
    for verb, handler, text in (
        ("revoke", revoke_key, "refuse a key from now on"),
        ("rotate", rotate_key, "print a new key; the old one works for the grace period"),
        ("limits", set_limits, "set a key's own rate limits"),
    ):
        command = keys_sub.add_parser(verb, help=text)
        command.add_argument("id", type=int, help="the key's id (grump keys list)")
        command.add_argument("--tenant", help="refuse unless the key is this tenant's")
        if verb == "limits":
            _limits(command)
        command.set_defaults(handler=handler)
