"""docker-compose.yml as the smoke run reads it, and its agreement with the images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .common import SmokeFailed, check, say
from .containers import Image, Program

ROOT = Path(__file__).resolve().parents[2]
# Names a grump container may carry that are not grump settings.
NON_SETTING_ENV = {"HEALTHCHECK_URL"}
IMAGE_FOR_BUILD = {"Dockerfile.worker": "grump", "Dockerfile.gpu": "grump-gpu"}

VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any, variables: dict[str, str]) -> Any:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, with ``variables`` set."""
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if variables.get(name):
            return variables[name]
        if "?" in op:
            raise SmokeFailed(f"compose needs {name}: {arg}")
        return arg if "-" in op else ""

    return VARIABLE.sub(one, value)


def load_compose(variables: dict[str, str]) -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {name: interpolate(service, variables) for name, service in compose["services"].items()}


def grump_services(services: dict[str, Any]) -> dict[str, Any]:
    return {
        name: service
        for name, service in services.items()
        if str(service.get("build", {}).get("dockerfile", "")) in IMAGE_FOR_BUILD
    }


def check_compose_agrees(
    services: dict[str, Any], images: dict[str, Image], known: set[str]
) -> None:
    """Each grump service: the image its build makes, a command, settings and ports the image has."""
    for name, service in grump_services(services).items():
        dockerfile = service["build"]["dockerfile"]
        image = str(service["image"]).split(":")[0]
        check(
            image == IMAGE_FOR_BUILD[dockerfile], f"{name}: image {image} built from {dockerfile}"
        )
        check("entrypoint" not in service, f"{name}: overrides the image's entrypoint")
        check(isinstance(service.get("command"), list), f"{name}: command not in exec form")
        unknown = set(service.get("environment", {})) - known - NON_SETTING_ENV
        check(not unknown, f"{name}: not settings of the image's grump: {sorted(unknown)}")
        exposed = set(images[image].config.get("ExposedPorts", {}))
        for port in service.get("ports", []):
            target = str(port).rsplit(":", 1)[-1]
            check(
                f"{target}/tcp" in exposed, f"{name}: publishes {target}, image exposes {exposed}"
            )
        disabled = bool(service.get("healthcheck", {}).get("disable"))
        check(disabled == (name == "migrate"), f"{name}: healthcheck disabled={disabled}")
        for volume in service.get("volumes", []):
            check(str(volume).split(":")[1].startswith("/var/lib/grump"), f"{name}: {volume}")
    say(f"docker-compose.yml: {len(grump_services(services))} grump services agree with the images")


def settings_names(program: Program) -> set[str]:
    code = (
        "from grump.settings import Settings; "
        "p = Settings.model_config.get('env_prefix', ''); "
        "print('\\n'.join(f'{p}{f}'.upper() for f in Settings.model_fields))"
    )
    return set(program.run("python", "-c", code).split())
