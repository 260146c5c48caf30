"""Submit reads what is warm in the premium model's prompt cache (real Redis) before routing."""

from __future__ import annotations

import uuid

import pytest

from grump.jobs.models import CompleteInput, CompleteJobRequest, JobKind, Tier
from grump.jobs.plan import plan_job
from grump.routing.prompt_cache import prepare_for_provider
from grump.runtime import Runtime

pytestmark = pytest.mark.integration
SYSTEM = {"role": "system", "content": "You are the team's coding assistant. " * 6000}


def session(*questions: str) -> CompleteJobRequest:
    messages: list[dict[str, str]] = [SYSTEM]
    for i, question in enumerate(questions):
        messages.append({"role": "user", "content": question})
        if i < len(questions) - 1:
            messages.append({"role": "assistant", "content": f"Done ({i})."})
    return CompleteJobRequest(
        kind=JobKind.COMPLETE, input=CompleteInput.model_validate({"messages": messages})
    )


def test_an_easy_turn_of_a_warm_session_stays_on_the_premium_cache(runtime: Runtime) -> None:
    tenant = f"warm-{uuid.uuid4().hex}"
    premium = runtime.settings.premium_model
    first = session("Open settings.py.")
    prepare_for_provider(runtime, premium, first.input, tenant)  # the worker sent turn one
    second = session("Open settings.py.", "Rename the variable cfg to config in settings.py.")

    warm = plan_job(runtime, second, None, tenant)
    assert warm.routing is not None
    assert (warm.tier, warm.model, warm.routing.reason) == (
        Tier.PREMIUM,
        premium,
        "warm-premium-cheaper",
    )
    assert warm.routing.warm_tokens > 50_000

    cold = plan_job(runtime, second, None, f"cold-{uuid.uuid4().hex}")  # another tenant's cache
    assert cold.routing is not None
    assert (cold.tier, cold.routing.reason, cold.routing.warm_tokens) == (
        Tier.ECONOMY,
        "score<60",
        0,
    )
