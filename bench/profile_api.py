"""Serve the API in this process under cProfile for a while, then write its stats. For bench/submits.py.

.venv/bin/python bench/profile_api.py OUT SECONDS   (settings from GRUMP_* as `grump api`)
"""

from __future__ import annotations

import asyncio
import cProfile
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grump.api.app import create_app
from grump.settings import Settings


def main() -> None:
    out, seconds = sys.argv[1], float(sys.argv[2])
    settings = Settings()
    config = uvicorn.Config(
        create_app(settings), host=settings.api_host, port=settings.api_port, log_level="warning"
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        async def stop_later() -> None:
            await asyncio.sleep(seconds)
            server.should_exit = True

        stopper = asyncio.create_task(stop_later())
        await server.serve()
        stopper.cancel()

    profile = cProfile.Profile()
    profile.enable()
    try:
        asyncio.run(serve())
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
