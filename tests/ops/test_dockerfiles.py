"""The two images: stages, user, init, health check, layering, build context.

No Docker engine runs here, so the Dockerfiles are read and checked as text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from .support import (
    CLI_COMMANDS,
    REPO_ROOT,
    dockerfile_instructions,
    dockerfile_stages,
    load_yaml,
)

DOCKERFILES = {
    "worker": REPO_ROOT / "Dockerfile.worker",
    "gpu": REPO_ROOT / "Dockerfile.gpu",
}
ENTRYPOINT = ["tini", "--", "grump"]
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "git", "curl", "wget", "python3-dev")


def uninstalls(command: str) -> list[str]:
    """The packages every ``pip uninstall -y`` of a shell command names."""
    packages: list[str] = []
    for part in command.split("pip uninstall -y")[1:]:
        packages += part.split("&&")[0].split()
    return packages


def final_stage(path: Path) -> list[tuple[str, str]]:
    return dockerfile_stages(path)[-1]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"not exec form: {arguments}"
    return [str(item) for item in value]


def last(stage: list[tuple[str, str]], keyword: str) -> str | None:
    found = [args for kw, args in stage if kw == keyword]
    return found[-1] if found else None


@pytest.mark.parametrize("name", DOCKERFILES)
def test_image_is_multi_stage_with_a_separate_build_stage(name: str) -> None:
    stages = dockerfile_stages(DOCKERFILES[name])
    assert len(stages) >= 2
    froms = [stage[0][1] for stage in stages]
    assert all(" AS " in f.upper() for f in froms), froms
    # The final stage takes the built virtualenv from an earlier stage.
    copies = [args for kw, args in stages[-1] if kw == "COPY"]
    assert any(args.startswith("--from=build ") and "/opt/venv" in args for args in copies)


@pytest.mark.parametrize("name", DOCKERFILES)
def test_final_stage_runs_as_the_non_root_user_helm_expects(name: str) -> None:
    user = last(final_stage(DOCKERFILES[name]), "USER")
    assert user is not None, "no USER in the final stage"
    uid = user.split(":")[0]
    assert uid not in ("root", "0")
    # Kubernetes' runAsNonRoot can only verify a numeric user.
    assert uid.isdigit()
    pod_security = load_yaml(REPO_ROOT / "helm" / "grump" / "values.yaml")["podSecurityContext"]
    assert int(uid) == pod_security["runAsUser"]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_tini_is_init_and_grump_the_program(name: str) -> None:
    stage = final_stage(DOCKERFILES[name])
    entrypoint = last(stage, "ENTRYPOINT")
    assert entrypoint is not None
    assert exec_form(entrypoint) == ENTRYPOINT
    installs = " ".join(args for kw, args in stage if kw == "RUN" and "install" in args)
    assert re.search(r"\btini\b", installs), "tini is not installed in the final stage"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_final_stage_has_a_healthcheck_in_exec_form(name: str) -> None:
    healthcheck = last(final_stage(DOCKERFILES[name]), "HEALTHCHECK")
    assert healthcheck is not None
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    probe = exec_form(command)
    assert probe[0] == "python"
    assert "HEALTHCHECK_URL" in probe[-1]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_final_stage_has_no_build_tools_or_caches(name: str) -> None:
    stage = final_stage(DOCKERFILES[name])
    for keyword, args in stage:
        if keyword != "RUN":
            continue
        assert "pip install" not in args, "the final stage installs Python packages itself"
        if "apt-get install" in args:
            assert "--no-install-recommends" in args
            assert "rm -rf /var/lib/apt/lists" in args, "apt lists left in the image"
            packages = set(args.split())
            assert not packages & set(BUILD_TOOLS), packages & set(BUILD_TOOLS)
    # The build stage drops pip itself, and mypy where it compiled the parser, from the
    # virtualenv that is copied over.
    build = dockerfile_stages(DOCKERFILES[name])[0]
    uninstalled = {package for kw, args in build if kw == "RUN" for package in uninstalls(args)}
    assert "pip" in uninstalled
    if any(kw == "RUN" and "GRUMP_MYPYC=1" in args for kw, args in build):
        assert {"mypy", "setuptools"} <= uninstalled
    env = " ".join(args for kw, args in build if kw == "ENV")
    assert "PIP_NO_CACHE_DIR=1" in env


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dependencies_get_their_own_layer_before_the_source(name: str) -> None:
    build = dockerfile_stages(DOCKERFILES[name])[0]

    def index(predicate: str, keyword: str) -> int:
        for i, (kw, args) in enumerate(build):
            if kw == keyword and predicate in args:
                return i
        raise AssertionError(f"no {keyword} with {predicate!r} in the build stage")

    copy_manifest = index("pyproject.toml", "COPY")
    install_deps = index("pip install -r", "RUN")
    copy_source = index("grump ./grump", "COPY")
    install_grump = index("pip install --no-deps", "RUN")
    assert copy_manifest < install_deps < copy_source < install_grump
    # Nothing but the manifest is in the build context when dependencies install.
    copies_before = [args for kw, args in build[:install_deps] if kw == "COPY"]
    assert copies_before == ["pyproject.toml ./"]


def requirements_command(path: Path) -> str:
    for keyword, args in dockerfile_stages(path)[0]:
        if keyword == "RUN" and "tomllib" in args:
            return args
    raise AssertionError("no requirements step")


@pytest.mark.parametrize(("name", "extras"), [("worker", ""), ("gpu", "gpu")])
def test_requirements_step_lists_the_project_dependencies(
    name: str, extras: str, tmp_path: Path
) -> None:
    """Runs the Dockerfile's own requirements step against pyproject.toml."""
    command = requirements_command(DOCKERFILES[name])
    output = tmp_path / "requirements.txt"
    command = command.replace("/tmp/requirements.txt", str(output))
    (tmp_path / "pyproject.toml").write_bytes((REPO_ROOT / "pyproject.toml").read_bytes())
    env = dict(os.environ, GRUMP_EXTRAS=extras)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, check=True, timeout=30)

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    expected = list(project["dependencies"])
    if extras:
        expected += project["optional-dependencies"][extras]
    assert output.read_text().splitlines() == expected


