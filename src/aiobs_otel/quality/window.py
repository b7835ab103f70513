"""The ring of the last ``window_size`` labelled predictions, and per-group summaries of it.

The window is the unit every quality number refers to: ``metrics()`` and the exported gauges
describe the last ``window_size`` labelled rows (fewer until that many arrived). Window ``k``
(1-based) is complete when ``k * window_size`` rows have been labelled; at that moment the ring
holds exactly rows ``(k-1)*window_size .. k*window_size-1``, which is what alerts look at.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class LabelledWindow:
    """Fixed-size ring of (y_true, y_pred, score, label delay, segment codes) rows."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.total = 0  # rows ever appended
        self._true = np.zeros(size, dtype=np.float64)
        self._pred = np.zeros(size, dtype=np.float64)
        self._score = np.full(size, np.nan, dtype=np.float64)
        self._delay = np.full(size, np.nan, dtype=np.float64)
        self._segments: list[NDArray[np.int16]] = []

    @property
    def completed(self) -> int:
        """How many whole windows have been labelled so far."""
        return self.total // self.size

    @property
    def room(self) -> int:
        """Rows that still fit before the current window is complete."""
        return self.size - self.total % self.size

    @property
    def nbytes(self) -> int:
        return int(self._true.nbytes * 4 + sum(s.nbytes for s in self._segments))

    def add_segment_key(self) -> None:
        self._segments.append(np.full(self.size, -1, dtype=np.int16))

    def append(self, y_true: FloatArray, y_pred: FloatArray, score: FloatArray,
               delay: FloatArray, segments: list[IntArray | None]) -> None:
        """Add up to ``size`` rows (the oldest rows are overwritten)."""
        n = int(y_true.size)
        if n == 0:
            return
        if n > self.size:
            raise ValueError("append at most window_size rows at a time")
        at = (np.arange(self.total, self.total + n)) % self.size
        self._true[at] = y_true
        self._pred[at] = y_pred
        self._score[at] = score
        self._delay[at] = delay
        for column, codes in zip(self._segments, segments, strict=True):
            column[at] = -1 if codes is None else codes
        self.total += n

    def rows(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, list[IntArray]]:
        """The window's rows (order does not matter for any metric)."""
        n = min(self.total, self.size)
        return (self._true[:n], self._pred[:n], self._score[:n], self._delay[:n],
                [column[:n].astype(np.int64) for column in self._segments])


def group_slices(codes: IntArray, n_groups: int) -> tuple[IntArray, IntArray]:
    """(row order, start offsets) so rows of group g are ``order[starts[g]:starts[g+1]]``.

    Rows with a negative code (segment not given) are left out.
    """
    valid = codes >= 0
    order = np.flatnonzero(valid)
    order = order[np.argsort(codes[order], kind="stable")]
    counts = np.bincount(codes[valid], minlength=n_groups)
    starts = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return order, starts
