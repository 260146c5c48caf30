"""POST /v1/embeddings: an embed job, answered in OpenAI's shape once it finishes."""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from grump.api.deps import CeleryDep, PrincipalDep, RuntimeDep
from grump.api.frontdoor import final_job, job_headers, job_request
from grump.api.openai.errors import openai_router
from grump.jobs.models import EmbedJobRequest
from grump.jobs.submit import submit_job_async
from grump.ledger.models import Job
from grump.routing.policy import AUTO_MODEL

router = openai_router()


class EmbeddingsBody(BaseModel):
    """An OpenAI embeddings request; ``model: "auto"`` uses grump's embedding model."""

    model_config = ConfigDict(extra="allow")

    model: str = AUTO_MODEL
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    input_type: Literal["query", "passage"] = "passage"  # NIM's extension for asymmetric models
    user: str | None = None


@router.post("/embeddings", response_model=None)
async def embeddings(
    body: EmbeddingsBody, principal: PrincipalDep, runtime: RuntimeDep, celery: CeleryDep
) -> JSONResponse:
    """Create embeddings, run as a grump job and answered in OpenAI's shape once it finishes."""
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    grump_input: dict[str, Any] = {"texts": texts, "input_type": body.input_type}
    if body.model != AUTO_MODEL:
        grump_input["model"] = body.model
    if body.dimensions is not None:
        grump_input["dimensions"] = body.dimensions
    request = job_request(EmbedJobRequest, "embed", grump_input, body.user)
    done = await submit_job_async(
        runtime, celery, principal.tenant, request, caller=principal.caller
    )
    job = await final_job(runtime, done.job.id)
    return JSONResponse(embeddings_json(job, body.encoding_format), headers=job_headers(job))


def embeddings_json(job: Job, encoding_format: str) -> dict[str, Any]:
    """A succeeded embed job as OpenAI's embeddings list, each vector as floats or base64."""
    vectors: list[list[float]] = (job.result or {}).get("embeddings", [])
    data = [
        {"object": "embedding", "index": i, "embedding": _encode_vector(v, encoding_format)}
        for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": job.model,
        "usage": {"prompt_tokens": job.tokens_in, "total_tokens": job.tokens_in},
    }


def _encode_vector(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":  # what OpenAI's SDKs ask for: little-endian float32
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector
