"""Intent parser benchmark. Prints figures; asserts nothing.

  .venv/bin/python bench/intent.py [--rounds 2000] [--repeats 5] [--plain]

It measures the parser as installed here: compiled by mypyc after ``make native``
(``make test`` and ``make demo`` build it), plain Python otherwise; the first line
says which. ``--plain`` also loads a plain-Python copy of the same sources and
parses each paragraph with both, one right after the other, and prints the ratio.

1. per intent, single thread, on typical 200-400 character paragraphs (taken from the
   corpus of real app descriptions, plus hand-written requests): p50 / p99 in us,
   and the ratio to the 8 ms reference;
2. the whole corpus: intents/s on one core and us per KB;
3. growth with input size (10 KB .. 1 MB): seconds and us per KB, which stay flat
   when parsing is linear;
4. the machine: ns per empty Python loop step, to compare runs across machines.

Shared or noisy machines: each figure is the median of ``--repeats`` independent
rounds (the spread over the rounds is printed next to it), so one disturbed round
does not move it. Every round parses the same paragraphs on one thread.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grump.intent import parse, parse_many
from grump.intent.native import compiled_modules, plain_copy

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "app-ideas.jsonl"
REFERENCE_US = 8_000.0  # the 8 ms reference per intent
TARGETS = {"p50_us": 50.0, "p99_us": 200.0, "one_mb_s": 0.5}

HAND_WRITTEN = [
    "Build a todo app where teams share lists, with Google login and Stripe billing, in "
    "Next.js and Postgres. Lists can be tagged and searched, and everyone gets a reminder "
    "before a task is due. It should work offline on phones.",
    "I want a marketplace web app where buyers and sellers can message each other in real "
    "time. Sellers list products with photos, buyers pay with Stripe and leave reviews. "
    "Admins need an admin panel with analytics. It must be GDPR compliant.",
    "A telehealth platform with video calls between doctors and patients, appointment "
    "scheduling synced to Google Calendar, end-to-end encrypted chat and 99.9% uptime. "
    "Patients upload documents; doctors write prescriptions.",
    "Command-line tool in Rust that watches a folder, compresses new images, uploads them "
    "to an S3 bucket and posts a message to Slack when it is done. No login needed; it "
    "must be fast and use little memory.",
]


def corpus_texts() -> list[str]:
    if not CORPUS.is_file():
        return []
    with CORPUS.open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines if line.strip()]


def typical_paragraphs(texts: list[str]) -> list[str]:
    """Paragraphs of 200-400 characters from the corpus, plus the hand-written ones."""
    paragraphs = [p.strip() for text in texts for p in re.split(r"\n\s*\n", text)]
    return [p for p in paragraphs if 200 <= len(p) <= 400] + HAND_WRITTEN


def loop_step_ns() -> float:
    start = time.perf_counter_ns()
    for _ in range(1_000_000):
        pass
    return (time.perf_counter_ns() - start) / 1_000_000


Round = tuple[list[float], float]  # microseconds per parse; mean CPU microseconds


def per_intent(paragraphs: list[str], rounds: int) -> Round:
    """Microseconds per parse, each paragraph parsed ``rounds`` times, interleaved; and
    the mean CPU time per parse, which time spent waiting for a busy CPU does not inflate."""
    samples: list[float] = []
    clock = time.perf_counter_ns
    cpu_start = time.process_time()
    for _ in range(rounds):
        for paragraph in paragraphs:
            start = clock()
            parse(paragraph)
            samples.append((clock() - start) / 1000)
    return samples, (time.process_time() - cpu_start) * 1e6 / len(samples)


def per_intent_paired(
    paragraphs: list[str], rounds: int, other: Callable[[str], object]
) -> tuple[list[float], list[float]]:
    """Microseconds per parse of ``parse`` and of ``other``, each paragraph parsed by
    one right after the other (which goes first alternates by round). On a machine
    whose speed drifts, both see the same drift, so their ratio stays meaningful."""
    mine: list[float] = []
    theirs: list[float] = []
    clock = time.perf_counter_ns
    for round_number in range(rounds):
        first, second = (parse, other) if round_number % 2 == 0 else (other, parse)
        for paragraph in paragraphs:
            start = clock()
            first(paragraph)
            middle = clock()
            second(paragraph)
            end = clock()
            a, b = (middle - start) / 1000, (end - middle) / 1000
            mine.append(a if first is parse else b)
            theirs.append(b if first is parse else a)
    return mine, theirs


def plain_python_parse(root: Path) -> Callable[[str], object]:
    """``parse`` of a plain-Python copy of grump/intent's sources, loaded beside the
    installed (maybe compiled) one: the copy is imported under the same names while
    the installed modules are set aside, then they are put back. Each ``parse`` keeps
    its own modules' globals, so both work side by side."""
    plain_copy(root)
    installed = {name: module for name, module in sys.modules.items() if _is_grump(name)}
    for name in installed:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        plain = importlib.import_module("grump.intent")
        assert str(plain.parser.__file__).endswith(".py"), plain.parser.__file__
        plain_parse: Callable[[str], object] = plain.parse
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if _is_grump(name)]:
            del sys.modules[name]
        sys.modules.update(installed)
    return plain_parse


def _is_grump(module_name: str) -> bool:
    return module_name == "grump" or module_name.startswith("grump.")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def spread(values: list[float], digits: int = 1) -> str:
    """'median (min..max)' of per-round figures."""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}..{max(values):.{digits}f})"
    )


