"""grump parse "TEXT" | --file F | --jsonl F: the intent parser, locally, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def run_parse(args: argparse.Namespace) -> int:
    """``grump parse``: print the intent of a text (argument, file or stdin), or of each line of a JSONL file."""
    from grump.intent import parse

    if args.jsonl:
        with open(args.jsonl, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                text = line.rstrip("\n")
                print(json.dumps(parse(text).to_dict(), ensure_ascii=False))
        return 0
    if args.file:
        with open(args.file, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    elif args.text is not None:
        text = args.text
    else:
        text = sys.stdin.read()
    print(json.dumps(parse(text).to_dict(), indent=2, ensure_ascii=False))
    return 0


def add_commands(sub: Any) -> None:
    """Add ``grump parse`` to the parser."""
    p = sub.add_parser("parse", help="parse a request into a structured intent (no server needed)")
    p.add_argument("text", nargs="?")
    p.add_argument("--file")
    p.add_argument("--jsonl", help="one text a line in, one intent a line out")
    p.set_defaults(handler=run_parse)
