"""Compiles grump's intent parser with mypyc when GRUMP_MYPYC=1 (``make native``).

Everything else about the package is in pyproject.toml. The parser is plain,
fully typed Python; mypyc turns its modules into C extensions that run the same
code about a third faster. Without GRUMP_MYPYC=1 (or without a C compiler) the
package installs as plain Python and parses the same way.
"""

from __future__ import annotations

import os

from setuptools import setup

# The modules a parse runs through. The word lists and the label tables are data
# read once at import: compiling them would only lengthen the build.
NATIVE_MODULES = [
    f"grump/intent/{name}.py"
    for name in (
        "codes",
        "lexicon",
        "matcher",
        "morphology",
        "normalise",
        "parser",
        "roles",
        "scoring",
        "tokens",
    )
]


def native_extensions() -> list[object]:
    if os.environ.get("GRUMP_MYPYC") != "1":
        return []
    from mypyc.build import mypycify

    return list(mypycify(NATIVE_MODULES, opt_level="3", group_name="grump.intent.native_parser"))


setup(ext_modules=native_extensions())
