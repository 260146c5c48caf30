"""Shared knowledge and helpers of the ops tests: what the files must agree on.

Each list here is the one place the ops tests name it: the CLI commands that
compose and Helm may run, the metrics that dashboards and alerts may use, the
environment variables grump reads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from grump.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
CHART_DIR = REPO_ROOT / "helm" / "grump"
GPU_POOL_VALUES = REPO_ROOT / "helm" / "values-gpu-pool.yaml"
ALL_FEATURES_VALUES = Path(__file__).resolve().parent / "values-all-features.yaml"

# `grump` subcommands that containers may run (compose `command`, Helm `args`).
CLI_COMMANDS = ("api", "worker", "beat", "migrate", "flower", "keys")
WORKER_TIERS = ("cpu", "llm", "gpu")

# Every metric the dashboard and the alerts may reference, as Prometheus names it.
METRIC_NAMES = frozenset(
    {
        "llm_cost_usd_total",
        "llm_cost_per_request_usd",
        "cache_savings_usd_total",
        "model_routing_savings_usd_total",
        "provider_cache_savings_usd_total",
        "worker_queue_depth",
        "gpu_utilization_percent",
        "tiered_cache_hits_total",
        "batch_processing_requests_total",
        "task_complexity_score",
        "grump_jobs_submitted_total",
        "grump_jobs_finished_total",
        "grump_job_latency_seconds",
        "grump_budget_alerts_total",
        "grump_beat_heartbeat_timestamp_seconds",
        "grump_provider_errors_total",
    }
)
HISTOGRAMS = frozenset(
    {"llm_cost_per_request_usd", "task_complexity_score", "grump_job_latency_seconds"}
)
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# Labels of grump's metrics; a scrape target label with one of these names
# would clash and be renamed exported_<name>.
METRIC_LABELS = frozenset(
    {"model", "tier", "queue", "kind", "cache_tier", "outcome", "provider", "status"}
)

# Keys that must only ever be in a Secret.
SECRET_ENV_NAMES = frozenset(
    {
        "GRUMP_DATABASE_URL",
        "GRUMP_BROKER_URL",
        "GRUMP_REDIS_URL",
        "GRUMP_API_KEY",
        "GRUMP_NIM_URL",
        "GRUMP_NIM_API_KEY",
        "GRUMP_ANTHROPIC_URL",
        "GRUMP_ANTHROPIC_API_KEY",
        "GRUMP_FLOWER_USER",
        "GRUMP_FLOWER_PASSWORD",
        "GRUMP_BUDGET_WEBHOOK_URL",
    }
)


def settings_env_names() -> frozenset[str]:
    """The GRUMP_* variables grump's Settings read: one per field, nothing else."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return frozenset(f"{prefix}{field}".upper() for field in Settings.model_fields)


def allowed_metric_names() -> frozenset[str]:
    """METRIC_NAMES plus the series Prometheus derives from each histogram."""
    derived = {name + suffix for name in HISTOGRAMS for suffix in HISTOGRAM_SUFFIXES}
    return METRIC_NAMES | derived


# --- tools -----------------------------------------------------------------------


def find_tool(name: str) -> Path | None:
    """A tool from .tools/bin (what scripts/ops-tools.sh installs) or else PATH."""
    local = TOOLS_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    return Path(found) if found else None


def require_tool(name: str) -> Path:
    """The tool's path; a skip when missing, but a failure under CI=true."""
    path = find_tool(name)
    if path is not None:
        return path
    reason = f"{name} not found on PATH or in .tools/bin: run scripts/ops-tools.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def run_tool(
    args: Sequence[str | Path], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


# --- YAML ------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


# libyaml's loader when PyYAML has it: rendered charts are long.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc]


# --- Helm ------------------------------------------------------------------------

_rendered: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}


def helm_template_text(values_files: Sequence[Path] = (), set_values: Sequence[str] = ()) -> str:
    """`helm template` of the chart as release "grump" (cached per arguments)."""
    key = (tuple(str(p) for p in values_files), tuple(set_values))
    if key not in _rendered:
        helm = require_tool("helm")
        args: list[str | Path] = [helm, "template", "grump", CHART_DIR, "--namespace", "grump"]
        for path in values_files:
            args += ["--values", path]
        for assignment in set_values:
            args += ["--set", assignment]
        result = run_tool(args)
        assert result.returncode == 0, result.stderr
        _rendered[key] = result.stdout
    return _rendered[key]


_parsed: dict[str, list[dict[str, Any]]] = {}


def helm_template(
    values_files: Sequence[Path] = (), set_values: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The rendered objects (parsed once per rendering; tests must not change them)."""
    text = helm_template_text(values_files, set_values)
    if text not in _parsed:
        _parsed[text] = load_yaml_documents(text)
    return _parsed[text]


def objects_of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment, Job or bare Pod."""
    if obj["kind"] == "Pod":
        spec: dict[str, Any] = obj["spec"]
        return spec
    template_spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return template_spec


def component_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


# --- Dockerfiles -----------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_stages(path: Path) -> list[list[tuple[str, str]]]:
    """Instructions grouped by build stage (each starting with its FROM)."""
    stages: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions(path):
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


# --- PromQL ----------------------------------------------------------------------

_PROMQL_WORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)
_IDENTIFIER = re.compile(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"' + r"|'(?:\\.|[^'\\])*'")


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, keywords and labels left out)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _GROUPING.sub("", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("("):
            continue  # a function call
        if match.group(0) not in _PROMQL_WORDS:
            names.add(match.group(0))
    return names


def promql_label_names(expr: str) -> set[str]:
    """Labels an expression groups or matches on."""
    text = _STRING.sub('""', expr)
    labels: set[str] = set()
    for _, group in _GROUPING.findall(text):
        labels |= {label.strip() for label in group.split(",") if label.strip()}
    for matchers in _MATCHERS.findall(text):
        labels |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    return labels
