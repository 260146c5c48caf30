"""The gpu worker: `celery -A workers.gpu worker` (or `grump worker --tier gpu`)."""

from grump.queues import WorkerKind
from grump.settings import Settings
from grump.worker import create_worker_app

app = create_worker_app(Settings(), WorkerKind.GPU)
