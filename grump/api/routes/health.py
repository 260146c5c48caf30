"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from grump.api.deps import RuntimeDep
from grump.jobs.held_gauge import refresh_held_jobs
from grump.metrics_server import exposition_registry, refresh_queue_depth
from grump.readiness import readiness_checks

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answer 200 while the process is up, whatever the state of the services it needs."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a service grump needs is down"}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Whether the database, the broker and Redis answer, with 503 and Retry-After when one does not."""
    checks = await readiness_checks(runtime)
    ready = all(v == "ok" for v in checks.values())
    headers = None if ready else {"Retry-After": str(runtime.settings.retry_after_seconds)}
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=headers,
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(runtime: RuntimeDep) -> Response:
    """The Prometheus metrics of the API, with the queue depths read fresh from the broker."""
    # Sync, so FastAPI runs it on its thread pool: the exposition is CPU work and the depths
    # are read with sync clients, neither of which may hold up the event loop.
    refresh_queue_depth(runtime)
    refresh_held_jobs(runtime)
    # Under `grump api --workers N` this sums the counters of all N processes.
    return Response(generate_latest(exposition_registry()), media_type=CONTENT_TYPE_LATEST)
