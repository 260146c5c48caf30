"""The gathering thread: calls of at most max_texts / max_tokens, sent when full or due."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pytest

from grump.jobs.embed.batcher import Batcher, BatchLimits
from grump.jobs.embed.cache import EmbedParams
from grump.jobs.embed.calls import Piece, PieceResult
from grump.vectors import EncodedBatch

PARAMS = EmbedParams("m", "passage", None, "END")
WAIT = 10.0  # seconds; far longer than any test: a call that happens was sent because it was full


class Recorder:
    """A call runner that records each call's distinct texts and resolves its pieces."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.running = 0
        self.most_running = 0
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def __call__(self, pieces: list[Piece]) -> None:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.calls.append(list(dict.fromkeys(t for p in pieces for t in p.misses)))
        self.release.wait(5)
        with self._lock:
            self.running -= 1
        for piece in pieces:
            empty = EncodedBatch("float", 1, np.zeros((len(piece.texts), 1), np.float32))
            piece.future.set_result(PieceResult(empty, {}, 0, Decimal(0), "test"))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def batcher_with(recorder: Recorder, **limits: float) -> Iterator[Batcher]:
    batcher = Batcher(recorder, BatchLimits(**{"wait_seconds": WAIT, **limits}))  # type: ignore[arg-type]
    yield batcher
    batcher.close()


def piece(*texts: str, params: EmbedParams = PARAMS) -> Piece:
    return Piece(params, "float", texts, {})


def submit_all(batcher: Batcher, pieces: list[Piece]) -> None:
    for p in pieces:
        batcher.submit(p)
    for p in pieces:
        p.future.result(timeout=5)


def test_a_full_batch_goes_at_once_with_no_more_than_max_texts(recorder: Recorder) -> None:
    for batcher in batcher_with(recorder, max_texts=256):
        submit_all(batcher, [piece(f"text {i}") for i in range(512)])
    assert [len(call) for call in recorder.calls] == [256, 256]


def test_identical_texts_count_once_toward_the_limit(recorder: Recorder) -> None:
    for batcher in batcher_with(recorder, max_texts=3):
        submit_all(batcher, [piece("a"), piece("a", "b"), piece("b"), piece("c")])
    assert recorder.calls == [["a", "b", "c"]]


def test_the_token_budget_closes_a_batch(recorder: Recorder) -> None:
    long_text = "x" * 400  # 100 estimated tokens
    pieces = [piece(f"{i}{long_text}") for i in range(5)]
    for batcher in batcher_with(recorder, max_tokens=250):
        for p in pieces:
            batcher.submit(p)
        for p in pieces[:4]:
            p.future.result(timeout=5)
        assert [len(call) for call in recorder.calls] == [2, 2]  # the fifth waits to fill
    assert [len(call) for call in recorder.calls] == [2, 2, 1]  # sent at close


def test_a_batch_that_does_not_fill_is_sent_after_the_wait(recorder: Recorder) -> None:
    batcher = Batcher(recorder, BatchLimits(max_texts=256, wait_seconds=0.01))
    try:
        lone = piece("alone")
        batcher.submit(lone)
        lone.future.result(timeout=5)
    finally:
        batcher.close()
    assert recorder.calls == [["alone"]]


def test_different_call_parameters_never_share_a_call(recorder: Recorder) -> None:
    query = EmbedParams("m", "query", None, "END")
    for batcher in batcher_with(recorder, max_texts=2):
        submit_all(
            batcher, [piece("a"), piece("a", params=query), piece("b"), piece("b", params=query)]
        )
    assert sorted(recorder.calls) == [["a", "b"], ["a", "b"]]


def test_closing_sends_what_was_gathered(recorder: Recorder) -> None:
    batcher = Batcher(recorder, BatchLimits(wait_seconds=WAIT))
    waiting = piece("left over")
    batcher.submit(waiting)
    batcher.close()
    assert waiting.future.result(timeout=0) is not None


def test_no_more_calls_at_once_than_allowed(recorder: Recorder) -> None:
    recorder.release.clear()
    for batcher in batcher_with(recorder, max_texts=1, calls_in_flight=2):
        pieces = [piece(f"t{i}") for i in range(6)]
        for p in pieces:
            batcher.submit(p)
        threading.Timer(0.2, recorder.release.set).start()
        for p in pieces:
            p.future.result(timeout=5)
    assert recorder.most_running == 2 and len(recorder.calls) == 6
