"""Which complete jobs wait for a provider batch, and until when: pure.

A job waits when it says so (``deadline``) or when it has priority 0 and its
tenant is in ``GRUMP_DEFER_PRIORITY_ZERO_TENANTS`` (it then waits up to
``GRUMP_DEFER_PRIORITY_ZERO_WAIT_SECONDS``). It waits only for a model whose
catalogue entry has a ``batch_discount`` (Claude's Message Batches) and whose
provider is configured: NIM has no batch API, so waiting would buy nothing, and
a deferred economy job runs at once as an ordinary one.
"""

from __future__ import annotations

from datetime import timedelta

from grump.jobs.models import AnyJobRequest, CompleteJobRequest
from grump.routing.pricing import ModelPrice
from grump.settings import Settings

# The ``queue`` a deferred job's row names while it waits: no broker queue, no worker.
DEFERRED_QUEUE = "deferred"


def tenants_deferring_priority_zero(settings: Settings) -> frozenset[str]:
    """The tenants whose priority-0 complete jobs wait for a batch."""
    names = (name.strip() for name in (settings.defer_priority_zero_tenants or "").split(","))
    return frozenset(name for name in names if name)


def wait_of(settings: Settings, tenant: str, request: AnyJobRequest) -> timedelta | None:
    """How long a job may wait for a batch, or None when it must run now."""
    if not isinstance(request, CompleteJobRequest) or request.input.stream:
        return None
    asked = request.wait()
    if asked is not None:
        return asked
    if request.priority == 0 and tenant in tenants_deferring_priority_zero(settings):
        return timedelta(seconds=settings.defer_priority_zero_wait_seconds)
    return None


def batchable(price: ModelPrice, settings: Settings) -> bool:
    """Whether jobs on this model can go through a batch API grump drives (Anthropic's)."""
    return (
        price.batch_discount is not None
        and price.provider == "anthropic"
        and bool(settings.anthropic_api_key)
    )
