"""Batched operations on (n, d) float32 embedding matrices, over an array module ``xp``.

Every function takes the array module as ``xp`` and uses only calls that NumPy
and CuPy both provide with the same meaning, so the same code runs on the host
or on a GPU. Inputs are expected to be finite; the pipeline checks that before
anything reaches these functions.

Quantisation schemes
--------------------
int8
    Symmetric, one scale per vector: ``code = round(127 * x / max|x|)``
    (round half to even), so every code lies in [-127, 127], -128 is never
    used, and the largest entry of each vector maps to exactly +-127. The
    scale is ``max|x| / 127`` and ``x ~= code * scale`` within half a step.
    A zero vector gets all-zero codes and scale 0. (A vector whose largest
    entry is below ~1.5e-36 gets a float32-subnormal scale with fewer bits;
    unit vectors never come near that.) Because the scale is per
    vector, the cosine of two code vectors approximates the cosine of the
    floats without the scales. (Cohere's "int8" uses fixed calibration ranges
    instead; these codes are not interchangeable with theirs.)
binary
    One bit per dimension, 1 where the value is > 0 (zero and negative give
    0), packed 8 dimensions per byte with the first dimension in the most
    significant bit; the last byte is padded with 0 bits. The bytes are
    unsigned (0..255): the layout Cohere and vLLM call "ubinary". Their
    signed "binary" is the same bytes minus 128.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from grump.errors import ValidationFailed

Array = Any
"""A NumPy or CuPy ndarray; the array libraries ship no common static type."""

INT8_LIMIT = 127


def as_matrix(vectors: Array, *, xp: ModuleType, name: str = "vectors") -> Array:
    """``vectors`` as a float32 (n, d) array of ``xp``, with d >= 1 (no copy when it already is)."""
    matrix = xp.asarray(vectors, dtype=xp.float32)
    if matrix.ndim != 2 or matrix.shape[1] < 1:
        raise ValidationFailed(name, f"expected an (n, d) matrix with d >= 1, got {matrix.shape}")
    return matrix


def _row_peaks(matrix: Array, xp: ModuleType) -> Array:
    """max |x| of each row, shape (n, 1).

    Two reductions instead of ``max(abs(x))``: no (n, d) temporary. On the
    host every large temporary is a fresh allocation whose pages fault in
    again on each batch, which measured slower than all the arithmetic.
    """
    return xp.maximum(xp.max(matrix, axis=1, keepdims=True), -xp.min(matrix, axis=1, keepdims=True))


def _nonzero_or_one(values: Array, xp: ModuleType) -> Array:
    """``values`` with zeros replaced by ones, so dividing by it leaves zero rows at zero."""
    return xp.where(values > 0, values, xp.ones_like(values))


def l2_normalize(vectors: Array, *, xp: ModuleType) -> Array:
    """Each row scaled to unit L2 norm; an all-zero row stays all zero (never NaN).

    Rows are first divided by their largest absolute entry so that squaring
    neither overflows (entries above ~1.8e19) nor underflows to zero (entries
    below ~1e-19): the result is right for every finite float32 input.
    """
    matrix = as_matrix(vectors, xp=xp)
    unit = matrix / _nonzero_or_one(_row_peaks(matrix, xp), xp)
    # Entries now lie in [-1, 1] with one at +-1, so each norm is 1..sqrt(d), or 0 for a zero row.
    norms = xp.sqrt(xp.einsum("ij,ij->i", unit, unit))[:, None]
    unit /= _nonzero_or_one(norms, xp)
    return unit


def truncate_dimensions(vectors: Array, dimensions: int, *, xp: ModuleType) -> Array:
    """Matryoshka truncation: the first ``dimensions`` entries of each row, re-normalised.

    Matryoshka-trained models put the most information in the leading
    dimensions, so a prefix is a usable smaller embedding once it has unit
    norm again.
    """
    matrix = as_matrix(vectors, xp=xp)
    width = matrix.shape[1]
    if not 1 <= dimensions <= width:
        raise ValidationFailed("dimensions", f"must be between 1 and {width}, got {dimensions}")
    return l2_normalize(matrix[:, :dimensions], xp=xp)


def quantize_int8(vectors: Array, *, xp: ModuleType) -> tuple[Array, Array]:
    """Symmetric per-vector int8 codes (n, d) and float32 scales (n,); see the module doc."""
    matrix = as_matrix(vectors, xp=xp)
    peaks = _row_peaks(matrix, xp)
    # Divide by the peak before multiplying by 127: 127 / peak overflows for tiny peaks.
    steps = matrix / _nonzero_or_one(peaks, xp)
    steps *= INT8_LIMIT
    xp.rint(steps, out=steps)
    xp.clip(steps, -INT8_LIMIT, INT8_LIMIT, out=steps)
    scales = peaks[:, 0] / INT8_LIMIT
    return steps.astype(xp.int8), scales.astype(xp.float32)


def quantize_binary(vectors: Array, *, xp: ModuleType) -> Array:
    """Sign bits packed 8 per byte, (n, ceil(d / 8)) uint8, "ubinary" layout; see the module doc."""
    matrix = as_matrix(vectors, xp=xp)
    rows, width = matrix.shape
    n_bytes = (width + 7) // 8
    bits = xp.zeros((rows, n_bytes * 8), dtype=xp.uint8)  # zero padding up to whole bytes
    xp.greater(matrix, 0, out=bits[:, :width])
    packed = xp.zeros((rows, n_bytes), dtype=xp.uint8)
    # Eight strided passes, one per bit position: several times faster on the host than
    # multiplying by place values and summing over a length-8 axis.
    for position in range(8):
        packed |= bits[:, position::8] << (7 - position)
    return packed