def test_gpu_image_builds_on_cuda_runtime_with_the_gpu_extra() -> None:
    stages = dockerfile_stages(DOCKERFILES["gpu"])
    args = {
        a.split("=")[0]: a.split("=", 1)[1]
        for kw, a in dockerfile_instructions(DOCKERFILES["gpu"])
        if kw == "ARG" and "=" in a
    }
    base = args["CUDA_IMAGE"]
    assert base.startswith("nvidia/cuda:") and "runtime" in base
    assert all(stage[0][1].startswith("${CUDA_IMAGE}") for stage in stages)
    assert args["GRUMP_EXTRAS"].strip('"') == "gpu"


def test_worker_image_is_slim() -> None:
    args = {
        a.split("=")[0]: a.split("=", 1)[1]
        for kw, a in dockerfile_instructions(DOCKERFILES["worker"])
        if kw == "ARG" and "=" in a
    }
    assert "slim" in args["PYTHON_IMAGE"]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_default_command_is_a_grump_command(name: str) -> None:
    cmd = last(final_stage(DOCKERFILES[name]), "CMD")
    assert cmd is not None
    assert exec_form(cmd)[0] in CLI_COMMANDS


def test_gpu_image_default_command_is_the_gpu_worker() -> None:
    cmd = last(final_stage(DOCKERFILES["gpu"]), "CMD")
    assert cmd is not None
    assert exec_form(cmd) == ["worker", "--tier", "gpu"]


# --- .dockerignore ---------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def pattern_matches(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern matches a path or any of the path's parents."""
    pattern = pattern.rstrip("/")
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    return any(
        re.fullmatch(regex, candidate) or fnmatchcase(candidate, pattern)
        for candidate in candidates
    )


def excluded_from_context(path: str) -> bool:
    excluded = False
    for pattern in dockerignore_patterns():
        negated = pattern.startswith("!")
        if pattern_matches(pattern.lstrip("!"), path):
            excluded = not negated
    return excluded


@pytest.mark.parametrize("name", DOCKERFILES)
def test_build_context_holds_what_the_dockerfile_copies(name: str) -> None:
    sources = []
    for keyword, args in dockerfile_instructions(DOCKERFILES[name]):
        if keyword == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    assert sources
    for source in sources:
        probe = source.rstrip("/") + ("/cli.py" if source.rstrip("/") == "grump" else "")
        assert not excluded_from_context(probe), f"{source} is excluded by .dockerignore"


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "deploy/grump.env",
        ".tools/bin/helm",
        ".venv/bin/python",
        ".git/config",
        "tests/ops/test_dockerfiles.py",
        "grump/__pycache__/cli.cpython-311.pyc",
    ],
)
def test_build_context_leaves_out_secrets_and_local_state(path: str) -> None:
    assert excluded_from_context(path)


def test_worker_image_checks_the_installed_parser_from_outside_the_source_tree() -> None:
    """In the build's WORKDIR the copied grump/ shadows the installed package, so a check
    run there sees parser.py; from / it sees what the image runs."""
    build = dockerfile_stages(DOCKERFILES["worker"])[0]
    step = next(args for kw, args in build if kw == "RUN" and "GRUMP_MYPYC=1" in args)
    workdir = last(build, "WORKDIR")
    assert workdir is not None
    command = step.rpartition("&& cd ")[2]
    directory, _, check = command.partition(" && ")
    assert directory.strip() == "/" != workdir
    assert "grump.intent.parser as p" in check
    assert "EXTENSION_SUFFIXES" in check and "/opt/venv/" in check