def whole_corpus(texts: list[str], repeats: int) -> tuple[float, float]:
    """(intents per second, us per KB) over the whole corpus on one core."""
    start = time.perf_counter()
    for _ in range(repeats):
        parse_many(texts)
    elapsed = time.perf_counter() - start
    kilobytes = repeats * sum(len(text.encode()) for text in texts) / 1024
    return repeats * len(texts) / elapsed, elapsed * 1e6 / kilobytes


def growth(seed: str) -> list[tuple[int, float]]:
    """Seconds to parse inputs of growing size built from ``seed``."""
    results = []
    for size in (10_000, 100_000, 1_000_000):
        text = (seed * (size // len(seed) + 1))[:size]
        start = time.perf_counter()
        parse(text)
        results.append((size, time.perf_counter() - start))
    return results


def report_per_intent(paragraphs: list[str], rounds: list[Round]) -> None:
    runs = [samples for samples, _ in rounds]
    p50s = [percentile(samples, 0.50) for samples in runs]
    p99s = [percentile(samples, 0.99) for samples in runs]
    mean_len = statistics.mean(len(p) for p in paragraphs)
    print(
        f"\n1. per intent, {len(paragraphs)} paragraphs of 200-400 chars (mean {mean_len:.0f}), "
        f"{len(runs)} rounds of {len(runs[0])} parses; median over rounds (min..max):"
    )
    print(f"   p50 {spread(p50s)} us (target <= {TARGETS['p50_us']:.0f})")
    print(f"   p99 {spread(p99s)} us (target <= {TARGETS['p99_us']:.0f})")
    print(f"   mean {spread([statistics.mean(samples) for samples in runs])} us")
    print(f"   mean CPU time {spread([cpu for _, cpu in rounds])} us")
    p50, p99 = statistics.median(p50s), statistics.median(p99s)
    print(f"   vs the 8 ms reference: {REFERENCE_US / p50:.0f}x faster at p50")
    print(f"   p99: {REFERENCE_US / p99:.0f}x faster at p99")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="parses of each paragraph")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; figures are medians")
    parser.add_argument("--plain", action="store_true", help="also time plain Python")
    args = parser.parse_args()
    repeats = max(1, args.repeats)

    start = time.perf_counter()
    parse("warm up")
    first_ms = (time.perf_counter() - start) * 1000
    texts = corpus_texts()
    paragraphs = typical_paragraphs(texts)
    parse_many(paragraphs)  # warm the token memory, as a long-running worker has it
    rounds = max(1, args.rounds * 4 // len(paragraphs) // repeats)

    loop_ns = [loop_step_ns() for _ in range(repeats)]
    print(f"machine: {spread(loop_ns)} ns per empty loop step; python {sys.version.split()[0]}")
    compiled = compiled_modules()
    print(
        f"parser: compiled by mypyc ({len(compiled)} modules)"
        if compiled
        else "parser: plain Python (make native compiles it)"
    )
    print(f"first parse (builds the phrase index): {first_ms:.1f} ms")
    if not texts:
        print(f"corpus not found at {CORPUS}: paragraph figures use hand-written text only")

    report_per_intent(paragraphs, [per_intent(paragraphs, rounds) for _ in range(repeats)])
    if args.plain:
        compare_plain(paragraphs, rounds, repeats)
    corpus_and_growth(texts, repeats)


def compare_plain(paragraphs: list[str], rounds: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        plain_parse = plain_python_parse(Path(temporary))
        for paragraph in paragraphs:
            plain_parse(paragraph)
        pairs = [per_intent_paired(paragraphs, rounds, plain_parse) for _ in range(repeats)]
    print("\n   the same paragraphs, each parsed as installed then by plain Python (or the")
    print("   other way round), median over rounds (min..max):")
    for label, runs in (
        ("as installed", [m for m, _ in pairs]),
        ("plain Python", [p for _, p in pairs]),
    ):
        p50s = [percentile(samples, 0.50) for samples in runs]
        p99s = [percentile(samples, 0.99) for samples in runs]
        print(f"   {label}: p50 {spread(p50s)} us, p99 {spread(p99s)} us")
    ratios = [percentile(plain, 0.5) / percentile(mine, 0.5) for mine, plain in pairs]
    print(f"   plain Python / as installed at p50: {spread(ratios, 2)}")


def corpus_and_growth(texts: list[str], repeats: int) -> None:
    if texts:
        parse_many(texts)
        corpus = [whole_corpus(texts, repeats=20) for _ in range(repeats)]
        print(f"\n2. whole corpus ({len(texts)} descriptions), one core:")
        print(
            f"   {spread([rate for rate, _ in corpus], 0)} intents/s, "
            f"{spread([us_per_kb for _, us_per_kb in corpus], 0)} us per KB"
        )

    seed = " ".join(texts) if texts else " ".join(HAND_WRITTEN)
    sizes = [growth(seed) for _ in range(repeats)]
    print("\n3. growth with input size:")
    for n, size in enumerate(size for size, _ in sizes[0]):
        seconds = [run[n][1] for run in sizes]
        per_kb = [s * 1e6 / (size / 1024) for s in seconds]
        print(f"   {size / 1000:>6.0f} KB: {spread(seconds, 3)} s, {spread(per_kb, 0)} us/KB")
    one_mb = statistics.median(run[-1][1] for run in sizes)
    verdict = "within" if one_mb < TARGETS["one_mb_s"] else "OVER"
    print(f"   1 MB in {one_mb:.3f} s ({verdict} the {TARGETS['one_mb_s']} s target)")


if __name__ == "__main__":
    main()
