"""The llm worker: `celery -A workers.llm worker` (or `grump worker --tier llm`)."""

from grump.queues import WorkerKind
from grump.settings import Settings
from grump.worker import create_worker_app

app = create_worker_app(Settings(), WorkerKind.LLM)
