"""``grump`` with a test-only provider and parser that kill their worker process on cue.

Run as ``python -m tests.e2e.crashing_worker worker --tier llm`` (or ``cpu``): the
same program as ``grump``, except that

- a chat call whose last message contains ``EXIT HARD`` ends the process at once
  (``os._exit``), as a provider client crashing in native code would;
- a parse whose text contains ``EXHAUST MEMORY`` allocates until the process is
  past ``MEMORY_LIMIT_BYTES`` of resident memory, and is then killed with
  SIGKILL, as the kernel's OOM killer or a container's memory limit does it.

Everything else is the real worker: the deaths are seen by the real code paths.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from collections.abc import Iterator
from typing import Any

import grump.jobs.parse_batch
import grump.jobs.run
import grump.runtime
from grump.cli import main
from grump.providers.base import ChatDelta, ChatProvider, ChatRequest, ChatResult

REAL_PARSE = grump.jobs.run.run_parse
EXIT_HARD = "EXIT HARD"
EXHAUST_MEMORY = "EXHAUST MEMORY"
MEMORY_LIMIT_BYTES = 512 * 1024 * 1024


class CrashingChat:
    """A provider that dies with its process on ``EXIT HARD`` and otherwise delegates."""

    def __init__(self, inner: ChatProvider) -> None:
        self.inner = inner
        self.name = inner.name

    def complete(self, request: ChatRequest) -> ChatResult:
        if EXIT_HARD in request.messages[-1].text():
            os._exit(70)
        return self.inner.complete(request)

    def stream(self, request: ChatRequest) -> Iterator[ChatDelta | ChatResult]:
        if EXIT_HARD in request.messages[-1].text():
            os._exit(70)
        return self.inner.stream(request)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _exhausting_parse(payload: Any, *args: Any, **kwargs: Any) -> Any:
    if EXHAUST_MEMORY in " ".join(payload.all_texts()):
        hoard = []
        while _resident_bytes() < MEMORY_LIMIT_BYTES:
            hoard.append(bytearray(16 * 1024 * 1024))
        os.kill(os.getpid(), signal.SIGKILL)
    return REAL_PARSE(payload, *args, **kwargs)


if __name__ == "__main__":
    # Patched here, not at import: a test importing the markers must not get the crashes.
    real_chat_provider = grump.runtime.chat_provider
    grump.runtime.chat_provider = lambda *a, **k: CrashingChat(real_chat_provider(*a, **k))  # type: ignore[assignment]
    grump.jobs.run.run_parse = _exhausting_parse
    grump.jobs.parse_batch.run_parse = _exhausting_parse  # the cpu worker's batches
    sys.exit(main(sys.argv[1:]))
