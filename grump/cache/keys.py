"""Cache keys: a hash of the canonical request inside a per-tenant namespace.

Everything that can change the answer is in the hash (model, messages, roles,
max_tokens, temperature), so a request differing in any of them never hits.
The namespace is a hash of the tenant: one tenant never reads another's entry,
and a tenant's entries can be found (and cleared) by their prefix.
"""

from __future__ import annotations

import hashlib
import json

from grump.jobs.models import CompleteInput

# Bump when the cached value's shape changes: old entries then simply miss.
KEY_VERSION = "v1"
_SEPARATOR = ":"


def tenant_namespace(tenant: str) -> str:
    """The prefix of every key of ``tenant``."""
    digest = hashlib.sha256(tenant.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{KEY_VERSION}{_SEPARATOR}{digest}{_SEPARATOR}"


def canonical_request(model: str, payload: CompleteInput) -> str:
    """The answer-changing parts of a complete request as one canonical JSON text."""
    return json.dumps(
        {
            "kind": "complete",
            "model": model,
            # Everything that can change the answer (tools, stop, formats...), not
            # whether it is streamed: a streamed and a whole call share an answer.
            **payload.model_dump(mode="json", exclude_none=True, exclude={"stream", "model"}),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def completion_key(tenant: str, model: str, payload: CompleteInput) -> str:
    """The cache key of a complete request: the tenant's namespace and a hash of the request."""
    canonical = canonical_request(model, payload).encode("utf-8", "surrogatepass")
    return tenant_namespace(tenant) + hashlib.sha256(canonical).hexdigest()
