"""The fake Anthropic's Message Batches: create, retrieve, list, results as JSONL.

A batch is answered when it ends, each request as ``/v1/messages`` would
answer it (the prompt cache bills it too). Knobs, set on the fake's
``batches``: ``polls_to_end`` (how many retrieves a batch stays
``in_progress``: a batch that takes a while), ``expire`` (when it ends, every
request expires, as a batch past its 24 hours does), ``errored`` (custom ids
whose request errors, with ``error_type``). ``bill`` records what each request
cost in tokens; Anthropic bills them at half the standard price
(``BATCH_SHARE``).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from tests.fakes.server import LoggedRequest, Step, reply

BATCH_SHARE = Decimal("0.5")
PATH = "/v1/messages/batches"
_COUNTS = ("processing", "succeeded", "errored", "canceled", "expired")


@dataclass
class _Batch:
    id: str
    requests: list[dict[str, Any]]
    created_at: str
    polls: int = 0
    results: list[dict[str, Any]] | None = None
    ended_at: str | None = None


@dataclass
class FakeBatches:
    """The fake's batches and its knobs."""

    answer: Callable[[dict[str, Any]], dict[str, Any]]
    base_url: Callable[[], str]
    charge: Callable[[dict[str, Any]], None] = lambda message: None  # the invoice, at batch price
    polls_to_end: int = 0
    expire: bool = False
    errored: set[str] = field(default_factory=set)
    error_type: str = "api_error"
    bill: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    _batches: dict[str, _Batch] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self._batches.clear()
            self.bill.clear()
            self.created.clear()
            self.errored.clear()
            self.polls_to_end, self.expire = 0, False

    def handle(self, request: LoggedRequest) -> Step | None:
        """The answer to a batches request, or None when the path is not one."""
        path = request.path.split("?", 1)[0]
        if not path.startswith(PATH):
            return None
        rest = path.removeprefix(PATH).strip("/")
        with self._lock:
            if request.method == "POST" and not rest:
                return self._create(request.body)
            if request.method == "GET" and not rest:
                return reply(self._list())
            batch = self._batches.get(rest.removesuffix("/results"))
            if batch is None:
                return None
            if rest.endswith("/results"):
                return self._results(batch)
            batch.polls += 1
            if batch.results is None and batch.polls > self.polls_to_end:
                self._end(batch)
            return reply(self._object(batch))

    def _create(self, body: Any) -> Step:
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            return reply(_error("requests: at least one request is required"), 400)
        ids = [r.get("custom_id") for r in requests if isinstance(r, dict)]
        if len(set(ids)) != len(requests):
            return reply(_error("requests: custom_id must be unique within a batch"), 400)
        batch = _Batch(
            f"msgbatch_{next(self._ids):04d}{uuid.uuid4().hex[:20]}", list(requests), _now()
        )
        self._batches[batch.id] = batch
        self.created.append(batch.id)
        return reply(self._object(batch))

    def _end(self, batch: _Batch) -> None:
        batch.results = [self._result(r) for r in batch.requests]
        batch.ended_at = _now()

    def _result(self, request: dict[str, Any]) -> dict[str, Any]:
        custom_id = request["custom_id"]
        if self.expire:
            return {"custom_id": custom_id, "result": {"type": "expired"}}
        if custom_id in self.errored:
            error = {"type": self.error_type, "message": "the fake failed this request"}
            return {
                "custom_id": custom_id,
                "result": {"type": "errored", "error": {"type": "error", "error": error}},
            }
        from tests.fakes.anthropic import request_problem

        problem = request_problem(request.get("params"))
        if problem:
            error = {"type": "invalid_request_error", "message": problem}
            return {
                "custom_id": custom_id,
                "result": {"type": "errored", "error": {"type": "error", "error": error}},
            }
        message = self.answer(request["params"])
        self.bill.append({"custom_id": custom_id, "model": message["model"], **message["usage"]})
        self.charge(message)
        return {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}

    def _object(self, batch: _Batch) -> dict[str, Any]:
        counts = dict.fromkeys(_COUNTS, 0)
        if batch.results is None:
            counts["processing"] = len(batch.requests)
        else:
            for line in batch.results:
                kind = line["result"]["type"]
                counts["canceled" if kind == "canceled" else kind] += 1
        ended = batch.results is not None
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": batch.created_at,
            "ended_at": batch.ended_at,
            "results_url": f"{self.base_url()}{PATH}/{batch.id}/results" if ended else None,
        }

    def _list(self) -> dict[str, Any]:
        data = [self._object(b) for b in reversed(self._batches.values())]
        return {"data": data, "has_more": False}

    def _results(self, batch: _Batch) -> Step:
        if batch.results is None:
            return reply(_error("the batch has not ended"), 400)
        body = b"\n".join(orjson.dumps(line) for line in batch.results) + b"\n"
        return Step(status=200, body=body, headers=(("Content-Type", "application/x-jsonl"),))


def _error(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
