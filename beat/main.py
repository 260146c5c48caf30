"""The beat program: `celery -A beat.main beat` (or `grump beat`). Run exactly one."""

from grump.celery.app import create_celery
from grump.settings import Settings

app = create_celery(Settings())
