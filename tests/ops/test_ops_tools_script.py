"""scripts/ops-tools.sh: valid shell, and a second run changes nothing."""

from __future__ import annotations

import subprocess

from .support import REPO_ROOT, find_tool, require_tool

SCRIPT = REPO_ROOT / "scripts" / "ops-tools.sh"


def test_script_is_valid_bash() -> None:
    result = subprocess.run(["bash", "-n", SCRIPT], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_second_run_skips_every_tool_and_leaves_them_alone() -> None:
    tools = ("helm", "kubernetes-validate", "promtool")
    for tool in tools:
        require_tool(tool)
    helm = find_tool("helm")
    assert helm is not None
    before = helm.stat().st_mtime_ns
    result = subprocess.run(
        ["bash", SCRIPT], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for tool in tools:
        assert f"{tool} present, skipped" in result.stderr
    assert helm.stat().st_mtime_ns == before


def test_installed_helm_is_helm_3() -> None:
    helm = require_tool("helm")
    result = subprocess.run(
        [helm, "version", "--short"], capture_output=True, text=True, check=False
    )
    assert result.stdout.startswith("v3."), result.stdout
