"""The same programs run the same way in compose, in Helm and in the images."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grump.celery.profiles import WorkerKind
from grump.cli import COMMANDS, build_parser

from .support import (
    ALL_FEATURES_VALUES,
    CLI_COMMANDS,
    GPU_POOL_VALUES,
    REPO_ROOT,
    WORKER_TIERS,
    component_of,
    dockerfile_stages,
    helm_template,
    load_yaml,
    pod_spec,
)

COMPOSE_SERVICES: dict[str, dict[str, Any]] = load_yaml(REPO_ROOT / "docker-compose.yml")[
    "services"
]


def compose_commands() -> dict[str, list[str]]:
    return {
        name: [str(part) for part in service["command"]]
        for name, service in COMPOSE_SERVICES.items()
        if str(service.get("image", "")).startswith(("grump:", "grump-gpu:"))
    }


def helm_commands(objects: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Component -> args of its grump container (helm test pods left out)."""
    commands = {}
    for obj in objects:
        if obj["kind"] not in ("Deployment", "Job", "Pod"):
            continue
        if obj["metadata"].get("annotations", {}).get("helm.sh/hook") == "test":
            continue
        (container,) = pod_spec(obj)["containers"]
        assert "command" not in container, f"{obj['metadata']['name']} replaces the entrypoint"
        commands[component_of(obj)] = [str(arg) for arg in container["args"]]
    return commands


def test_cli_command_list_matches_grump_cli() -> None:
    """tests/ops keeps its own list; grump.cli's COMMANDS has every one of them."""
    assert set(CLI_COMMANDS) <= set(COMMANDS)


@pytest.mark.parametrize(
    "values",
    [(), (GPU_POOL_VALUES,), (ALL_FEATURES_VALUES,)],
    ids=["default", "gpu-pool", "all-features"],
)
def test_every_command_parses_with_the_real_cli(values: tuple[Any, ...]) -> None:
    parser = build_parser()
    commands = list(helm_commands(helm_template(values)).values())
    commands += list(compose_commands().values())
    for args in commands:
        try:
            parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"`grump {' '.join(args)}` does not parse")


def test_worker_tiers_are_grumps_worker_kinds() -> None:
    assert set(WORKER_TIERS) == {kind.value for kind in WorkerKind}


@pytest.mark.parametrize("values", [(), (GPU_POOL_VALUES,)], ids=["default", "gpu-pool"])
def test_helm_runs_the_same_commands_as_compose(values: tuple[Any, ...]) -> None:
    in_helm = helm_commands(helm_template(values))
    in_compose = compose_commands()
    assert set(in_helm) == set(in_compose)
    for component, args in in_helm.items():
        assert args == in_compose[component], component
        assert args[0] in CLI_COMMANDS


def test_every_image_starts_grump_through_tini_and_its_default_matches() -> None:
    entrypoints = set()
    for dockerfile in ("Dockerfile.worker", "Dockerfile.gpu"):
        final = dockerfile_stages(REPO_ROOT / dockerfile)[-1]
        entrypoint = [args for kw, args in final if kw == "ENTRYPOINT"][-1]
        entrypoints.add(tuple(json.loads(entrypoint)))
    assert entrypoints == {("tini", "--", "grump")}
    gpu_final = dockerfile_stages(REPO_ROOT / "Dockerfile.gpu")[-1]
    gpu_cmd = json.loads([args for kw, args in gpu_final if kw == "CMD"][-1])
    assert gpu_cmd == compose_commands()["worker-gpu"]
    assert gpu_cmd == helm_commands(helm_template())["worker-gpu"]
