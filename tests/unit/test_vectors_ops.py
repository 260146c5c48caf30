"""Vector operations against plain references written differently (loops, float64, linalg)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from grump.errors import ValidationFailed
from grump.vectors import l2_normalize, quantize_binary, quantize_int8, truncate_dimensions

xp = np  # the NumPy array module; CuPy runs the same calls on a GPU

Matrix = npt.NDArray[np.float32]

shapes = st.tuples(st.integers(1, 6), st.integers(1, 40))
# Every finite float32, subnormals and extremes included: normalisation must hold on all of them.
any_finite = st.floats(width=32, allow_nan=False, allow_infinity=False)
moderate = st.floats(-1e6, 1e6, width=32, allow_subnormal=False)


def matrices(elements: st.SearchStrategy[float] = any_finite) -> st.SearchStrategy[Matrix]:
    return arrays(np.float32, shapes, elements=elements)


@st.composite
def with_zero_rows(draw: st.DrawFn, elements: st.SearchStrategy[float] = moderate) -> Matrix:
    """A matrix in which some rows (drawn) are all zero."""
    matrix = draw(matrices(elements))
    zero_rows = draw(st.lists(st.integers(0, matrix.shape[0] - 1), max_size=matrix.shape[0]))
    matrix[zero_rows] = 0.0
    return matrix


def reference_unit_rows(matrix: Matrix) -> npt.NDArray[np.float64]:
    """Unit rows computed in float64 with np.linalg.norm; zero rows stay zero."""
    wide = matrix.astype(np.float64)
    norms = np.linalg.norm(wide, axis=1, keepdims=True)
    unit: npt.NDArray[np.float64] = np.divide(wide, norms, out=np.zeros_like(wide), where=norms > 0)
    return unit


@settings(deadline=None)
@given(matrices())
def test_l2_normalize_matches_float64_reference(matrix: Matrix) -> None:
    unit = l2_normalize(matrix, xp=xp)
    assert unit.dtype == np.float32
    assert unit.shape == matrix.shape
    np.testing.assert_allclose(unit, reference_unit_rows(matrix), rtol=1e-5, atol=1e-6)


@settings(deadline=None)
@given(with_zero_rows(any_finite))
def test_l2_normalize_keeps_zero_rows_zero_and_never_makes_nan(matrix: Matrix) -> None:
    unit = l2_normalize(matrix, xp=xp)
    assert np.isfinite(unit).all()
    zero = ~matrix.any(axis=1)
    assert (unit[zero] == 0).all()
    norms = np.sqrt((unit[~zero].astype(np.float64) ** 2).sum(axis=1))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_l2_normalize_leaves_its_input_untouched() -> None:
    matrix = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    before = matrix.copy()
    np.testing.assert_array_equal(
        l2_normalize(matrix, xp=xp), np.array([[0.6, 0.8], [0.0, 0.0]], np.float32)
    )
    np.testing.assert_array_equal(matrix, before)


@settings(deadline=None)
@given(with_zero_rows(), st.data())
def test_truncation_matches_loop_reference(matrix: Matrix, data: st.DataObject) -> None:
    dimensions = data.draw(st.integers(1, matrix.shape[1]))
    truncated = truncate_dimensions(matrix, dimensions, xp=xp)
    assert truncated.shape == (matrix.shape[0], dimensions)
    for row, got in zip(matrix.tolist(), truncated.tolist(), strict=True):
        prefix = row[:dimensions]
        norm = math.sqrt(math.fsum(value * value for value in prefix))
        expected = [value / norm if norm else 0.0 for value in prefix]
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("dimensions", [0, -1, 5])
def test_truncation_refuses_dimensions_outside_the_vector(dimensions: int) -> None:
    with pytest.raises(ValidationFailed, match="dimensions"):
        truncate_dimensions(np.ones((2, 4), np.float32), dimensions, xp=xp)


@pytest.mark.parametrize("shape", [(4,), (2, 0), (1, 2, 3)])
def test_operations_refuse_anything_but_a_matrix(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValidationFailed, match="matrix"):
        l2_normalize(np.zeros(shape, np.float32), xp=xp)


def reference_int8_row(row: list[float]) -> tuple[list[float], float]:
    """Unrounded codes 127 * x / max|x| (float64) and the scale max|x| / 127."""
    peak = max(abs(value) for value in row)
    if peak == 0:
        return [0.0] * len(row), 0.0
    return [value / peak * 127 for value in row], peak / 127


@settings(deadline=None)
@given(with_zero_rows())
def test_int8_codes_match_rounded_reference(matrix: Matrix) -> None:
    codes, scales = quantize_int8(matrix, xp=xp)
    assert codes.dtype == np.int8
    assert scales.dtype == np.float32
    assert codes.shape == matrix.shape
    assert scales.shape == (matrix.shape[0],)
    for row, got_codes, got_scale in zip(
        matrix.tolist(), codes.tolist(), scales.tolist(), strict=True
    ):
        unrounded, scale = reference_int8_row(row)
        assert got_scale == pytest.approx(scale, rel=1e-6)
        for exact, got in zip(unrounded, got_codes, strict=True):
            assert -127 <= got <= 127
            if abs(abs(exact) % 1 - 0.5) > 1e-3:
                assert got == round(exact)
            else:  # float32 rounding may land a near-half step on either side
                assert abs(got - exact) <= 0.5 + 1e-3


@settings(deadline=None)
@given(with_zero_rows())
def test_int8_dequantises_within_half_a_step(matrix: Matrix) -> None:
    codes, scales = quantize_int8(matrix, xp=xp)
    restored = codes.astype(np.float64) * scales.astype(np.float64)[:, None]
    peaks = np.abs(matrix.astype(np.float64)).max(axis=1, keepdims=True)
    bound = scales.astype(np.float64)[:, None] / 2 + peaks * 1e-5
    assert (np.abs(restored - matrix) <= bound).all()


def test_int8_maps_each_rows_peak_to_127_and_zero_rows_to_zero() -> None:
    matrix = np.array([[0.5, -2.0, 1.0], [0.0, 0.0, 0.0], [3.0, 0.0, -1.5]], np.float32)
    codes, scales = quantize_int8(matrix, xp=xp)
    assert codes.tolist() == [[32, -127, 64], [0, 0, 0], [127, 0, -64]]
    np.testing.assert_allclose(scales, [2.0 / 127, 0.0, 3.0 / 127], rtol=1e-7)


def reference_sign_bytes(row: list[float]) -> list[int]:
    """Bit 7 - (i % 8) of byte i // 8 is set when value i is > 0."""
    packed = [0] * ((len(row) + 7) // 8)
    for index, value in enumerate(row):
        if value > 0:
            packed[index // 8] |= 1 << (7 - index % 8)
    return packed


@settings(deadline=None)
@given(with_zero_rows(any_finite))
def test_binary_matches_bitwise_loop_reference(matrix: Matrix) -> None:
    packed = quantize_binary(matrix, xp=xp)
    assert packed.dtype == np.uint8
    assert packed.shape == (matrix.shape[0], (matrix.shape[1] + 7) // 8)
    assert packed.tolist() == [reference_sign_bytes(row) for row in matrix.tolist()]


def test_binary_packs_first_dimension_into_the_high_bit() -> None:
    matrix = np.array([[1.0, -1.0, 0.0, 2.0, -0.0, 3.0, -2.0, 0.5, 7.0]], np.float32)
    assert quantize_binary(matrix, xp=xp).tolist() == [[0b10010101, 0b10000000]]
