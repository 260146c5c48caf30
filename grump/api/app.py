"""The API's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from celery import Celery
from fastapi import FastAPI

from grump import __version__
from grump.api.accesslog import install_access_log_filter
from grump.api.anthropic import messages
from grump.api.bodylimit import BodyLimit
from grump.api.deps import make_key_cache
from grump.api.errors import install_error_handlers
from grump.api.jsonbody import JsonBody
from grump.api.openai import chat, embeddings
from grump.api.retryafter import RetryAfterOn429
from grump.api.routes import budgets, costs, health, jobs, keys
from grump.api.urlguard import RefuseNulInUrl
from grump.runtime import Runtime
from grump.settings import Settings


def create_app(
    settings: Settings, runtime: Runtime | None = None, celery: Celery | None = None
) -> FastAPI:
    """The API app for ``settings``, making its own runtime and Celery app when none is given."""
    from grump.celery.app import create_celery

    runtime = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # The async engine's connections and the loop's Redis clients close on their loop.
        await runtime.aclose()

    app = FastAPI(
        title="grump",
        version=__version__,
        description="LLM work as a distributed job queue, with its cost under control.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.celery = celery or create_celery(settings, runtime)
    app.state.key_cache = make_key_cache(settings)
    install_error_handlers(app, settings.retry_after_seconds)
    install_access_log_filter()  # query strings carry keys and prompts: never logged
    app.include_router(health.router)
    app.include_router(jobs.router)
    app.include_router(budgets.router)
    app.include_router(costs.router)
    app.include_router(keys.router)
    app.include_router(chat.router)
    app.include_router(embeddings.router)
    app.include_router(messages.router)
    app.add_middleware(JsonBody)  # inside BodyLimit: it reads bodies already under the limit
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RefuseNulInUrl)
    app.add_middleware(RetryAfterOn429)
    return app


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` (``grump api --workers N``): each process reads the environment."""
    return create_app(Settings())
