"""Starting and stopping the real programs from a benchmark, and watching their processes."""

from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a program in its own session, quietly, from the repository root."""
    return subprocess.Popen(
        args,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM the program's whole session, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""  # the process has just exited


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants; any thread may have forked one (billiard's pool does)."""
    tasks = glob.glob(f"/proc/{pid}/task/*/children")
    children = sorted(int(child) for task in tasks for child in _read(task).split())
    return [pid, *(descendant for child in children for descendant in process_tree(child))]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds ``pid`` has used, or None once it has exited."""
    stat = _read(f"/proc/{pid}/stat").rpartition(")")[2].split()
    if not stat:
        return None
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def machine_busy_seconds() -> float:
    """CPU seconds all of this machine's cores have spent on anything but idling, since boot."""
    fields = [int(f) for f in _read("/proc/stat").split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


class ProcessTable:
    """RSS and CPU time of every process of some programs, their children included."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots, self.labels = roots, list[str]()
        self.rss: dict[str, dict[str, int]] = {}  # process -> sample label -> kB
        self.cpu: dict[str, list[float]] = {}  # process -> CPU seconds at each sample

    def sample(self, label: str) -> None:
        self.labels.append(label)
        for program, root in self.roots.items():
            for pid in process_tree(root):
                stat = _read(f"/proc/{pid}/stat").rpartition(")")[2].split()
                rss = re.search(r"VmRSS:\s+(\d+)", _read(f"/proc/{pid}/status"))
                if not stat or rss is None:
                    continue
                command = _read(f"/proc/{pid}/cmdline")
                role = "tracker" if "resource_tracker" in command else "child"
                role = "main" if pid == root else "worker" if "spawn_main" in command else role
                name = f"{program} {role} {pid}"
                self.rss.setdefault(name, {})[label] = int(rss[1])
                ticks = int(stat[11]) + int(stat[12])  # utime + stime
                self.cpu.setdefault(name, []).append(ticks / os.sysconf("SC_CLK_TCK"))

    def show(self) -> None:
        print("\nRSS MB at each sample, and CPU seconds used from the first to the last")
        print(f"{'process':<24}" + "".join(f"{label:>9}" for label in self.labels) + "    cpu s")
        for name, by_label in self.rss.items():
            cells = [
                f"{by_label[x] / 1024:9.1f}" if x in by_label else " " * 9 for x in self.labels
            ]
            used = self.cpu[name][-1] - self.cpu[name][0]
            print(f"{name:<24}" + "".join(cells) + f"{used:9.1f}")
