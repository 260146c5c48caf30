"""The compiled parser (mypyc, ``make native``) is the parser its source describes.

``make test`` compiles grump/intent before the tests run, so every other intent
test exercises the compiled modules. This file checks what only they can get
wrong: that they give what the plain-Python source gives, input for input, and
that a stale build is noticed. Without a compiled parser the comparison skips,
except under CI=true, where the compiled parser is required.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from grump.intent import native, parse
from grump.intent.lexicon_features import FEATURE_PHRASES
from grump.intent.lexicon_product import CONSTRAINT_PHRASES, PROJECT_TYPE_PHRASES
from grump.intent.lexicon_tech import INTEGRATION_PHRASES
from grump.intent.tokens import NEGATOR_TOKENS, POST_NEGATORS

CORPUS = Path(__file__).resolve().parents[1] / "data" / "app-ideas.jsonl"
_PARSE_IN_PURE_PYTHON = """
import json, sys
sys.path.insert(0, sys.argv[1])
import grump.intent.parser as parser
assert parser.__file__.endswith(".py"), parser.__file__
from grump.intent import parse
texts = json.load(sys.stdin)
json.dump([parse(text).to_dict() for text in texts], sys.stdout)
"""


def _texts() -> list[str]:
    """Real descriptions, their paragraphs and lines, and seeded random mixes of
    label phrases, negators, markup and junk."""
    texts: list[str] = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            text = json.loads(line)["text"]
            texts += [text, *text.split("\n\n"), *text.splitlines()]
    phrases = [
        phrase
        for table in (
            FEATURE_PHRASES,
            INTEGRATION_PHRASES,
            CONSTRAINT_PHRASES,
            PROJECT_TYPE_PHRASES,
        )
        for spellings in table.values()
        for phrase in spellings
    ]
    pieces = [
        *phrases,
        *NEGATOR_TOKENS,
        *POST_NEGATORS,
        *["as a teacher I can", "grade homework", "customers order cakes", "track", ";", ","],
        *["an Instagram clone", "a clone of Uber", "ad-free", "WWW.X.COM", "https://a_b.io/x"],
        *["[docs](./a_b.md)", "\n- ", "\n1. ", "# Links\n", "C#", "c++", "_", "'", "é", "•", "。"],
    ]
    rng = random.Random(20261124)
    for _ in range(3_000):
        texts.append(" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 50))))
    return texts


def test_compiled_parser_gives_what_its_source_gives(tmp_path: Path) -> None:
    if not native.compiled_modules():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and the intent parser is not compiled (make native)")
        pytest.skip("the intent parser is not compiled here (make native)")
    texts = _texts()
    pure = subprocess.run(
        [sys.executable, "-c", _PARSE_IN_PURE_PYTHON, str(native.plain_copy(tmp_path))],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    expected = json.loads(pure.stdout)
    differing = [
        text for text, want in zip(texts, expected, strict=True) if parse(text).to_dict() != want
    ]
    assert not differing, f"{len(differing)} of {len(texts)} differ, e.g. {differing[0]!r}"


def test_a_source_edited_after_the_build_is_reported_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "_PACKAGE_DIR", tmp_path)
    suffix = native.EXTENSION_SUFFIXES[0]
    for name in ("matcher", "roles"):
        (tmp_path / f"{name}.py").write_text("")
        (tmp_path / f"{name}{suffix}").write_bytes(b"")
    os.utime(tmp_path / "matcher.py", (1_000, 1_000))
    os.utime(tmp_path / f"matcher{suffix}", (2_000, 2_000))
    os.utime(tmp_path / f"roles{suffix}", (1_000, 1_000))
    os.utime(tmp_path / "roles.py", (2_000, 2_000))  # edited after its build
    (tmp_path / f"native_parser__mypyc{suffix}").write_bytes(b"")  # shared code, no source

    assert native.compiled_modules() == ["matcher", "roles"]
    assert native.stale_modules() == ["roles"]


def test_plain_python_has_no_compiled_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "_PACKAGE_DIR", tmp_path)
    (tmp_path / "parser.py").write_text("")
    assert native.compiled_modules() == []
    assert native.stale_modules() == []
