"""The machinery every fake provider shares: a real HTTP server on loopback.

A fake answers like the real service unless told otherwise: ``script()``
queues :class:`Step`\\ s, and each request takes the next one (an error, a slow
answer, a garbage body) before the normal behaviour resumes. Every request is
logged so tests can count calls and read what was sent.

A fake run as a subprocess is scripted over HTTP instead:
``POST /_fake/script`` (a JSON list of steps), ``GET /_fake/requests``,
``POST /_fake/reset``, ``POST /_fake/throttle`` (``{"seconds": 60}``),
``GET /_fake/invoice`` (every call billed at list prices: ``tests.fakes.invoice``).

A streamed answer is a :class:`Step` with ``chunks``: sent with chunked
transfer encoding, one chunk per event, ``gap_ms`` apart (real gaps, so a
client sees the first pieces before the last is sent). ``cut_after=N`` drops
the connection after N chunks without ending the body, as a dying upstream
does; on a step without a body it cuts the normal (streamed) answer, and
``gap_ms`` there slows the normal stream down.
``client_disconnects`` counts streams the client closed before their end,
``streams_finished`` those sent to their end.

``throttle(seconds)`` makes every request answer 429 for that long, as a
provider over its quota does, each with a ``Retry-After`` of the seconds left
until the quota comes back (rounded up): an honest rate limit, whatever the
number of calls.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import select
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from tests.fakes.invoice import Invoice
from tests.fakes.steps import (
    ErrorShape,
    Step,
    cut,
    error_body,
    failure,
    malformed,
    rate_limited,
    reply,
    server_error,
    slow,
    sse_event,
    streamed,
)

__all__ = [
    "ErrorShape",
    "FakeServer",
    "LoggedRequest",
    "Step",
    "common_arguments",
    "cut",
    "error_body",
    "failure",
    "malformed",
    "rate_limited",
    "reply",
    "server_error",
    "slow",
    "sse_event",
    "streamed",
]


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON, or None
    received_at: float = field(default_factory=time.monotonic)


class FakeServer:
    """A threaded HTTP server on 127.0.0.1; subclasses implement :meth:`answer`."""

    error_shape: ErrorShape = "openai"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, latency_ms: float = 0.0):
        self.latency_ms = latency_ms
        self._lock = threading.Lock()
        self._steps: deque[Step] = deque()
        self._log: list[LoggedRequest] = []
        self._throttled_until = 0.0
        # "connections" accepted, streams the client "left" before their end, streams "finished"
        self._tallies: Counter[str] = Counter()
        self.invoice = Invoice()  # every call billed at list prices (tests.fakes.invoice)
        self._httpd = _Httpd((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    # --- what subclasses provide -------------------------------------------------
    def answer(self, request: LoggedRequest) -> Step:
        """The normal (unscripted) answer: :func:`reply` or :meth:`error`."""
        raise NotImplementedError

    def error(self, status: int, message: str) -> Step:
        """An error in this service's own shape."""
        return failure(status, message, self.error_shape)

    # --- control ---------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *steps: Step) -> None:
        with self._lock:
            self._steps.extend(steps)

    def throttle(self, seconds: float) -> None:
        """Answer 429 with ``Retry-After`` (the seconds left) to every request for ``seconds``."""
        with self._lock:
            self._throttled_until = time.monotonic() + seconds

    def _throttle_left(self) -> float:
        return self._throttled_until - time.monotonic()

    @property
    def connections(self) -> int:
        """TCP connections accepted since the start (or the last reset)."""
        return self._tally("connections")

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def client_disconnects(self) -> int:
        """How many streamed answers the client closed before their end."""
        return self._tally("left")

    @property
    def streams_finished(self) -> int:
        """How many streamed answers were sent to their end."""
        return self._tally("finished")

    def _tally(self, name: str) -> int:
        with self._lock:
            return self._tallies[name]

    def _count(self, name: str) -> None:
        with self._lock:
            self._tallies[name] += 1

    @property
    def call_count(self) -> int:
        with self._lock:
            return len(self._log)

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self._log.clear()
            self._throttled_until = 0.0
            self._tallies.clear()
        self.invoice.clear()

    def start(self) -> Self:
        # A short poll interval keeps stop() quick: tests start and stop many fakes.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        print(f"listening on {self.url}", flush=True)
        try:
            self._httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    # --- per request -----------------------------------------------------------
    def _respond(self, request: LoggedRequest) -> Step:
        if request.path.startswith("/_fake/"):
            return self._control(request)
        with self._lock:
            self._log.append(request)
            left = self._throttle_left()
            if left > 0:
                return rate_limited(self.error_shape, retry_after=str(math.ceil(left)))
            step = self._steps.popleft() if self._steps else Step()
        delay = (self.latency_ms + step.delay_ms) / 1000.0
        if delay > 0:
            time.sleep(delay)
        if step.scripted:
            return step
        answer = self.answer(request)
        if step.cut_after is not None:
            answer = replace(answer, cut_after=step.cut_after)
        if step.gap_ms and answer.chunks is not None:  # the normal stream, slower
            answer = replace(answer, gap_ms=step.gap_ms)
        return answer

    def _control(self, request: LoggedRequest) -> Step:
        if request.path == "/_fake/script" and isinstance(request.body, list):
            self.script(*(Step.from_json(item) for item in request.body))
            return reply({"queued": len(request.body)})
        if request.path == "/_fake/throttle" and isinstance(request.body, dict):
            self.throttle(float(request.body["seconds"]))
            return reply({"throttled_seconds": request.body["seconds"]})
        if request.path == "/_fake/invoice":
            return reply(self.invoice.as_json())
        if request.path == "/_fake/reset":
            self.reset()
            return reply({"reset": True})
        if request.path == "/_fake/requests":
            log = self.requests
            return reply(
                {"count": len(log), "requests": [{"path": r.path, "body": r.body} for r in log]}
            )
        return reply({"error": "unknown control path"}, status=404)


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True  # a slow answer in flight must not hold up stop()
    request_queue_size = 256  # a worker's calls connect at once; 5 would drop their SYNs

    def __init__(self, address: tuple[str, int], handler: type[_Handler], fake: FakeServer):
        super().__init__(address, handler)
        self.fake = fake

    def process_request(self, request: Any, client_address: Any) -> None:
        self.fake._count("connections")
        super().process_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services speak
    # Headers and body leave in two writes; with Nagle on, each answer would
    # wait out the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Httpd

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        step = self.server.fake._respond(LoggedRequest(self.command, self.path, headers, body))
        if step.chunks is not None:
            self._stream(step)
            return
        content = step.body or b""
        is_json = content[:1] in (b"{", b"[", b'"')
        try:
            self.send_response(step.status)
            self.send_header("Content-Type", "application/json" if is_json else "text/plain")
            self.send_header("Content-Length", str(len(content)))
            for name, value in step.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout under test): nothing to tell it

    def _stream(self, step: Step) -> None:
        """Send ``step.chunks`` with chunked transfer encoding, as an SSE endpoint does.

        Before each event it looks whether the client has hung up, as a provider
        stops generating for a client that left; ``step.billing`` hears how many
        events went out.
        """
        sent = 0
        try:
            self.send_response(step.status)
            if not any(name.lower() == "content-type" for name, _ in step.headers):
                self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            for name, value in step.headers:
                self.send_header(name, value)
            self.end_headers()
            for chunk in step.chunks or ():
                if step.cut_after is not None and sent >= step.cut_after:
                    self._drop()
                    return
                if sent and step.gap_ms:
                    time.sleep(step.gap_ms / 1000.0)
                if sent and self._client_gone():
                    raise ConnectionResetError
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                sent += 1
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            self.server.fake._count("finished")
            if step.billing is not None:
                step.billing(sent, True)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self.server.fake._count("left")
            if step.billing is not None:
                step.billing(sent, False)

    def _client_gone(self) -> bool:
        """Whether the client closed its end (readable, and nothing left to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _drop(self) -> None:
        """End the connection mid-body: the client sees an incomplete chunked message."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def common_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--api-key", default=None, help="required key; unset accepts any")
    return parser
