"""A loopback upstream speaking NIM's chat completions, answering every call after a fixed delay.

  .venv/bin/python -m bench.upstream --port 9100 [--delay 1.0]

The stand-in for a hosted model behind the gateways that bench/gateway.py compares.
One asyncio process (aiohttp's server): a call waits its delay on the event loop, so
thousands of calls in flight hold no thread each and cost next to no CPU. The answer
has NIM's shape (``choices[0].message``, ``usage`` with word counts, as
tests/fakes/nim.py answers). ``GET /stats`` tells how many calls it has answered, so a
benchmark can check that every call reached it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

from aiohttp import web

CALLS = web.AppKey("calls", list[int])
DELAY = web.AppKey("delay", float)


def chat_answer(body: dict[str, Any]) -> dict[str, Any]:
    """NIM's answer to a chat body: the last message echoed, tokens counted as words."""
    messages = body["messages"]
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
    words = f"echo: {messages[-1].get('content', '')}".split()[: int(body.get("max_tokens") or 64)]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "unknown"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": " ".join(words)},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": len(words),
            "total_tokens": prompt + len(words),
        },
    }


async def chat(request: web.Request) -> web.Response:
    """POST /v1/chat/completions: NIM's answer after the delay; 400 in NIM's shape if malformed."""
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        error = {"object": "error", "message": "messages: field required", "type": "BadRequest"}
        return web.json_response(error, status=400)
    await asyncio.sleep(request.app[DELAY])
    request.app[CALLS][0] += 1
    return web.json_response(chat_answer(body))


async def stats(request: web.Request) -> web.Response:
    """GET /stats: the calls answered so far."""
    return web.json_response({"calls": request.app[CALLS][0]})


def app(delay: float) -> web.Application:
    """The upstream's application: chat completions answered after ``delay`` seconds."""
    application = web.Application()
    application[DELAY], application[CALLS] = delay, [0]
    application.router.add_post("/v1/chat/completions", chat)
    application.router.add_get("/stats", stats)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before each answer")
    args = parser.parse_args()
    # No access log: a line per call would be most of this process's CPU.
    # A deep backlog: a thousand clients connecting at once must not wait out SYN retries.
    web.run_app(
        app(args.delay), host=args.host, port=args.port, access_log=None, print=None, backlog=4096
    )


if __name__ == "__main__":
    main()
