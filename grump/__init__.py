"""grump: LLM work as a distributed job queue, with its cost under control.

Importing this package has no side effects: no environment reads, no
connections, no directories made. Everything starts from ``Settings``.
"""

__version__ = "0.1.0"
