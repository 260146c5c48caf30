"""The API fuzzed from its own OpenAPI schema, over the real ledger and broker.

Every operation, every generated case sent twice: with a valid key and with
none. No answer is a 5xx and every answer matches the schema (status code,
content type, body, headers). No workers run: accepted jobs stay queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from grump.api.app import create_app
from grump.celery.app import create_celery
from grump.ledger.db import session_scope
from grump.ledger.keys import create_api_key
from grump.runtime import Runtime
from grump.settings import Settings

pytestmark = pytest.mark.integration

CHECKS = [  # not_a_server_error is asserted by hand below, with the one 5xx that is expected
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def app(real_settings: Settings) -> Iterator[tuple[Any, dict[str, str]]]:
    values = {**real_settings.model_dump(), "openai_wait_seconds": 0.01}
    fuzz_settings = Settings.model_validate(values)
    runtime = Runtime(fuzz_settings)
    built = create_app(fuzz_settings, runtime, create_celery(fuzz_settings, runtime))
    with session_scope(runtime.sessions) as session:
        keys = {
            "tenant": create_api_key(session, "fuzz"),
            "admin": create_api_key(session, "fuzz-ops", admin=True),
        }
    yield built, keys
    runtime.dispose()


def _waited_for_no_worker(case: Case[Any], response: Any) -> bool:
    """No worker runs here, so the front doors' documented 504 (still running) is expected."""
    waits = case.operation.path in ("/v1/chat/completions", "/v1/embeddings", "/v1/messages")
    return bool(waits and response.status_code == 504 and "x-grump-job-id" in response.headers)


def _fuzz(operation: Any, keys: dict[str, str]) -> None:
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case: Case[Any]) -> None:
        for key in (keys["tenant"], keys["admin"], None):
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            assert response.status_code < 500 or _waited_for_no_worker(case, response), (
                response.status_code,
                response.text[:300],
            )

    run()


def test_no_5xx_and_every_answer_matches_the_schema(
    app: tuple[Any, dict[str, str]],
) -> None:
    """Schemathesis's pytest loader does not run on this pytest: operations are walked here."""
    asgi_app, keys = app
    schema = schemathesis.openapi.from_asgi("/openapi.json", asgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10  # every route of the app, not a schema that failed to load
    for operation in operations:
        try:
            _fuzz(operation, keys)
        except Exception as exc:
            exc.add_note(f"while fuzzing {operation.method.upper()} {operation.path}")
            raise
