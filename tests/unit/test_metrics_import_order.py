"""A prefork worker picks prometheus-client's multiprocess mode before anything imports it."""

from __future__ import annotations

import subprocess
import sys


def test_settings_and_the_cli_leave_prometheus_client_unimported() -> None:
    # `grump worker` reads its settings (validators included) before it sets
    # PROMETHEUS_MULTIPROC_DIR; an import of prometheus-client before that made the
    # pool children count in memory no one serves (a cpu worker's /metrics had no jobs).
    probe = (
        "import sys; from grump.settings import Settings; "
        "Settings(tenant_rate_limits='acme=5/1000'); import grump.cli; "
        "print('prometheus_client' in sys.modules)"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert answer.stdout.strip() == "False"
