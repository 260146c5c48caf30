"""Loopback HTTP servers that speak the paid providers' wire formats.

Tests start them in a thread (``with FakeNim() as nim: ...``, from
``tests.fakes.nim``; ``FakeAnthropic`` from ``tests.fakes.anthropic``; steps
such as ``rate_limited`` from ``tests.fakes.server``). End-to-end tests and
benchmarks run them as programs: ``python -m tests.fakes.nim --port N``.

Nothing is imported here, so that ``python -m`` runs each module fresh.
"""
