"""Whether the intent parser runs compiled, and whether that build is current.

``make native`` compiles the parser's modules with mypyc (see setup.py) into C
extensions beside their sources; Python then imports those instead of the
``.py`` files. A source edited after that build is not what runs until the
next build: ``stale_modules`` finds such modules, and the test suite refuses
to run on them. This module is never compiled itself.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_SHARED_LIBRARY = "native_parser__mypyc."


def _extensions() -> dict[str, Path]:
    """Module name -> its compiled file in this package."""
    # Longest first: ".so" also ends "parser.cpython-311-x86_64-linux-gnu.so".
    suffixes = sorted(EXTENSION_SUFFIXES, key=len, reverse=True)
    found: dict[str, Path] = {}
    for path in _PACKAGE_DIR.iterdir():
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        # The library of code they share (setup.py's group name) has no source of its own.
        if suffix is not None and not path.name.startswith(_SHARED_LIBRARY):
            found[path.name.removesuffix(suffix)] = path
    return found


def compiled_modules() -> list[str]:
    """The grump.intent modules that run compiled, by name; empty for plain Python."""
    return sorted(_extensions())


def stale_modules() -> list[str]:
    """Compiled modules whose source changed after they were built."""
    stale = []
    for name, extension in _extensions().items():
        source = _PACKAGE_DIR / f"{name}.py"
        if source.is_file() and source.stat().st_mtime > extension.stat().st_mtime:
            stale.append(name)
    return sorted(stale)
