"""The intent parser: free text asking for software -> a structured ``Intent``.

Pure functions, no I/O: ``parse`` is what the CPU tier's ``parse`` job runs.
The labels it reports are the canonical strings listed here.

How a parse runs, module by module:

- ``normalise``: drop reference sections, URLs and apostrophes, lower-case, and
  split into tokens (``str.split`` for plain ASCII text, else one regex);
- ``tokens``: per distinct token string (remembered), its folded forms
  (``morphology``), word classes (``vocabulary``), the phrases it can start, and
  two code bytes that ``codes`` turns into answers about all tokens at once;
- ``matcher``: one pass of longest-phrase matching over the index that
  ``lexicon`` compiles from ``lexicon_features``/``lexicon_product``/``lexicon_tech``,
  with negation ("no login", "login not needed"), visiting only the tokens where
  a phrase may start or a negation scope may change;
- ``roles``: actors and entities from word positions;
- ``scoring``: project type vote, complexity (monotone) and confidence.
"""

from grump.intent.labels import CONSTRAINTS, FEATURES, INTEGRATIONS, PROJECT_TYPES, STACK, UNKNOWN
from grump.intent.model import Intent
from grump.intent.parser import parse, parse_many, warm_up

__all__ = [
    "CONSTRAINTS",
    "FEATURES",
    "INTEGRATIONS",
    "PROJECT_TYPES",
    "STACK",
    "UNKNOWN",
    "Intent",
    "parse",
    "parse_many",
    "warm_up",
]
