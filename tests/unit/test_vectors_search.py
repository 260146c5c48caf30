"""Cosine top-k against a float64 loop reference, and its tie order on exact ties."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from grump.errors import ValidationFailed
from grump.vectors import cosine_top_k

xp = np

Matrix = npt.NDArray[np.float32]
elements = st.floats(-100, 100, width=32, allow_subnormal=False)


def reference_cosine(query: list[float], stored: list[float]) -> float:
    norms = math.sqrt(sum(v * v for v in query)) * math.sqrt(sum(v * v for v in stored))
    return sum(a * b for a, b in zip(query, stored, strict=True)) / norms if norms else 0.0


def reference_ranking(query: list[float], stored: list[list[float]]) -> list[tuple[float, int]]:
    """Every (score, index), best first, ties by lower index."""
    scored = [(reference_cosine(query, row), index) for index, row in enumerate(stored)]
    return sorted(scored, key=lambda pair: (-pair[0], pair[1]))


@st.composite
def search_cases(draw: st.DrawFn) -> tuple[Matrix, Matrix, int]:
    width = draw(st.integers(1, 12))
    queries = draw(arrays(np.float32, (draw(st.integers(1, 4)), width), elements=elements))
    stored = draw(arrays(np.float32, (draw(st.integers(1, 30)), width), elements=elements))
    return queries, stored, draw(st.integers(1, 35))


@settings(deadline=None)
@given(search_cases())
def test_top_k_matches_float64_reference(case: tuple[Matrix, Matrix, int]) -> None:
    queries, stored, k = case
    indices, scores = cosine_top_k(queries, stored, k, xp=xp)
    expected_width = min(k, stored.shape[0])
    assert indices.shape == scores.shape == (queries.shape[0], expected_width)
    stored_rows = stored.tolist()
    for query, got_indices, got_scores in zip(
        queries.tolist(), indices.tolist(), scores.tolist(), strict=True
    ):
        ranking = reference_ranking(query, stored_rows)
        assert len(set(got_indices)) == expected_width
        for rank, (index, score) in enumerate(zip(got_indices, got_scores, strict=True)):
            # Each score is the true cosine of the row it names ...
            assert score == pytest.approx(reference_cosine(query, stored_rows[index]), abs=1e-5)
            # ... and as good as the reference's row at the same rank (float32-close ties may swap).
            assert score == pytest.approx(ranking[rank][0], abs=1e-5)


@settings(deadline=None)
@given(search_cases())
def test_top_k_is_ordered_by_score_then_lower_index(case: tuple[Matrix, Matrix, int]) -> None:
    queries, stored, k = case
    indices, scores = cosine_top_k(queries, stored, k, xp=xp)
    for row_indices, row_scores in zip(indices.tolist(), scores.tolist(), strict=True):
        pairs = list(zip(row_scores, row_indices, strict=True))
        assert pairs == sorted(pairs, key=lambda pair: (-pair[0], pair[1]))


@st.composite
def exact_tie_cases(draw: st.DrawFn) -> tuple[Matrix, Matrix, int]:
    """Signed, scaled basis vectors and zeros: every cosine is exactly -1, 0 or 1."""
    width = draw(st.integers(1, 4))

    def basis_rows(count: int) -> Matrix:
        rows = np.zeros((count, width), np.float32)
        for row in rows:
            axis = draw(st.integers(-1, width - 1))
            if axis >= 0:
                row[axis] = draw(st.sampled_from([-3.0, -1.0, 0.5, 1.0, 2.0]))
        return rows

    queries = basis_rows(draw(st.integers(1, 3)))
    stored = basis_rows(draw(st.integers(1, 20)))
    return queries, stored, draw(st.integers(1, 20))


@settings(deadline=None)
@given(exact_tie_cases())
def test_exact_ties_come_back_in_index_order(case: tuple[Matrix, Matrix, int]) -> None:
    queries, stored, k = case
    indices, scores = cosine_top_k(queries, stored, k, xp=xp)
    for query, got_indices, got_scores in zip(
        queries.tolist(), indices.tolist(), scores.tolist(), strict=True
    ):
        expected = reference_ranking(query, stored.tolist())[:k]
        assert got_indices == [index for _, index in expected]
        assert got_scores == [score for score, _ in expected]


def test_duplicate_rows_rank_lower_index_first() -> None:
    stored = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 2.0], [2.0, 2.0], [1.0, 0.0]], np.float32)
    indices, _ = cosine_top_k(np.array([[1.0, 1.0]], np.float32), stored, 5, xp=xp)
    assert indices.tolist() == [[1, 3, 0, 2, 4]]


def test_k_beyond_the_stored_rows_returns_them_all() -> None:
    stored = np.eye(3, dtype=np.float32)
    indices, scores = cosine_top_k(stored[:1], stored, 10, xp=xp)
    assert indices.tolist() == [[0, 1, 2]]
    assert scores.tolist() == [[1.0, 0.0, 0.0]]


def test_k_below_one_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="k"):
        cosine_top_k(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), 0, xp=xp)


def test_queries_and_stored_vectors_must_share_dimensions() -> None:
    with pytest.raises(ValidationFailed, match="dimensions"):
        cosine_top_k(np.ones((1, 3), np.float32), np.ones((4, 2), np.float32), 1, xp=xp)
