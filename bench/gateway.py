"""grump's /v1/chat/completions against LiteLLM's proxy and the upstream alone, side by side.

  .venv/bin/python bench/gateway.py [--clients 100] [--seconds 20] [--warmup 5]
                                    [--systems upstream,litellm,grump] [--redis URL]

Starts, on this machine: the loopback upstream (bench/upstream.py, NIM's chat format,
each answer after --delay seconds on an event loop); LiteLLM's proxy, one process, with
one model pointing at it (installed on first use into build/bench/litellm-venv, never
into grump's environment); and grump as its real programs (`grump migrate`, `grump api`,
`grump worker --tier llm`) on the local Redis (its database flushed before and after)
and a throwaway Postgres database, with the NIM provider at the upstream and the
completion cache off, so that every call reaches the upstream; every other setting at
its default. Each system in turn then takes the same load (bench/closedloop.py): a closed
loop of --clients clients with distinct prompts, all asking for the economy model, for
--warmup seconds unmeasured and --seconds measured. Prints per system calls/s, p50/p99
latency, their overhead over the upstream alone, errors and timeouts, and the CPU per
call of the system's processes (children included, from /proc), then grump / LiteLLM.
The calls in flight when a window ends are abandoned: none of them could count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.closedloop import Window, chat_body, closed_loop
from bench.gateway_report import report
from bench.procs import ROOT, cpu_seconds, machine_busy_seconds, process_tree, stop
from tests.services import DATABASE_URL, REDIS_URL, create_database, drop_database, free_port

PY = sys.executable
MODEL = "moonshotai/kimi-k2.5"  # grump's economy model, served by NIM
LITELLM = "litellm[proxy]==1.108.7"  # pinned: the figures of two runs compare
LITELLM_VENV = ROOT / "build" / "bench" / "litellm-venv"
SYSTEMS = ("upstream", "litellm", "grump")


def litellm_program(venv: Path) -> Path:
    """LiteLLM's proxy command, installed into ``venv`` first if it is not there yet."""
    program = venv / "bin" / "litellm"
    if not program.exists():
        print(f"installing {LITELLM} into {venv} (once)", flush=True)
        subprocess.run([PY, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "--quiet", LITELLM]
        subprocess.run(pip, check=True)
    return program


class Gateways:
    """The upstream, LiteLLM and grump as running programs; logs in ``workdir``."""

    def __init__(self, systems: list[str], redis_url: str, delay: float, workdir: Path) -> None:
        self.systems, self.redis_url, self.delay, self.workdir = systems, redis_url, delay, workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports = {name: free_port() for name in SYSTEMS}
        self.headers: dict[str, dict[str, str]] = {"upstream": {}}
        self.litellm_key = f"sk-bench-{uuid.uuid4().hex}"
        self.db_name, self.db_url = "", ""
        self.grump_settings: dict[str, str] = {}

    def url(self, system: str) -> str:
        return f"http://127.0.0.1:{self.ports[system]}"

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with open(self.workdir / f"{name.replace(' ', '-')}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        upstream = [PY, "-m", "bench.upstream", "--port", str(self.ports["upstream"])]
        self.spawn("upstream", [*upstream, "--delay", str(self.delay)], dict(os.environ))
        if "litellm" in self.systems:
            self.start_litellm()
        if "grump" in self.systems:
            self.start_grump()
        self.wait(f"{self.url('upstream')}/stats", "upstream")
        for system in self.systems:
            if system != "upstream":
                self.warm(system)

    def start_litellm(self) -> None:
        program = litellm_program(LITELLM_VENV)
        config = self.workdir / "litellm.yaml"
        upstream = {"model": f"openai/{MODEL}", "api_base": f"{self.url('upstream')}/v1"}
        model = {"model_name": MODEL, "litellm_params": {**upstream, "api_key": "upstream-key"}}
        config.write_text(json.dumps({"model_list": [model]}))  # JSON is YAML
        keep = ("PATH", "HOME", "LANG", "TMPDIR")
        env = {k: v for k, v in os.environ.items() if k in keep}
        # No network here: LiteLLM reads the model prices it ships rather than fetching them.
        env.update(LITELLM_MASTER_KEY=self.litellm_key, LITELLM_LOCAL_MODEL_COST_MAP="True")
        port = str(self.ports["litellm"])
        self.spawn("litellm", [str(program), "--config", str(config), "--port", port], env)
        self.headers["litellm"] = {"Authorization": f"Bearer {self.litellm_key}"}

    def grump_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRUMP_")}
        env.update(
            GRUMP_BROKER_URL=self.redis_url,
            GRUMP_REDIS_URL=self.redis_url,
            GRUMP_DATABASE_URL=self.db_url,
            GRUMP_DATA_DIR=str(self.workdir / "data"),
            GRUMP_API_PORT=str(self.ports["grump"]),
            GRUMP_NIM_URL=f"{self.url('upstream')}/v1",
            GRUMP_NIM_API_KEY="upstream-key",  # a key set: NIM answers, not the offline provider
            GRUMP_CACHE_ENABLED="false",  # every call reaches the upstream
            PYTHONUNBUFFERED="1",
        )
        env.update(self.grump_settings)  # --set: a setting tried against its default
        return env

    def start_grump(self) -> None:
        redis.Redis.from_url(self.redis_url).flushdb()  # no message of an earlier run
        self.db_url, self.db_name = create_database()
        env, cli = self.grump_env(), [PY, "-m", "grump.cli"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        keys = [*cli, "keys", "create", "--tenant", "bench"]
        key = subprocess.run(keys, env=env, check=True, capture_output=True).stdout.decode()
        self.headers["grump"] = {"Authorization": f"Bearer {key.strip()}"}
        self.spawn("grump api", [*cli, "api"], env)
        self.spawn("grump worker", [*cli, "worker", "--tier", "llm"], env)

    def wait(self, url: str, system: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # still starting
            if any(p.poll() is not None for n, p in self.procs.items() if n.startswith(system)):
                break
            time.sleep(0.2)
        raise RuntimeError(f"{system} did not come up at {url}; logs in {self.workdir}")

    def warm(self, system: str, timeout: float = 120) -> None:
        """One call through to the upstream and back: every program of the system serves."""
        deadline, url = time.monotonic() + timeout, f"{self.url(system)}/v1/chat/completions"
        while time.monotonic() < deadline:
            body = chat_body(MODEL, "warm", 0, int(time.monotonic() * 1000))
            try:
                answer = httpx.post(url, json=body, headers=self.headers[system], timeout=30)
                if answer.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if any(p.poll() is not None for n, p in self.procs.items() if n.startswith(system)):
                break
            time.sleep(0.5)
        raise RuntimeError(f"{system} answered no chat call; logs in {self.workdir}")

    def backends(self) -> list[int]:
        """The Postgres server processes serving grump's database."""
        if not self.db_name:
            return []
        query = f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.db_name}'"
        psql = ["psql", DATABASE_URL.replace("+psycopg", ""), "-tAc", query]
        done = subprocess.run(psql, capture_output=True, text=True, check=False)
        return [int(pid) for pid in done.stdout.split()]

    def cpu(self) -> dict[str, float]:
        """CPU seconds of every process, labelled ``<program> <pid>``, Postgres and Redis too."""
        pids = {
            f"{name} {pid}": pid
            for name, proc in self.procs.items()
            for pid in process_tree(proc.pid)
        }
        pids.update({f"postgres {pid}": pid for pid in self.backends()})
        redis_pid = redis.Redis.from_url(self.redis_url).info("server")["process_id"]
        pids[f"redis {redis_pid}"] = int(redis_pid)
        seconds = {label: cpu_seconds(pid) for label, pid in pids.items()}
        return {"machine 0": machine_busy_seconds()} | {
            label: s for label, s in seconds.items() if s is not None
        }

    def stop(self) -> None:
        # The gateways first, all at once, the upstream last: their calls in flight end.
        gateways = [proc for name, proc in self.procs.items() if name != "upstream"]
        for proc in gateways:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*gateways, *(p for n, p in self.procs.items() if n == "upstream")]:
            stop(proc)
        if self.db_name:
            drop_database(self.db_name)
            redis.Redis.from_url(self.redis_url).flushdb()


def measure(
    gateways: Gateways, system: str, args: argparse.Namespace, cpu: Callable[[], dict[str, float]]
) -> Window:
    tag = uuid.uuid4().hex[:8]  # distinct prompts across systems and runs
    window = asyncio.run(
        closed_loop(
            f"{gateways.url(system)}/v1/chat/completions",
            gateways.headers[system],
            lambda client, number: chat_body(MODEL, f"{system} {tag}", client, number),
            clients=args.clients,
            warmup=args.warmup,
            seconds=args.seconds,
            timeout=args.timeout,
            cpu=cpu,
        )
    )
    print(
        f"{system}: {len(window.ok) / window.seconds:.1f} calls/s after {window.warmup:.1f} s of "
        f"warm-up; {window.in_flight} calls in "
        f"flight at the end, abandoned; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    return window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100, help="closed-loop clients (N)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="unmeasured load before it, at least until every client has had an answer",
    )
    parser.add_argument("--delay", type=float, default=1.0, help="the upstream's answer time")
    parser.add_argument("--timeout", type=float, default=120.0, help="a call's timeout")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--redis", default=REDIS_URL.rsplit("/", 1)[0] + "/10")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="GRUMP_NAME=VALUE",
        help="a grump setting other than its default (repeatable); the report names it",
    )
    args = parser.parse_args()
    systems = [s for s in SYSTEMS if s in args.systems.split(",")]
    workdir = Path(f"/tmp/grump-gateway-{os.getpid()}")
    gateways, began = Gateways(systems, args.redis, args.delay, workdir), time.monotonic()
    gateways.grump_settings = dict(item.split("=", 1) for item in args.set)
    try:
        gateways.start()
        print(
            f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
            f"(started in {time.monotonic() - began:.0f} s); {args.clients} clients, "
            f"{args.warmup:g} s warm-up + {args.seconds:g} s measured each; upstream answers "
            f"after {args.delay:g} s; model {MODEL}; {LITELLM}; grump's database "
            f"{gateways.db_name or '-'}, Redis {args.redis}; grump settings "
            f"{gateways.grump_settings or 'all default'}",
            flush=True,
        )
        windows = {s: measure(gateways, s, args, gateways.cpu) for s in systems}
    finally:
        gateways.stop()
    report(windows, args.clients, args.delay)
    print(f"total {time.monotonic() - began:.0f} s; logs in {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
