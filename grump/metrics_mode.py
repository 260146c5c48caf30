"""Choosing prometheus-client's multiprocess mode, before prometheus-client is imported.

prometheus-client decides once, when a process first imports it, whether its values
live in memory or in files under ``PROMETHEUS_MULTIPROC_DIR``. A prefork worker's
children inherit the parent's choice through the fork, so the parent must set the
directory before anything imports prometheus-client. This module imports nothing
that does; ``grump.metrics_server`` (which serves the files) does.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess(directory: Path) -> None:
    """Start from an empty directory: files of a previous run would be summed in."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
