"""The Helm chart passes helm lint, renders valid Kubernetes objects and has its schema."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import (
    ALL_FEATURES_VALUES,
    CHART_DIR,
    GPU_POOL_VALUES,
    helm_template_text,
    load_yaml,
    load_yaml_documents,
    require_tool,
    run_tool,
)

VALUE_SETS = {
    "default": (),
    "gpu-pool": (GPU_POOL_VALUES,),
    "all-features": (ALL_FEATURES_VALUES,),
}
# Kinds whose schemas come with their operators, not with Kubernetes.
CUSTOM_KINDS = {"ScaledObject", "ServiceMonitor"}


def lowest_supported_kubernetes() -> str:
    constraint = load_yaml(CHART_DIR / "Chart.yaml")["kubeVersion"]
    match = re.match(r">=\s*(\d+\.\d+)", constraint)
    assert match, constraint
    return match.group(1)


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_helm_lint_strict_passes(values: tuple[Path, ...]) -> None:
    helm = require_tool("helm")
    args: list[str | Path] = [helm, "lint", "--strict", CHART_DIR]
    for path in values:
        args += ["--values", path]
    result = run_tool(args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
@pytest.mark.parametrize("kubernetes", ["latest", "lowest"])
def test_rendered_objects_validate_strictly(values: tuple[Path, ...], kubernetes: str) -> None:
    """helm template | kubernetes-validate --strict: no unknown or missing fields."""
    validate = require_tool("kubernetes-validate")
    rendered = helm_template_text(values)
    args: list[str | Path] = [validate, "--strict"]
    if kubernetes == "lowest":
        args += ["--kubernetes-version", lowest_supported_kubernetes()]
    result = run_tool([*args, "-"], stdin=rendered)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "ERROR" not in output and "FATAL" not in output, output
    passed = re.findall(r"^INFO .* passed for resource (\S+)", output, re.MULTILINE)
    warned = re.findall(r"Couldn't find schema for kind (\w+)", output)
    assert set(warned) <= CUSTOM_KINDS, warned
    objects = rendered.count("\nkind: ")
    assert len(passed) + len(warned) == objects


def render_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Any:
    """helm template with the default values changed by `change` (lists stay whole)."""
    helm = require_tool("helm")
    values = load_yaml(CHART_DIR / "values.yaml")
    change(values)
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    return run_tool([helm, "template", "grump", CHART_DIR, "--values", values_file])


def _secret_in_config(values: dict[str, Any]) -> None:
    values["config"]["GRUMP_NIM_API_KEY"] = "abc"


def _url_in_config(values: dict[str, Any]) -> None:
    values["config"]["GRUMP_DATABASE_URL"] = "postgresql+psycopg://u:p@db/grump"


def _not_a_grump_setting(values: dict[str, Any]) -> None:
    values["config"]["LOG_LEVEL"] = "debug"


def _beat_replicas(values: dict[str, Any]) -> None:
    values["beat"]["replicas"] = 2


def _queue_of_another_tier(values: dict[str, Any]) -> None:
    values["workers"][2]["queues"] = ["parse"]


def _unknown_tier(values: dict[str, Any]) -> None:
    values["workers"][0]["tier"] = "tpu"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        # Secrets may never reach the ConfigMap through `config`.
        (_secret_in_config, "config: Must not validate"),
        (_url_in_config, "config: Must not validate"),
        # Only GRUMP_ settings go in `config`.
        (_not_a_grump_setting, 'Property name of "LOG_LEVEL"'),
        # One beat, always: there is no replica count to set.
        (_beat_replicas, "Additional property replicas"),
        # A tier consumes its own queues only.
        (_queue_of_another_tier, "workers.2.queues.0"),
        (_unknown_tier, "workers.0.tier"),
    ],
)
def test_schema_refuses_bad_values(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], complaint: str
) -> None:
    result = render_with(tmp_path, change)
    assert result.returncode != 0
    assert "schema" in result.stderr and complaint in result.stderr, result.stderr


def test_schema_accepts_the_default_values_unchanged(tmp_path: Path) -> None:
    result = render_with(tmp_path, lambda values: None)
    assert result.returncode == 0, result.stderr


def render_notes(tmp_path: Path, values: tuple[Path, ...] = ()) -> str:
    """NOTES.txt as `helm install` would print it, rendered with no cluster.

    `helm template` leaves NOTES.txt out, so a copy of the chart renders it
    into a ConfigMap through tpl.
    """
    helm = require_tool("helm")
    chart = tmp_path / "grump"
    shutil.copytree(CHART_DIR, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.tpl")
    (chart / "templates" / "zz-notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n"
        '  notes: {{ tpl (.Files.Get "notes.tpl") . | toJson }}\n'
    )
    args: list[str | Path] = [helm, "template", "grump", chart, "-n", "grump"]
    args += ["--show-only", "templates/zz-notes.yaml"]
    for path in values:
        args += ["--values", path]
    result = run_tool(args)
    assert result.returncode == 0, result.stderr
    notes: str = load_yaml_documents(result.stdout)[0]["data"]["notes"]
    return notes


def test_notes_tell_how_to_reach_the_api_make_a_key_and_log_in(tmp_path: Path) -> None:
    notes = render_notes(tmp_path)
    assert "port-forward svc/grump-api 8000:8000" in notes
    assert "exec deploy/grump-api -- grump keys create --tenant" in notes
    assert "helm test grump" in notes
    assert "get secret grump " in notes and "GRUMP_FLOWER_PASSWORD" in notes
    assert "gpu: grump worker --tier gpu (queues: embed; 1 nvidia.com/gpu each)" in notes


def test_notes_follow_ingress_and_existing_secret(tmp_path: Path) -> None:
    notes = render_notes(tmp_path, (GPU_POOL_VALUES,))
    assert "get secret grump-secrets " in notes
    assert "autoscaled by keda 1..4" in notes
    all_features = render_notes(tmp_path / "all", (ALL_FEATURES_VALUES,))
    assert "https://grump.example.com" in all_features


def test_hpa_cannot_scale_to_zero(tmp_path: Path) -> None:
    def hpa_from_zero(values: dict[str, Any]) -> None:
        values["workers"][0]["autoscaling"].update(enabled=True, mode="hpa", minReplicas=0)

    result = render_with(tmp_path, hpa_from_zero)
    assert result.returncode != 0
    assert "minReplicas >= 1" in result.stderr


def test_database_and_broker_urls_are_required_without_an_existing_secret() -> None:
    helm = require_tool("helm")
    result = run_tool([helm, "template", "grump", CHART_DIR, "--set", "secrets.databaseUrl="])
    assert result.returncode != 0
    assert "secrets.databaseUrl" in result.stderr
    existing = run_tool(
        [
            helm, "template", "grump", CHART_DIR,
            "--set", "secrets.databaseUrl=",
            "--set", "secrets.brokerUrl=",
            "--set", "secrets.existingSecret=grump-secrets",
        ]
    )  # fmt: skip
    assert existing.returncode == 0, existing.stderr
