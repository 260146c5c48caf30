"""postprocess: the embed worker's batch pipeline, its JSON output and its device transfers."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from grump.errors import ProviderError, ValidationFailed
from grump.vectors import ENCODINGS, Encoding, postprocess

Matrix = npt.NDArray[np.float32]


class OnDevice(np.ndarray):
    """Marks arrays living on the pretend device; NumPy ufuncs keep the subclass."""


class PretendDevice(ModuleType):
    """NumPy posing as a GPU array module that counts copies between host and device.

    ``asarray`` of a host array is an upload, ``asnumpy`` a download; everything
    else is NumPy's own function, so results stay exact.
    """

    def __init__(self) -> None:
        super().__init__("pretend_device")
        self.uploads = 0
        self.downloads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    def asarray(self, data: Any, dtype: Any = None) -> OnDevice:
        if not isinstance(data, OnDevice):
            self.uploads += 1
        return np.asarray(data, dtype=dtype).view(OnDevice)

    def asnumpy(self, array: OnDevice) -> npt.NDArray[Any]:
        self.downloads += 1
        return np.array(array).view(np.ndarray)


@st.composite
def batches(draw: st.DrawFn) -> tuple[Matrix, int | None]:
    elements = st.floats(-10, 10, width=32, allow_subnormal=False)
    batch = draw(
        arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 24)), elements=elements)
    )
    dimensions = draw(st.none() | st.integers(1, batch.shape[1]))
    return batch, dimensions


def reference_unit_prefix(batch: Matrix, dimensions: int | None) -> npt.NDArray[np.float64]:
    prefix = batch[:, :dimensions].astype(np.float64)
    norms = np.linalg.norm(prefix, axis=1, keepdims=True)
    unit: npt.NDArray[np.float64] = np.where(norms > 0, prefix / np.where(norms > 0, norms, 1), 0)
    return unit


@settings(deadline=None)
@given(batches())
def test_float_encoding_is_the_unit_prefix(case: tuple[Matrix, int | None]) -> None:
    batch, dimensions = case
    result = postprocess(batch.tolist(), dimensions=dimensions, encoding="float", xp=np)
    width = dimensions or batch.shape[1]
    assert result.dimensions == width
    assert result.scales is None
    assert result.vectors.dtype == np.float32
    np.testing.assert_allclose(
        result.vectors, reference_unit_prefix(batch, dimensions), rtol=1e-5, atol=1e-6
    )


@settings(deadline=None)
@given(batches())
def test_int8_encoding_quantises_the_unit_prefix(case: tuple[Matrix, int | None]) -> None:
    batch, dimensions = case
    result = postprocess(batch, dimensions=dimensions, encoding="int8", xp=np)
    unit = reference_unit_prefix(batch, dimensions)
    peaks = np.abs(unit).max(axis=1)
    assert result.vectors.dtype == np.int8
    assert result.scales is not None
    np.testing.assert_allclose(result.scales, peaks / 127, rtol=1e-5)
    expected = unit / np.where(peaks > 0, peaks, 1)[:, None] * 127
    assert (np.abs(result.vectors - expected) <= 0.5 + 1e-3).all()


@settings(deadline=None)
@given(batches())
def test_binary_encoding_packs_the_signs_of_the_prefix(case: tuple[Matrix, int | None]) -> None:
    batch, dimensions = case
    result = postprocess(batch, dimensions=dimensions, encoding="binary", xp=np)
    assert result.dimensions == (dimensions or batch.shape[1])
    np.testing.assert_array_equal(result.vectors, np.packbits(batch[:, :dimensions] > 0, axis=1))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_result_is_plain_json(encoding: Encoding) -> None:
    batch = [[0.5, -1.0, 0.25, 2.0], [0.0, 0.0, 0.0, 0.0]]
    body = postprocess(batch, dimensions=3, encoding=encoding, xp=np).to_json()
    assert json.loads(json.dumps(body)) == body
    assert body["encoding"] == encoding
    assert body["dimensions"] == 3
    assert len(body["embeddings"]) == 2
    assert ("scales" in body) is (encoding == "int8")


def test_json_values_for_a_known_batch() -> None:
    batch = [[3.0, -4.0, 12.0], [0.0, 0.0, 0.0]]
    as_float = postprocess(batch, dimensions=2, encoding="float", xp=np).to_json()
    assert as_float["embeddings"] == [pytest.approx([0.6, -0.8]), [0.0, 0.0]]
    as_int8 = postprocess(batch, dimensions=2, encoding="int8", xp=np).to_json()
    assert as_int8["embeddings"] == [[95, -127], [0, 0]]
    assert as_int8["scales"] == [pytest.approx(0.8 / 127), 0.0]
    as_binary = postprocess(batch, dimensions=None, encoding="binary", xp=np).to_json()
    assert as_binary["embeddings"] == [[0b10100000], [0]]


@pytest.mark.parametrize(("encoding", "outputs"), [("float", 1), ("int8", 2), ("binary", 1)])
def test_one_upload_per_batch_and_one_download_per_output(encoding: Encoding, outputs: int) -> None:
    device = PretendDevice()
    batch = np.arange(24, dtype=np.float32).reshape(3, 8) - 10
    result = postprocess(batch, dimensions=6, encoding=encoding, xp=device)
    assert (device.uploads, device.downloads) == (1, outputs)
    assert type(result.vectors) is np.ndarray
    assert result.scales is None or type(result.scales) is np.ndarray


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_no_vectors_in_gives_no_embeddings_out(encoding: Encoding) -> None:
    for batch, dimensions in (([], None), ([], 8), (np.zeros((0, 16), np.float32), 8)):
        body = postprocess(batch, dimensions=dimensions, encoding=encoding, xp=np).to_json()
        assert body["embeddings"] == []
        assert body["dimensions"] == (dimensions or 0)
        assert body.get("scales", []) == []


@pytest.mark.parametrize("dimensions", [0, 5])
def test_dimensions_outside_the_models_vectors_are_refused(dimensions: int) -> None:
    with pytest.raises(ValidationFailed) as refused:
        postprocess([[1.0, 2.0, 3.0, 4.0]], dimensions=dimensions, encoding="float", xp=np)
    assert refused.value.details["field"] == "input.dimensions"


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        postprocess([[1.0]], dimensions=None, encoding="base64", xp=np)  # type: ignore[arg-type]
    assert refused.value.details["field"] == "input.encoding"


@pytest.mark.parametrize(
    "batch",
    [
        [[1.0, float("nan")]],
        [[1.0, float("inf")]],
        [[1.0, 2.0], [3.0]],
        [1.0, 2.0],
        [[]],
        [[], []],
        [["a", "b"]],
    ],
    ids=["nan", "inf", "ragged", "flat", "empty-row", "empty-rows", "strings"],
)
def test_a_malformed_provider_batch_is_a_provider_error(batch: Any) -> None:
    with pytest.raises(ProviderError):
        postprocess(batch, dimensions=None, encoding="float", xp=np)
