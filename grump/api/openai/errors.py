"""The OpenAI front door's routes: every failure, dependencies included, in OpenAI's error shape."""

from __future__ import annotations

from fastapi import APIRouter

from grump.api.clienterrors import openai_body, shaped_route
from grump.api.responses import OPENAI_ERROR_RESPONSES

OpenAIRoute = shaped_route(openai_body)


def openai_router() -> APIRouter:
    """A router under /v1 whose routes answer failures in OpenAI's shape."""
    return APIRouter(
        prefix="/v1", tags=["openai"], route_class=OpenAIRoute, responses=OPENAI_ERROR_RESPONSES
    )
