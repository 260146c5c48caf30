"""Whether the intent parser runs compiled, and whether that build is current.

``make native`` compiles the parser's modules with mypyc (see setup.py) into C
extensions beside their sources; Python then imports those instead of the
``.py`` files. A source edited after that build is not what runs until the
next build: ``stale_modules`` finds such modules, and the test suite refuses
to run on them. ``plain_copy`` writes the sources alone elsewhere, for the
test and the benchmark that compare the compiled parser with plain Python.
This module is never compiled itself.
"""

from __future__ import annotations

import shutil
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _extensions() -> dict[str, tuple[Path, Path]]:
    """Module name -> (its compiled file, its source) in this package.

    Only modules with a source count: the library of code they share (setup.py's
    group) has none of its own.
    """
    # Longest first: ".so" also ends "parser.cpython-311-x86_64-linux-gnu.so".
    suffixes = sorted(EXTENSION_SUFFIXES, key=len, reverse=True)
    found: dict[str, tuple[Path, Path]] = {}
    for path in _PACKAGE_DIR.iterdir():
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is None:
            continue
        name = path.name.removesuffix(suffix)
        source = _PACKAGE_DIR / f"{name}.py"
        if source.is_file():
            found[name] = (path, source)
    return found


def compiled_modules() -> list[str]:
    """The grump.intent modules that run compiled, by name; empty for plain Python."""
    return sorted(_extensions())


def stale_modules() -> list[str]:
    """Compiled modules whose source changed after they were built."""
    return sorted(
        name
        for name, (extension, source) in _extensions().items()
        if source.stat().st_mtime > extension.stat().st_mtime
    )


def plain_copy(root: Path) -> Path:
    """Copy grump/__init__.py and grump/intent's sources (no compiled module) under
    ``root``; with ``root`` first on ``sys.path``, ``grump.intent`` is plain Python."""
    (root / "grump" / "intent").mkdir(parents=True)
    shutil.copy(_PACKAGE_DIR.parent / "__init__.py", root / "grump")
    for source in _PACKAGE_DIR.glob("*.py"):
        shutil.copy(source, root / "grump" / "intent")
    return root
