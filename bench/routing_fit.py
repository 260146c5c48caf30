"""Fitting and judging grump's learned routing scorer (offline; NumPy only).

Used by ``bench/routing_eval.py``. The features are exactly the ones
``grump.routing.learned`` applies at routing time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from grump.jobs.models import CompleteInput, Message
from grump.routing.learned import (
    STRUCTURAL,
    ScorerWeights,
    hashed_indexes,
    latest_task,
    structural_features,
)

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "routing-requests.jsonl"
DIM = 4096
L2 = 1.0
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Row:
    """One labelled request."""

    id: str
    family: str
    kind: str
    hard: bool
    tier: int
    split: str
    request: CompleteInput


def load(path: Path = DATA) -> list[Row]:
    """The labelled set."""
    rows = []
    for line in path.read_text("utf-8").splitlines():
        raw: dict[str, Any] = json.loads(line)
        messages = [Message(**m) for m in raw["messages"]]
        rows.append(
            Row(
                raw["id"],
                raw["family"],
                raw["kind"],
                raw["label"] == "hard",
                int(raw["tier"]),
                raw["split"],
                CompleteInput(messages=messages, max_tokens=1024),
            )
        )
    return rows


def features(requests: list[CompleteInput], dim: int = DIM) -> Floats:
    """The dense feature matrix: hashed n-grams then structural counts."""
    x = np.zeros((len(requests), dim + len(STRUCTURAL)))
    for i, request in enumerate(requests):
        task, earlier = latest_task(request)
        for index in hashed_indexes(task, dim):
            x[i, index] = 1.0
        x[i, dim:] = structural_features(task, earlier)
    return x


def fit(x: Floats, y: NDArray[np.bool_], l2: float = L2, steps: int = 400) -> tuple[Floats, float]:
    """L2-regularised logistic regression, full-batch Adam: (weights, bias)."""
    n, d = x.shape
    w, b = np.zeros(d), 0.0
    target = y.astype(float)
    lr = 0.05
    m, v = np.zeros(d + 1), np.zeros(d + 1)
    for t in range(1, steps + 1):  # Adam on the mean log-loss plus l2/n * |w|^2 / 2
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        g = np.concatenate([x.T @ (p - target) / n + (l2 / n) * w, [np.mean(p - target)]])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        step = lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        w -= step[:d]
        b -= float(step[d])
    return w, b


def group_folds(rows: list[Row], k: int) -> list[int]:
    """A fold number per row; every request of one family lands in the same fold."""
    families = sorted({r.family for r in rows})
    fold_of = {f: i % k for i, f in enumerate(families)}
    return [fold_of[r.family] for r in rows]


def out_of_fold(rows: list[Row], k: int = 5) -> Floats:
    """Each row's log-odds from a model fitted on the other folds."""
    x = features([r.request for r in rows])
    y = np.array([r.hard for r in rows])
    folds = np.array(group_folds(rows, k))
    z = np.zeros(len(rows))
    for fold in range(k):
        test = folds == fold
        w, b = fit(x[~test], y[~test])
        z[test] = x[test] @ w + b
    return z


# The target is at most 5% of hard requests on economy. Errors come in families (a kind of
# work the set lacks is missed whole), so the cut is chosen for none on the held-back folds:
# just below the lowest out-of-fold score of a hard request ("when unsure, premium").
MAX_MISS = 0.0


def cut_for_hard_recall(z: Floats, hard: NDArray[np.bool_], max_miss: float = MAX_MISS) -> float:
    """The highest cut that leaves at most ``max_miss`` of the hard rows below it."""
    scores = np.sort(z[hard])
    allowed = math.floor(max_miss * len(scores))
    return float(scores[allowed]) - 1e-6


def weights_json(w: Floats, b: float, cut: float, dim: int = DIM) -> str:
    """The shipped weights: the bias shifted so that ``cut`` is score 60."""
    shift = math.log(0.6 / 0.4) - cut
    body = {
        "_comment": "grump's learned routing scorer; written by bench/routing_eval.py --write",
        "dim": dim,
        "bias": round(b + shift, 5),
        "structural": {n: round(float(v), 5) for n, v in zip(STRUCTURAL, w[dim:], strict=True)},
        "hashed": [round(float(v), 5) for v in w[:dim]],
    }
    return json.dumps(body, separators=(",", ":")) + "\n"


def as_weights(w: Floats, b: float, cut: float, dim: int = DIM) -> ScorerWeights:
    """The weights as routing would load them."""
    return ScorerWeights.loads(weights_json(w, b, cut, dim))


def ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    at = 0
    while at < len(order):
        end = at
        while end + 1 < len(order) and values[order[end + 1]] == values[order[at]]:
            end += 1
        for j in range(at, end + 1):
            out[order[j]] = (at + end) / 2 + 1
        at = end + 1
    return out


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks."""
    ra, rb = np.array(ranks(a)), np.array(ranks(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum()) / denominator if denominator else 0.0
