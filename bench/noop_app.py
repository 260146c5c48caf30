"""A bare Celery app with grump's worker settings and a no-op task: the pipeline baseline."""

import os

from celery import Celery

from grump.celery.app import celery_config
from grump.settings import Settings

app = Celery("noop", set_as_current=False)
config = celery_config(Settings(broker_url=os.environ["BENCH_BROKER_URL"]))
config.pop("beat_schedule")
app.conf.update(config, worker_prefetch_multiplier=4)


@app.task(name="bench.noop")
def noop() -> None:
    return None
