"""Every curl example of README.md, and its openai / anthropic snippets, run as written against a live API.

The API is a real ``grump api`` process on a free port, with an llm worker on
the offline providers and a key from ``grump keys create``. Only the address
changes: ``localhost:8000`` becomes the test's port. ``curl`` fails on an HTTP
error status (``--fail-with-body``), so an example that gets a 4xx fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Programs, wait_ready

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"
ERROR = re.compile(r'"error":\s*\{|^event: error', re.MULTILINE)  # an error object or event
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_blocks(language: str, needle: str) -> list[str]:
    """The README's fenced blocks in ``language`` that mention ``needle``."""
    text = README.read_text()
    return [body for lang, body in FENCE.findall(text) if lang == language and needle in body]


def test_the_readme_has_curl_and_sdk_examples() -> None:
    curls = readme_blocks("sh", "curl") + readme_blocks("bash", "curl")
    assert len(curls) >= 2
    assert any("/v1/messages" in block for block in curls)
    assert any('"stream": true' in block for block in curls)
    assert readme_blocks("python", "from openai import OpenAI")
    assert readme_blocks("python", "import anthropic")


def test_every_readme_example_succeeds_against_a_live_api(programs: Programs) -> None:
    # The programs start together; the key is made while they come up.
    programs.start("api", name="api")
    programs.start("worker", "--tier", "llm", "--concurrency", "2", name="llm")
    key = programs.run("keys", "create", "--tenant", "readme").strip()
    url = programs.env["GRUMP_API_URL"]
    wait_ready(url)
    address = url.removeprefix("http://")
    env = {
        **programs.env,
        "KEY": key,
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_API_KEY": key,
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": key,
    }
    prelude = (
        'set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 60 "$@"; echo; }\n'
    )
    for block in readme_blocks("sh", "curl") + readme_blocks("bash", "curl"):
        script = prelude + block.replace("localhost:8000", address)
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=120)
        output = done.stdout.decode()
        assert done.returncode == 0, (
            f"{block}\n--- stdout\n{output}\n--- stderr\n{done.stderr.decode()}"
        )
        assert not ERROR.search(output), f"{block}\n{output}"
    for snippet in readme_blocks("python", "OpenAI()") + readme_blocks("python", "Anthropic()"):
        done = subprocess.run(
            [sys.executable, "-c", snippet], env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, f"{snippet}\n{done.stderr.decode()}\n{programs.log_text()}"
        assert done.stdout.strip(), snippet
