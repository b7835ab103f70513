"""Array inputs and value encoders: anything array-like in, small integer codes out.

Code 0 is reserved for the fold value (``_OTHER``): segment values beyond the cap, missing
values (None, NaN) and classes beyond the class cap all land there. Small non-negative integers
take a lookup-table path (no Python loop); other values go through one C-level ``map`` over a
dict, and only values never seen before take a Python loop.

>>> encoder = ValueEncoder(capacity=2, other="_OTHER")
>>> encoder.encode(as_array(["eu", "us", "eu", "apac"])).tolist()
[1, 2, 1, 0]
>>> encoder.labels
['_OTHER', 'eu', 'us']
"""

from __future__ import annotations

import math
from itertools import repeat
from typing import Any

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
_LUT_LIMIT = 1 << 16
_FOLD_MEMO = 100_000


def as_array(values: Any) -> NDArray[Any]:
    """A 1-D numpy view of a numpy array, list, tuple or pandas/arrow series (never copied twice).

    pandas is never imported: a Series converts itself through ``__array__``.
    """
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.ndim == 0:
        array = array.reshape(1)
    elif array.ndim != 1:
        raise ValueError(f"expected a 1-D array of values, got shape {array.shape}")
    return array


def as_float_array(values: Any) -> NDArray[np.float64]:
    """Values as float64 (None becomes NaN)."""
    array = as_array(values)
    if array.dtype == np.float64:
        return array
    if array.dtype == object:
        return np.array([math.nan if v is None else v for v in array.tolist()], dtype=np.float64)
    return array.astype(np.float64)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class ValueEncoder:
    """Assigns codes 1..capacity to the first ``capacity`` distinct values; the rest get 0."""

    def __init__(self, capacity: int, other: str) -> None:
        self.capacity = capacity
        self.codes: dict[Any, int] = {}
        self.values: list[Any] = [None]
        self.labels: list[str] = [other]
        self._lut = np.full(0, -1, dtype=np.int64)

    def __len__(self) -> int:
        """Number of codes in use, the fold code included."""
        return len(self.labels)

    def _assign(self, value: Any) -> int:
        code = self.codes.get(value)
        if code is not None:
            return code
        if _is_missing(value):
            return 0
        if len(self.labels) > self.capacity:
            if len(self.codes) < _FOLD_MEMO:  # remember folded values, up to a bound
                self.codes[value] = 0
            return 0
        code = len(self.labels)
        self.codes[value] = code
        self.values.append(value)
        self.labels.append(str(value))
        if isinstance(value, int) and 0 <= value < self._lut.size:
            self._lut[value] = code
        return code

    def encode(self, array: NDArray[Any]) -> IntArray:
        """Codes for ``array`` (new values are assigned codes while the cap allows)."""
        if array.size == 0:
            return np.zeros(0, dtype=np.int64)
        if array.dtype.kind in "iub":
            codes = self._encode_small_ints(array)
            if codes is not None:
                return codes
        items = array.tolist()
        codes = np.fromiter(map(self.codes.get, items, repeat(-1)), dtype=np.int64,
                            count=len(items))
        unknown = np.flatnonzero(codes < 0)
        for index in unknown.tolist():
            codes[index] = self._assign(items[index])
        return codes

    def _encode_small_ints(self, array: NDArray[Any]) -> IntArray | None:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= _LUT_LIMIT:
            return None
        if high >= self._lut.size:
            grown = np.full(max(high + 1, 2 * self._lut.size, 16), -1, dtype=np.int64)
            grown[: self._lut.size] = self._lut
            for value, code in self.codes.items():
                if isinstance(value, int) and 0 <= value < grown.size:
                    grown[value] = code
            self._lut = grown
        index = array.astype(np.int64, copy=False)
        codes = self._lut[index]
        if (codes < 0).any():
            for value in np.unique(index[codes < 0]).tolist():
                code = self._assign(int(value))
                if self._lut[value] < 0:  # over the cap: remember the fold for this value
                    self._lut[value] = code
            codes = self._lut[index]
        return codes
