"""The Python client retries 5xx and connection errors with backoff, and surfaces 4xx at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from grump import errors
from grump.client import GrumpClient
from tests.services import free_port


class Scripted(ThreadingHTTPServer):
    def __init__(self, answers: list[tuple[int, dict[str, object]]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers = answers
        self.requests: list[dict[str, str]] = []


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.server.requests.append(dict(self.headers))
        status, body = (
            self.server.answers.pop(0) if len(self.server.answers) > 1 else self.server.answers[0]
        )
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        if status == 503:
            self.send_header("retry-after", "3")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _answer  # noqa: N815 (http.server names)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Scripted]:
    instance = Scripted([])
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def _client(server: Scripted) -> GrumpClient:
    return GrumpClient(f"http://127.0.0.1:{server.server_address[1]}", "k", backoff_initial=0.01)


def test_retries_5xx_then_succeeds_with_one_idempotency_key(server: Scripted) -> None:
    unavailable = (503, {"error": {"message": "database unavailable"}})
    server.answers = [unavailable, unavailable, (202, {"id": "j1", "status": "queued"})]
    with _client(server) as client:
        job = client.submit("parse", {"text": "x"})
    assert job["id"] == "j1"
    assert len(server.requests) == 3
    keys = {r["Idempotency-Key"] for r in server.requests}
    assert len(keys) == 1  # every retry is the same submit: the server makes one job


def test_gives_up_after_three_attempts_with_the_servers_message(server: Scripted) -> None:
    server.answers = [(503, {"error": {"message": "database unavailable"}})]
    with _client(server) as client, pytest.raises(errors.ServiceUnavailable) as caught:
        client.get("j1")
    assert len(server.requests) == 3
    assert "database unavailable" in caught.value.message
    assert caught.value.retry_after == 3


def test_4xx_is_raised_at_once_with_field_and_reason(server: Scripted) -> None:
    body = {
        "error": {
            "code": "validation_failed",
            "message": "input.texts: too short",
            "field": "input.texts",
        }
    }
    server.answers = [(422, body)]
    with _client(server) as client, pytest.raises(errors.ValidationFailed) as caught:
        client.submit("embed", {"texts": []})
    assert len(server.requests) == 1
    assert caught.value.message == "input.texts: too short"
    assert caught.value.details["field"] == "input.texts"
    assert caught.value.status_code == 422


def test_connection_refused_is_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        GrumpClient(url, "k", backoff_initial=0.01) as client,
        pytest.raises(errors.ServiceUnavailable) as caught,
    ):
        client.get("j1")
    assert "unreachable after 3 attempts" in caught.value.message
