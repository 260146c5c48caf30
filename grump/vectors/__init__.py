"""Embedding post-processing on an array module: CuPy on a GPU, NumPy otherwise.

One code path serves both: every operation takes the array module as ``xp``
(from ``array_module()``) and uses only calls NumPy and CuPy share.

- ``ops``: L2 normalisation, Matryoshka truncation, int8 and binary quantisation
  (the schemes are documented there)
- ``pipeline``: ``postprocess``, what the embed worker runs on each batch
"""

from grump.vectors.device import array_module
from grump.vectors.ops import (
    Array,
    l2_normalize,
    quantize_binary,
    quantize_int8,
    truncate_dimensions,
)
from grump.vectors.pipeline import ENCODINGS, EncodedBatch, Encoding, postprocess, to_host

__all__ = [
    "ENCODINGS",
    "Array",
    "EncodedBatch",
    "Encoding",
    "array_module",
    "l2_normalize",
    "postprocess",
    "quantize_binary",
    "quantize_int8",
    "to_host",
    "truncate_dimensions",
]
