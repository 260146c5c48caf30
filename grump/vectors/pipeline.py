"""The embed worker's post-processing: one batch in, JSON-ready vectors out.

``postprocess`` checks the provider's batch on the host, copies it to the
device once, truncates, normalises and encodes it there, and copies the
results back once at the end: one upload per batch and one download per
output array (two for int8: codes and scales), however many steps run in
between.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import orjson

from grump.errors import ProviderError, ValidationFailed
from grump.vectors.ops import Array, quantize_binary, quantize_int8, truncate_dimensions

Encoding = Literal["float", "int8", "binary"]
ENCODINGS: tuple[Encoding, ...] = get_args(Encoding)


@dataclass(frozen=True)
class EncodedBatch:
    """A post-processed batch, on the host.

    ``vectors`` is float32 (n, dimensions) of unit vectors for "float", int8
    (n, dimensions) codes for "int8", and uint8 (n, ceil(dimensions / 8))
    packed sign bits for "binary" (schemes in ``grump.vectors.ops``).
    ``scales`` is set for "int8" only: vector i ~= vectors[i] * scales[i].
    """

    encoding: Encoding
    dimensions: int
    vectors: npt.NDArray[Any]
    scales: npt.NDArray[np.float32] | None = None

    def embeddings(self) -> list[list[Any]]:
        """The vectors as nested Python lists (floats or ints), ready for JSON.

        float32 rows are given as the floats of float32's shortest decimal form:
        the same float32 values back, in about half the JSON text of float64's
        (a job's result is stored and served as that text).
        """
        if self.vectors.dtype == np.float32:
            compact = orjson.dumps(
                np.ascontiguousarray(self.vectors), option=orjson.OPT_SERIALIZE_NUMPY
            )
            floats: list[list[Any]] = orjson.loads(compact)
            return floats
        rows: list[list[Any]] = self.vectors.tolist()
        return rows

    def to_json(self) -> dict[str, Any]:
        """The batch as a JSON-ready dict: embeddings, encoding, dimensions, and int8 scales."""
        body: dict[str, Any] = {
            "embeddings": self.embeddings(),
            "encoding": self.encoding,
            "dimensions": self.dimensions,
        }
        if self.scales is not None:
            body["scales"] = self.scales.tolist()
        return body


def to_host(array: Array, *, xp: ModuleType) -> npt.NDArray[Any]:
    """A NumPy copy of a device array (CuPy), or the array itself on NumPy."""
    asnumpy = getattr(xp, "asnumpy", None)
    if asnumpy is not None:
        host: npt.NDArray[Any] = asnumpy(array)
        return host
    return np.asarray(array)


def postprocess(
    batch: npt.ArrayLike, *, dimensions: int | None, encoding: Encoding, xp: ModuleType
) -> EncodedBatch:
    """Truncate (Matryoshka), normalise and encode one batch of embeddings.

    ``batch`` is the provider's (n, d) output; ``dimensions`` None keeps all d.
    An empty batch (no texts, no vectors) gives an empty result.
    Raises ``ValidationFailed`` for a request the batch cannot satisfy (more
    dimensions than the model has, an unknown encoding) and ``ProviderError``
    for a batch that is not a finite (n, d) matrix.
    """
    if encoding not in ENCODINGS:
        raise ValidationFailed("input.encoding", f"must be one of {', '.join(ENCODINGS)}")
    host = _provider_matrix(batch)
    if host.shape[0] == 0:
        return _empty_batch(encoding, dimensions or host.shape[1])
    width = _target_dimensions(dimensions, host.shape[1])
    device = xp.asarray(host)  # the one host-to-device copy
    if encoding == "binary":
        # Signs do not change under scaling, so binary codes skip the normalisation.
        return EncodedBatch(
            encoding, width, to_host(quantize_binary(device[:, :width], xp=xp), xp=xp)
        )
    unit = truncate_dimensions(device, width, xp=xp)
    if encoding == "float":
        return EncodedBatch(encoding, width, to_host(unit, xp=xp))
    codes, scales = quantize_int8(unit, xp=xp)
    return EncodedBatch(encoding, width, to_host(codes, xp=xp), to_host(scales, xp=xp))


def _provider_matrix(batch: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """The batch as a finite float32 (n, d) host array, or ProviderError."""
    try:
        host = np.asarray(batch, dtype=np.float32)
    except (TypeError, ValueError) as exc:  # ragged rows, strings, None
        raise ProviderError(f"embedding batch is not a numeric matrix: {exc}") from exc
    if host.shape == (0,):  # [] from a request with no texts
        return host.reshape(0, 0)
    if host.ndim != 2 or (host.shape[0] > 0 and host.shape[1] < 1):
        raise ProviderError(f"embedding batch has shape {host.shape}, expected (n, d) with d >= 1")
    # Checked on the host: a device-side check would cost an extra round trip per batch.
    # max and min propagate NaN and expose infinities without an (n, d) temporary.
    if host.size and not (np.isfinite(host.max()) and np.isfinite(host.min())):
        raise ProviderError("embedding batch contains NaN or infinite values")
    return host


def _empty_batch(encoding: Encoding, width: int) -> EncodedBatch:
    """No rows, with the dtypes and row width a non-empty batch would have."""
    if encoding == "binary":
        return EncodedBatch(encoding, width, np.empty((0, (width + 7) // 8), np.uint8))
    if encoding == "int8":
        return EncodedBatch(encoding, width, np.empty((0, width), np.int8), np.empty(0, np.float32))
    return EncodedBatch(encoding, width, np.empty((0, width), np.float32))


def _target_dimensions(dimensions: int | None, width: int) -> int:
    """The requested vector length, checked against what the model returned."""
    if dimensions is None:
        return width
    if not 1 <= dimensions <= width:
        raise ValidationFailed(
            "input.dimensions", f"must be between 1 and the model's {width}, got {dimensions}"
        )
    return dimensions
