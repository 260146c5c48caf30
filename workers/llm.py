"""The llm worker: `celery -A workers.llm worker` (or `grump worker --tier llm`)."""

from grump.celery.profiles import WorkerKind
from grump.celery.workers import create_worker_app
from grump.settings import Settings

app = create_worker_app(Settings(), WorkerKind.LLM)
