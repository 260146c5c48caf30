"""The ``grump`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from grump.cli import cache, jobs, keys, money, parse, servers
from grump.errors import GrumpError

COMMANDS = (
    "api",
    "worker",
    "beat",
    "migrate",
    "flower",
    "keys",
    "submit",
    "get",
    "list",
    "cancel",
    "parse",
    "demo",
    "budgets",
    "report",
    "cache",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The ``grump`` argument parser, with every command's subparser and handler."""
    parser = argparse.ArgumentParser(
        prog="grump",
        description="LLM work as a distributed job queue, with its cost under control.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    servers.add_commands(sub)
    keys.add_commands(sub)
    jobs.add_commands(sub)
    parse.add_commands(sub)
    money.add_commands(sub)
    cache.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names; its exit status (2 for a refused request, 3 for a failure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except GrumpError as exc:
        print(f"grump: {exc.message}", file=sys.stderr)
        return 2 if exc.status_code < 500 else 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
