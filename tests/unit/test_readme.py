"""Every setting is documented in the README."""

from __future__ import annotations

from pathlib import Path

from grump.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [name for name in Settings.model_fields if f"GRUMP_{name.upper()}" not in README]
    assert missing == []


def test_readme_names_the_two_first_commands() -> None:
    first_screen = "\n".join(README.splitlines()[:20])
    assert "make demo" in first_screen and "make test" in first_screen
