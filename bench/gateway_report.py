"""bench/gateway.py's table: each system's window side by side, then grump / LiteLLM."""

from __future__ import annotations

from collections import Counter

from bench.closedloop import Window, percentile


def cpu_of(window: Window, prefix: str) -> float:
    """CPU seconds over the window of every process whose label starts with ``prefix``.

    A process that exited inside the window counts what it had used at the start (none
    more can be read); one that started inside it counts all it used.
    """
    total = 0.0
    for label in set(window.cpu_before) | set(window.cpu_after):
        if label.rsplit(" ", 1)[0].startswith(prefix):
            before = window.cpu_before.get(label, 0.0)
            total += window.cpu_after.get(label, before) - before
    return total


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def figures(window: Window, system: str) -> dict[str, float]:
    latencies = [c.ended - c.started for c in window.ok]
    calls = len(window.ok) or float("nan")  # no answer: no figure per call
    outcomes = Counter(c.outcome for c in window.calls if c.outcome != "ok")
    return {
        "calls/s": len(window.ok) / window.seconds,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "errors": sum(n for o, n in outcomes.items() if o != "timeout"),
        "timeouts": outcomes["timeout"],
        "cpu": cpu_of(window, system) / calls,  # its programs: "grump api", "grump worker"
        "upstream cpu": cpu_of(window, "upstream") / calls,
        "generator cpu": window.generator_cpu / calls,
    }


def machine_share(system: str, window: Window) -> None:
    """How busy the machine's cores were over the window, and with whose work."""
    parts = {
        "the system": cpu_of(window, system),
        "the upstream": cpu_of(window, "upstream") if system != "upstream" else 0.0,
        "the load generator": window.generator_cpu,
        "grump's Postgres backends + all of Redis": cpu_of(window, "postgres")
        + cpu_of(window, "redis"),
    }
    busy = cpu_of(window, "machine")
    parts["everything else on the machine"] = busy - sum(parts.values())
    print(
        f"{system} window, cores busy {busy / window.seconds:.2f}: "
        + ", ".join(f"{name} {cpu / window.seconds:.2f}" for name, cpu in parts.items())
    )


def report(windows: dict[str, Window], clients: int, delay: float) -> None:
    rows = {system: figures(window, system) for system, window in windows.items()}
    base = rows.get("upstream")
    print(
        f"\n{'system':<10}{'calls/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'over p50':>10}"
        f"{'over p99':>10}{'errors':>8}{'timeouts':>9}{'CPU ms/call':>13}"
        f"{'upstream':>10}{'loadgen':>9}"
    )
    for system, row in rows.items():
        over = [row[q] - base[q] if base else float("nan") for q in ("p50", "p99")]
        print(
            f"{system:<10}{row['calls/s']:>9.1f}{_ms(row['p50']):>9}{_ms(row['p99']):>9}"
            f"{_ms(over[0]):>10}{_ms(over[1]):>10}{row['errors']:>8.0f}{row['timeouts']:>9.0f}"
            f"{_ms(row['cpu']):>13}{_ms(row['upstream cpu']):>10}{_ms(row['generator cpu']):>9}"
        )
    print(
        "CPU ms/call: the system's processes and their children; upstream: the upstream's own;"
        " loadgen: this process's, over the same window"
    )
    for system, window in windows.items():
        problems = Counter(c.outcome for c in window.calls if c.outcome != "ok")
        if problems:
            print(f"{system} failures: {dict(problems)}")
    if "grump" in windows:
        grump, calls = windows["grump"], len(windows["grump"].ok) or float("nan")
        parts = {name: cpu_of(grump, name) / calls for name in ("grump api", "grump worker")}
        print(
            "grump CPU ms/call by program: "
            + ", ".join(f"{name} {_ms(ms)}" for name, ms in parts.items())
            + f"; its Postgres backends {_ms(cpu_of(grump, 'postgres') / calls)}"
            + f"; redis-server (shared with others) {_ms(cpu_of(grump, 'redis') / calls)}"
        )
    for system, window in windows.items():
        machine_share(system, window)
    if "grump" in rows and "litellm" in rows:
        g, lite = rows["grump"], rows["litellm"]
        ratios = {q: g[q] / lite[q] if lite[q] else float("nan") for q in ("calls/s", "p50", "p99")}
        if base:
            for q in ("p50", "p99"):
                over = lite[q] - base[q]
                ratios[f"overhead {q}"] = (g[q] - base[q]) / over if over else float("nan")
        ratios["CPU/call"] = g["cpu"] / lite["cpu"] if lite["cpu"] else float("nan")
        print("grump / LiteLLM: " + ", ".join(f"{q} {r:.2f}x" for q, r in ratios.items()))
    print(f"the ceiling: {clients} clients / {delay:g} s = {clients / delay:.0f} calls/s")
