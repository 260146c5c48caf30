"""deploy/grump.env.example documents every setting with its real default."""

from __future__ import annotations

import re

import pytest

from grump.settings import Settings

from .support import REPO_ROOT, settings_env_names

EXAMPLE = REPO_ROOT / "deploy" / "grump.env.example"
LINE = re.compile(r"^#?\s*(GRUMP_[A-Z0-9_]+)=(.*)$")


def documented() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in EXAMPLE.read_text().splitlines():
        match = LINE.match(line.strip())
        if match:
            assert match.group(1) not in entries, f"{match.group(1)} listed twice"
            entries[match.group(1)] = match.group(2).strip()
    return entries


def field_of(env_name: str) -> str:
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return env_name.removeprefix(prefix).lower()


def test_example_lists_exactly_grumps_settings() -> None:
    names = set(documented())
    known = settings_env_names()
    assert names <= known, f"not settings: {sorted(names - known)}"
    assert known <= names, f"undocumented settings: {sorted(known - names)}"


def test_every_line_is_commented_so_copying_the_file_changes_nothing() -> None:
    for line in EXAMPLE.read_text().splitlines():
        assert not line.startswith("GRUMP_"), line


@pytest.mark.parametrize("env_name", sorted(documented()))
def test_documented_value_is_the_default(env_name: str) -> None:
    value = documented()[env_name]
    field = field_of(env_name)
    default = Settings.model_fields[field].default
    if value == "":
        assert default is None, f"{env_name}: documented as unset, default is {default!r}"
        return
    # model_validate parses like the environment would, without reading it.
    parsed = getattr(Settings.model_validate({field: value}), field)
    assert parsed == default, f"{env_name}: documented {value!r}, default is {default!r}"
