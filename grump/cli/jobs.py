"""grump submit | get | list | cancel: talking to a running API with the Python client."""

from __future__ import annotations

import argparse
import json
from typing import Any

from grump.client import GrumpClient
from grump.errors import ValidationFailed
from grump.settings import Settings

BATCH_SIZE = 200


def _client(args: argparse.Namespace) -> GrumpClient:
    settings = Settings()
    key = args.key or settings.api_key
    if not key:
        raise ValidationFailed("--key", "no API key: pass --key or set GRUMP_API_KEY")
    return GrumpClient(args.url or settings.api_url, key)


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _input_of(args: argparse.Namespace) -> dict[str, Any]:
    if args.input:
        parsed: dict[str, Any] = json.loads(args.input)
        return parsed
    if args.text is None:
        raise ValidationFailed("--text", "give --text, --input JSON or --jsonl FILE")
    if args.kind == "parse":
        return {"text": args.text}
    if args.kind == "complete":
        return {"messages": [{"role": "user", "content": args.text}], "max_tokens": args.max_tokens}
    return {"texts": [args.text]}


def _submit_jsonl(client: GrumpClient, path: str) -> int:
    """Submit one job a line ({"kind", "input", ...}), many per request."""
    with open(path, encoding="utf-8") as handle:
        jobs = [json.loads(line) for line in handle if line.strip()]
    failed = 0
    for start in range(0, len(jobs), BATCH_SIZE):
        for item in client.submit_batch(jobs[start : start + BATCH_SIZE]):
            print(json.dumps(item.get("job") or item, ensure_ascii=False))
            failed += item.get("error") is not None
    return 1 if failed else 0


def submit(args: argparse.Namespace) -> int:
    """``grump submit``: submit one job (waiting for it with ``--wait``) or a JSONL file of them, and print what the API answered."""
    with _client(args) as client:
        if args.jsonl:
            return _submit_jsonl(client, args.jsonl)
        job = client.submit(args.kind, _input_of(args), user=args.user, priority=args.priority)
        if args.wait:
            job = client.wait(job["id"], timeout=args.wait)
        _print(job)
        return 0 if job["status"] != "failed" else 1


def get(args: argparse.Namespace) -> int:
    """``grump get``: print one job."""
    with _client(args) as client:
        _print(client.get(args.job_id))
    return 0


def list_jobs(args: argparse.Namespace) -> int:
    """``grump list``: print the newest of your jobs, filtered by status or kind."""
    with _client(args) as client:
        _print(client.list(status=args.status, kind=args.kind, limit=args.limit))
    return 0


def cancel(args: argparse.Namespace) -> int:
    """``grump cancel``: cancel a queued job and print it."""
    with _client(args) as client:
        _print(client.cancel(args.job_id))
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="API address (default GRUMP_API_URL)")
    parser.add_argument("--key", help="API key (default GRUMP_API_KEY)")


def add_commands(sub: Any) -> None:
    """Add ``grump submit``, ``get``, ``cancel`` and ``list`` to the parser."""
    p = sub.add_parser("submit", help="submit a job")
    p.add_argument("kind", choices=["parse", "complete", "embed"], nargs="?", default="parse")
    p.add_argument("--text")
    p.add_argument("--input", help="the job's input as JSON")
    p.add_argument("--jsonl", help="a file of jobs, one JSON object a line, sent in batches")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--user")
    p.add_argument("--priority", type=int)
    p.add_argument("--wait", type=float, default=0, help="seconds to wait for the result")
    _common(p)
    p.set_defaults(handler=submit)
    for name, handler, text in (
        ("get", get, "show a job"),
        ("cancel", cancel, "cancel a queued job"),
    ):
        q = sub.add_parser(name, help=text)
        q.add_argument("job_id")
        _common(q)
        q.set_defaults(handler=handler)
    listing = sub.add_parser("list", help="list your jobs")
    listing.add_argument("--status")
    listing.add_argument("--kind")
    listing.add_argument("--limit", type=int, default=20)
    _common(listing)
    listing.set_defaults(handler=list_jobs)
