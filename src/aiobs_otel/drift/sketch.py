"""Mergeable streaming sketches in pure numpy (no OpenTelemetry import here).

:class:`ExpHistogram` is a base-2 exponential histogram with OpenTelemetry's index mapping:
at scale ``s`` bucket ``i`` holds the magnitudes in ``(2**(i / 2**s), 2**((i + 1) / 2**s)]``,
positive and negative values have their own bucket ranges (sharing one scale), ``|x| <=
zero_threshold`` goes to the zero bucket, and NaN, +inf and -inf are counted apart. Updates
are vectorised (one pass of numpy kernels per batch); two histograms merge exactly: the result
is the histogram of the union, whatever the order (associative and commutative).

>>> import numpy as np
>>> h = ExpHistogram()
>>> h.update(np.array([0.5, 1.0, 2.0, 3.0, np.nan]))
>>> h.count, h.nan_count, h.scale
(4, 1, 5)

:class:`CategoricalSketch` counts a reference's top-K categories plus ``other`` (seen in the
reference, outside the top K) and ``unseen`` (never seen in the reference).
"""

from __future__ import annotations

import base64
import math
import struct
import threading
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_SCALE", "MIN_SCALE", "CategoricalSketch", "ExpHistogram", "NumericWindow",
    "bucket_bounds",
]

MAX_SCALE = 20
MIN_SCALE = -10
_MIN_NORMAL = 2.2250738585072014e-308
_FLUSH_EVERY = 4096
_I64 = np.int64
_NARROW = np.int32
_NARROW_MAX = 2**31 - 1
Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def bucket_bounds(scale: int, index: npt.NDArray[Any] | int) -> tuple[Any, Any]:
    """Lower and upper magnitude bound of bucket ``index`` at ``scale``: ``(lower, upper]``."""
    idx = np.asarray(index, dtype=np.float64)
    factor = 2.0 ** (-scale)
    with np.errstate(over="ignore"):  # the top buckets' upper bound is inf, silently
        return np.exp2(idx * factor), np.exp2((idx + 1.0) * factor)


_LOG2_MIN_NORMAL = -1022.0
_CHUNK = 32768  # values per pass: the work buffers stay in the L2 cache
_MAGIC = 4503599627370496.0  # 2**52: added to an integer-valued float, it leaves the integer in
_LOW_BITS = (1 << 52) - 1  # the low mantissa bits, so a bit mask replaces a float -> int cast


class _Scratch(threading.local):
    """Work buffers of one thread, reused by every update (numpy drops the GIL in its loops)."""

    def __init__(self) -> None:
        self.size = 0
        self.floats_a: Floats = np.empty(0)
        self.floats_b: Floats = np.empty(0)
        self.ints: Counts = np.empty(0, dtype=_I64)
        self.flags: npt.NDArray[np.bool_] = np.empty(0, dtype=np.bool_)
        self.last = 0
        self.views = self.floats_a, self.floats_b, self.ints, self.flags

    def take(self, n: int) -> tuple[Floats, Floats, Counts, npt.NDArray[np.bool_]]:
        if n == self.last:
            return self.views
        if n > self.size:
            size = max(n, 4096)
            self.floats_a, self.floats_b = np.empty(size), np.empty(size)
            self.ints = np.empty(size, dtype=_I64)
            self.flags = np.empty(size, dtype=np.bool_)
            self.size = size
        self.last = n
        self.views = self.floats_a[:n], self.floats_b[:n], self.ints[:n], self.flags[:n]
        return self.views


_SCRATCH = _Scratch()


def _ceil_indices(t: Floats, u: Floats, hit: npt.NDArray[np.bool_], values: Floats,
                  factor: float) -> None:
    """``u = ceil(t * factor)``: the OTel index + 1 of each value, ``t`` holding ``log2 |value|``.

    Exact powers of two give an integer product and so their own (upper-bound) bucket. The
    one rounding to correct: just above ``2**k`` (k not tiny) ``np.log2`` returns exactly
    ``k``; such values, found among the integer products, are moved up one bucket, which is
    what the exponent (frexp) definition gives at every scale <= 0 and the mantissa one above.
    Values that ``log2`` rounds onto an integer from below already land right. ``t`` is
    scaled in place.
    """
    if factor != 1.0:
        np.multiply(t, factor, out=t)
    np.ceil(t, out=u)
    np.equal(t, u, out=hit)
    if hit.tobytes().find(1) < 0:  # a byte search: much cheaper than hit.any()
        return
    at = np.flatnonzero(hit)
    mantissa, exponent = np.frexp(np.abs(values[at]))
    power_below = (exponent - 1.0) * factor
    nudge = (t[at] == power_below) & (mantissa != 0.5)
    if nudge.any():
        u[at[nudge]] += 1.0


def _log2_magnitudes(values: Floats, out: Floats) -> Floats:
    """``log2 |values|`` into ``out``, subnormals mapped to the lowest normal bucket."""
    np.abs(values, out=out)
    np.log2(out, out=out)
    np.maximum(out, _LOG2_MIN_NORMAL, out=out)
    return out


def map_to_index(values: npt.ArrayLike, scale: int) -> npt.NDArray[np.int64]:
    """The OTel exponential-histogram bucket index of each ``|value|`` (non-zero, finite)."""
    x = np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()
    t = _log2_magnitudes(x, np.empty(x.size))
    u = np.empty(x.size)
    _ceil_indices(t, u, np.empty(x.size, dtype=np.bool_), x, 2.0**scale)
    return u.astype(_I64) - 1


def _downscale_counts(first: int, counts: Counts, by: int) -> tuple[int, Counts]:
    """Counts of buckets ``first ..`` merged ``2**by`` at a time (the index shifted right)."""
    if by <= 0 or counts.size == 0:
        return first, counts
    lo = first >> by
    idx = (np.arange(counts.size, dtype=_I64) + first) >> by
    return lo, _grouped_sum(counts, idx - lo, int(idx[-1]) - lo + 1)


class _Range:
    """Counts of one sign: ``counts[j]`` is bucket ``offset + j``, kept trimmed (no zero ends).

    Counts are int32 (half the memory) until the histogram could hold 2**31 values, then
    int64 (:meth:`widen`).
    """

    __slots__ = ("counts", "offset")

    def __init__(self) -> None:
        self.offset = 0
        self.counts: Counts = np.zeros(0, dtype=_NARROW)

    def widen(self) -> None:
        self.counts = self.counts.astype(_I64)

    def bounds(self) -> tuple[int, int] | None:
        if self.counts.size == 0:
            return None
        return self.offset, self.offset + self.counts.size - 1

    def downscale(self, by: int) -> None:
        if by <= 0 or self.counts.size == 0:
            return
        first = self.offset >> by
        last = (self.offset + self.counts.size - 1) >> by
        idx = (np.arange(self.counts.size, dtype=_I64) + self.offset) >> by
        self.counts = _grouped_sum(self.counts, idx - first, last - first + 1)
        self.offset = first

    def add_counts(self, first: int, counts: Counts, trimmed: bool = False) -> None:
        """Add ``counts`` for buckets ``first ..``, growing the array as needed.

        ``trimmed``: ``counts`` are non-negative with non-zero ends (the update path), so
        neither they nor the sum need trimming.
        """
        if not trimmed:
            first, counts = _trim(first, counts)
        size = counts.size
        if size == 0:
            return
        held = self.counts
        if held.size == 0:
            self.offset, self.counts = first, counts.astype(held.dtype, copy=True)
            return
        offset = self.offset
        end = offset + held.size
        if first < offset or first + size > end:
            lo = min(offset, first)
            grown = np.zeros(max(end, first + size) - lo, dtype=held.dtype)
            grown[offset - lo:end - lo] = held
            self.counts, self.offset = held, offset = grown, lo
        start = first - offset
        held[start:start + size] += counts  # same-kind cast into int32 counts
        if not trimmed and (held[0] == 0 or held[-1] == 0):  # a subtraction emptied an end
            self.offset, self.counts = _trim(self.offset, held)

    def trimmed(self) -> tuple[int, Counts]:
        return self.offset, self.counts

    def copy(self) -> _Range:
        other = _Range()
        other.offset, other.counts = self.offset, self.counts.copy()
        return other


def _trim(first: int, counts: Counts) -> tuple[int, Counts]:
    if counts.size and counts[0] != 0 and counts[-1] != 0:
        return first, counts
    nz = np.flatnonzero(counts)
    if nz.size == 0:
        return 0, np.zeros(0, dtype=_I64)
    return first + int(nz[0]), counts[nz[0]:nz[-1] + 1]


def lattice_edges(scale: int, lo: int, hi: int, zero_threshold: float = 0.0) -> Floats:
    """Boundaries of the cells of :meth:`ExpHistogram.lattice_counts` (one more than cells)."""
    lower, upper = bucket_bounds(scale, np.arange(lo, hi + 1))
    zt = zero_threshold
    inner = lower[0]
    # neg hi .. neg lo: [-upper_i, -lower_i]; zero: [-lower_lo, lower_lo] (or the threshold)
    neg = -upper[::-1]
    return np.concatenate([neg, [-max(inner, zt), max(inner, zt)], upper])


def interpolate_mass(bounds: Floats, mass: Floats, edges: Floats,
                     lowest: float = -math.inf, highest: float = math.inf) -> Floats:
    """CDF at ``edges`` from cell masses, density linear inside a cell (slope from neighbours).

    ``bounds`` are the cell boundaries (one more than cells, all cells of positive width);
    ``lowest``/``highest`` (the data's min and max) tighten the outermost occupied cells.
    """
    n = mass.size
    occupied = np.flatnonzero(mass)
    if occupied.size and (lowest > bounds[occupied[0]] or highest < bounds[occupied[-1] + 1]):
        bounds = bounds.copy()
        first, last = int(occupied[0]), int(occupied[-1]) + 1
        if bounds[first] < lowest < bounds[first + 1]:
            bounds[first] = lowest
        if bounds[last - 1] < highest < bounds[last]:
            bounds[last] = highest
        if first == last - 1 and bounds[first] == bounds[last]:  # a single value
            return np.where(edges >= bounds[first], float(mass.sum()), 0.0)
    cum = np.cumsum(mass)
    widths = bounds[1:] - bounds[:-1]
    k = np.searchsorted(bounds, edges, side="left") - 1
    np.clip(k, 0, n - 1, out=k)
    width = widths[k]
    left = bounds[k]
    dens = mass[k] / width
    km = np.maximum(k - 1, 0)
    kp = np.minimum(k + 1, n - 1)
    span = (bounds[kp] + 0.5 * widths[kp]) - (bounds[km] + 0.5 * widths[km])
    span[span <= 0] = np.inf
    slope = (mass[kp] / widths[kp] - mass[km] / widths[km]) / span
    limit = 2.0 * dens / width
    np.clip(slope, -limit, limit, out=slope)
    x = np.clip(edges - left, 0.0, width)
    start = cum[k] - mass[k]
    value = start + dens * x + 0.5 * slope * (x * x - width * x)
    np.clip(value, start, cum[k], out=value)
    value[edges < bounds[0]] = 0.0
    value[edges >= bounds[-1]] = cum[-1]
    return value


def _grouped_sum(counts: Counts, groups: Counts, size: int) -> Counts:
    """Sum ``counts`` by ascending ``groups`` (exact integers; contiguous groups)."""
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    out = np.zeros(size, dtype=counts.dtype)
    out[groups[starts]] = np.add.reduceat(counts, starts)
    return out


class ExpHistogram:
    """A base-2 exponential histogram (OpenTelemetry's mapping), updated in numpy batches.

    ``max_size`` caps the buckets per sign; the scale starts at ``max_scale`` and drops (halving
    the resolution) whenever the data's range would need more buckets.

    >>> import numpy as np
    >>> a, b = ExpHistogram(), ExpHistogram()
    >>> a.update(np.arange(1.0, 100.0)); b.update(-np.arange(1.0, 10.0))
    >>> merged = a.merged(b)
    >>> merged.count
    108
    """

    __slots__ = (
        "_buffer", "count", "max", "max_size", "min", "nan_count", "neg", "neginf_count",
        "pos", "posinf_count", "scale", "sum", "zero_count", "zero_threshold",
    )

    def __init__(
        self, max_size: int = 160, max_scale: int = MAX_SCALE, zero_threshold: float = 0.0
    ) -> None:
        if max_size < 2:
            raise ValueError("max_size must be at least 2")
        if not MIN_SCALE <= max_scale <= MAX_SCALE:
            raise ValueError(f"max_scale must be in [{MIN_SCALE}, {MAX_SCALE}]")
        if zero_threshold < 0 or not math.isfinite(zero_threshold):
            raise ValueError("zero_threshold must be a finite number >= 0")
        self.max_size = int(max_size)
        self.scale = int(max_scale)
        self.zero_threshold = float(zero_threshold)
        self.pos = _Range()
        self.neg = _Range()
        self.zero_count = 0
        self.nan_count = 0
        self.posinf_count = 0
        self.neginf_count = 0
        self.count = 0  # finite values (positive + negative + zero buckets)
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._buffer: list[float] = []

    def record(self, value: float) -> None:
        """Add one value (buffered; applied in batches of 4096 and before any read)."""
        buffer = self._buffer
        buffer.append(value)
        if len(buffer) >= _FLUSH_EVERY:
            self.flush()

    # -- updating -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Apply buffered :meth:`record` values."""
        buffer = self._buffer
        if buffer:
            values = np.fromiter(buffer, dtype=np.float64, count=len(buffer))  # beats np.array
            buffer.clear()
            self._update(values, None)

    def update(self, values: npt.ArrayLike) -> None:
        """Add a batch of values (any shape; NaN and ±inf are counted apart).

        One fused pass of numpy kernels: ``log2 |x|`` once, specials (NaN, ±inf, zero) split
        off only when present, the scale chosen from the extremes, one ``bincount`` for both
        signs (negative buckets offset into a second block).
        """
        self._update(values, None)

    def update_with_cuts(self, values: npt.ArrayLike, cuts: Floats,
                         at_or_below: Counts) -> None:
        """:meth:`update`, also adding to ``at_or_below[j]`` the finite values ``<= cuts[j]``.

        Exact: one vectorised comparison per cut (measured cheaper than locating the values in
        the buckets that hold a cut and comparing only those).
        """
        self._update(values, (cuts, at_or_below))

    def _update(self, values: npt.ArrayLike,
                cut_state: tuple[Floats, Counts] | None) -> None:
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 1:
            x = x.ravel()
        # Huge values overflow sums to inf by design; numpy must not warn about it (a warning
        # filter set to "error" in the application would turn that into an exception).
        with np.errstate(over="ignore", invalid="ignore"):
            if x.size <= _CHUNK:
                if x.size:
                    self._update_chunk(x, cut_state)
                return
            for start in range(0, x.size, _CHUNK):
                self._update_chunk(x[start:start + _CHUNK], cut_state)

    def _update_chunk(self, x: Floats, cut_state: tuple[Floats, Counts] | None) -> None:
        lo = float(np.fmin.reduce(x))  # NaN-blind: a NaN shows in the sum
        hi = float(np.fmax.reduce(x))
        total = float(np.add.reduce(x)) if lo > -math.inf and hi < math.inf else math.nan
        if total != total:
            # NaN or an infinity (or a finite sum that overflowed): count specials apart
            keep = np.isfinite(x)
            finite = x[keep]
            if finite.size < x.size:
                if lo > -math.inf and hi < math.inf:  # NaN only: min and max stand
                    self.nan_count += x.size - finite.size
                else:
                    self._count_specials(x[~keep])
                    if finite.size == 0:
                        return
                    lo = float(np.minimum.reduce(finite))
                    hi = float(np.maximum.reduce(finite))
                x = finite
                total = float(np.add.reduce(x))
        self._add_stats(x.size, total, lo, hi)
        if cut_state is not None:  # one compare per cut (cheaper than finding the buckets)
            flags = _SCRATCH.take(x.size)[3]
            tally = cut_state[1]
            for j, cut in enumerate(cut_state[0].tolist()):
                np.less_equal(x, cut, out=flags)
                tally[j] += int(np.count_nonzero(flags))
        self._add_finite(x, lo, hi)

    def _add_finite(self, x: Floats, lo: float, hi: float) -> None:
        """Bucket finite values (stats already counted): one pass of numpy kernels.

        ``log2 |x|`` once, the scale picked from the extremes, the index as ``ceil`` of the
        scaled log, moved to an integer by adding 2**52 (a bit mask instead of a cast) and one
        ``bincount`` for both signs: a negative value's bits are flipped by its sign (an
        arithmetic shift of the float's bits), mirroring it below the positive block.
        """
        zt = self.zero_threshold
        n = x.size
        t, u, ints, flags = _SCRATCH.take(n)
        if lo > zt:
            sign, m_lo, m_hi = 1, lo, hi
            np.log2(x, out=t)
        elif hi < -zt:
            sign, m_lo, m_hi = -1, -hi, -lo
            np.negative(x, out=t)
            np.log2(t, out=t)
        else:
            sign, m_hi = 0, max(-lo, hi)
            np.abs(x, out=t)
            m_lo = float(np.minimum.reduce(t))
            if m_lo <= zt:  # values in the zero bucket
                keep = t > zt
                n_keep = int(np.count_nonzero(keep))
                self.zero_count += n - n_keep
                if n_keep:
                    rest = x[keep]
                    self._add_finite(rest, float(np.minimum.reduce(rest)),
                                     float(np.maximum.reduce(rest)))
                return
            np.log2(t, out=t)
        if m_lo < _MIN_NORMAL:  # subnormals map to the lowest normal bucket
            np.maximum(t, _LOG2_MIN_NORMAL, out=t)
        t_lo = max(math.log2(m_lo), _LOG2_MIN_NORMAL)  # estimates: numpy's log2 may differ
        t_hi = max(math.log2(m_hi), _LOG2_MIN_NORMAL)  # by an ulp (one bucket, see margins)
        scale = self._fit_scale(t_lo, t_hi)
        factor = 2.0**scale
        _ceil_indices(t, u, flags, x, factor)
        first = math.ceil(t_lo * factor) - 2  # one bucket of margin below, two above
        block = math.ceil(t_hi * factor) + 1 - first  # (rounding and the nudge up)
        bits = u.view(_I64)
        if sign:
            np.add(u, _MAGIC - 1.0 - first, out=u)  # exact: integers below 2**53
            np.bitwise_and(bits, _LOW_BITS, out=bits)
            counts = np.bincount(bits, minlength=block)
            nz = counts.nonzero()[0]
            a, b = int(nz[0]), int(nz[-1]) + 1
            self._add_buckets(scale, [(self.pos if sign > 0 else self.neg, first + a,
                                       counts[a:b])])
            return
        half = 1 << block.bit_length()  # positives to [half, half + block)
        np.add(u, _MAGIC + half - 1.0 - first, out=u)
        np.right_shift(x.view(_I64), 63, out=ints)  # -1 for negative values, else 0
        np.bitwise_xor(bits, ints, out=bits)  # negatives to half - 1 - j
        np.bitwise_and(bits, 2 * half - 1, out=bits)
        counts = np.bincount(bits, minlength=2 * half)
        nz = counts.nonzero()[0]  # one search gives both signs' occupied ends
        split = int(nz.searchsorted(half))
        parts = []
        if split < nz.size:  # positives: bucket first + (bin - half)
            a, b = int(nz[split]), int(nz[-1]) + 1
            parts.append((self.pos, first + a - half, counts[a:b]))
        if split:  # negatives: bucket first + (half - 1 - bin)
            a, b = int(nz[0]), int(nz[split - 1]) + 1
            parts.append((self.neg, first + half - b, counts[a:b][::-1]))
        self._add_buckets(scale, parts)

    def _add_buckets(self, scale: int, parts: list[tuple[_Range, int, Counts]]) -> None:
        """Add new trimmed bucket counts ``(side, first, counts)`` at ``scale`` (<= the current
        one), lowering the scale until held and new buckets span <= ``max_size`` (exact)."""
        lo = min(p[1] for p in parts)
        hi = max(p[1] + p[2].size - 1 for p in parts)
        held = self._held_span()
        if held is not None:
            shift = self.scale - scale
            lo = min(lo, held[0] >> shift)
            hi = max(hi, held[1] >> shift)
        final = scale
        while final > MIN_SCALE and (hi >> (scale - final)) - (lo >> (scale - final)) + 1 > \
                self.max_size:
            final -= 1
        if final < self.scale:
            self.pos.downscale(self.scale - final)
            self.neg.downscale(self.scale - final)
            self.scale = final
        for side, at, counts in parts:
            if final < scale:
                at, counts = _downscale_counts(at, counts, scale - final)
            side.add_counts(at, counts, trimmed=True)

    def _count_specials(self, special: Floats) -> None:
        nan = np.isnan(special)
        n_nan = int(np.count_nonzero(nan))
        self.nan_count += n_nan
        n_pos_inf = int(np.count_nonzero(special == math.inf))
        n_neg_inf = int(np.count_nonzero(special == -math.inf))
        self.posinf_count += n_pos_inf
        self.neginf_count += n_neg_inf

    def _fit_scale(self, t_lo: float, t_hi: float) -> int:
        """The highest scale (<= the current one) at which held and new buckets might fit.

        Optimistic by the estimates' margin: the exact fit is made on the counted buckets
        (:meth:`_add_buckets`), which can only lower it, so every histogram of the same
        values ends at the same scale whatever the batches (updates and merges agree).
        """
        held = self._held_span()
        scale = self.scale
        while scale > MIN_SCALE:
            factor = 2.0**scale
            lo_i = math.ceil(t_lo * factor)  # one above the estimate's lowest index
            hi_i = math.ceil(t_hi * factor) - 2  # one below its highest
            if held is not None:
                shift = self.scale - scale
                lo_i = min(lo_i, held[0] >> shift)
                hi_i = max(hi_i, held[1] >> shift)
            if hi_i - lo_i + 1 <= self.max_size:
                break
            scale -= 1
        return scale

    def _held_span(self) -> tuple[int, int] | None:
        pos, neg = self.pos, self.neg
        if not neg.counts.size:
            return (pos.offset, pos.offset + pos.counts.size - 1) if pos.counts.size else None
        if not pos.counts.size:
            return neg.offset, neg.offset + neg.counts.size - 1
        return (min(pos.offset, neg.offset),
                max(pos.offset + pos.counts.size, neg.offset + neg.counts.size) - 1)

    def _widen_for(self, more: int) -> None:
        """Switch the bucket counts to int64 before the histogram could hold 2**31 values."""
        if self.count + more > _NARROW_MAX and self.pos.counts.dtype != _I64:
            self.pos.widen()
            self.neg.widen()

    def _add_stats(self, n: int, total: float, lo: float, hi: float) -> None:
        self._widen_for(n)
        self.count += n
        self.sum += total
        if lo < self.min:
            self.min = lo
        if hi > self.max:
            self.max = hi

    # -- merging --------------------------------------------------------------------------------
    def merge(self, other: ExpHistogram) -> None:
        """Add ``other`` into this histogram, exactly (it is left unchanged)."""
        self.flush()
        other.flush()
        if self.zero_threshold != other.zero_threshold:
            raise ValueError("cannot merge histograms with different zero thresholds")
        self._widen_for(other.count)
        scale = min(self.scale, other.scale)
        size = min(self.max_size, other.max_size)
        while scale > MIN_SCALE and not self._union_fits(other, scale, size):
            scale -= 1
        self.max_size = size
        self.pos.downscale(self.scale - scale)
        self.neg.downscale(self.scale - scale)
        self.scale = scale
        for mine, theirs in ((self.pos, other.pos), (self.neg, other.neg)):
            moved = theirs.copy()
            moved.downscale(other.scale - scale)
            first, counts = moved.trimmed()
            mine.add_counts(first, counts)
        self.zero_count += other.zero_count
        self.nan_count += other.nan_count
        self.posinf_count += other.posinf_count
        self.neginf_count += other.neginf_count
        self._add_stats(other.count, other.sum, other.min, other.max)

    def _union_fits(self, other: ExpHistogram, scale: int, size: int) -> bool:
        spans = []
        for hist in (self, other):
            held = hist._held_span()
            if held is not None:
                shift = hist.scale - scale
                spans.append((held[0] >> shift, held[1] >> shift))
        if not spans:
            return True
        return max(s[1] for s in spans) - min(s[0] for s in spans) + 1 <= size

    def merged(self, *others: ExpHistogram) -> ExpHistogram:
        """A new histogram: this one merged with ``others``."""
        out = self.copy()
        for other in others:
            out.merge(other)
        return out

    def subtract(self, part: ExpHistogram) -> ExpHistogram:
        """This histogram minus ``part``, where ``part``'s values are a subset of this one's."""
        self.flush()
        part.flush()
        out = self.copy()
        for mine, theirs in ((out.pos, part.pos), (out.neg, part.neg)):
            moved = theirs.copy()
            moved.downscale(part.scale - out.scale)
            first, counts = moved.trimmed()
            mine.add_counts(first, -counts)
        out.zero_count -= part.zero_count
        out.nan_count -= part.nan_count
        out.posinf_count -= part.posinf_count
        out.neginf_count -= part.neginf_count
        out.count -= part.count
        out.sum -= part.sum
        return out

    def copy(self) -> ExpHistogram:
        self.flush()
        out = ExpHistogram.__new__(ExpHistogram)
        for name in ExpHistogram.__slots__:
            setattr(out, name, getattr(self, name))
        out.pos, out.neg, out._buffer = self.pos.copy(), self.neg.copy(), []
        return out

    def downscaled_to(self, scale: int) -> ExpHistogram:
        """A copy at ``scale`` (which must not exceed the current scale)."""
        out = self.copy()
        if scale > out.scale:
            raise ValueError("can only lower the scale")
        out.pos.downscale(out.scale - scale)
        out.neg.downscale(out.scale - scale)
        out.scale = scale
        return out

    # -- reading --------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Every value seen, NaN and infinities included."""
        self.flush()
        return self.count + self.nan_count + self.posinf_count + self.neginf_count

    def buckets(self, sign: int = 1) -> tuple[int, Counts]:
        """``(offset, counts)`` of the positive (``sign=1``) or negative buckets, trimmed."""
        self.flush()
        return (self.pos if sign > 0 else self.neg).trimmed()

    def span_at(self, scale: int) -> tuple[int, int] | None:
        """Joint bucket-index span of both signs at ``scale`` (<= the current scale)."""
        self.flush()
        held = self._held_span()
        if held is None:
            return None
        shift = self.scale - scale
        return held[0] >> shift, held[1] >> shift

    def lattice_counts(self, scale: int, lo: int, hi: int) -> Floats:
        """Counts of the cells [neg hi .. neg lo, zero, pos lo .. pos hi] at ``scale``.

        Cells are ordered by value (most negative first); see :func:`lattice_edges`.
        """
        self.flush()
        size = hi - lo + 1
        out = np.zeros(2 * size + 1, dtype=np.float64)
        shift = self.scale - scale
        for side, sign in ((self.neg, -1), (self.pos, 1)):
            if side.counts.size == 0:
                continue
            idx = ((np.arange(side.counts.size, dtype=_I64) + side.offset) >> shift) - lo
            binned = np.bincount(idx, weights=side.counts, minlength=size)[:size]
            if sign < 0:
                out[:size] = binned[::-1]
            else:
                out[size + 1:] = binned
        out[size] = self.zero_count
        return out

    def cdf(self) -> tuple[Floats, Floats]:
        """Finite values' CDF at the right edge of every cell at the current scale."""
        span = self.span_at(self.scale)
        if span is None:
            if self.zero_count:
                return np.array([self.zero_threshold]), np.array([1.0])
            return np.zeros(0), np.zeros(0)
        edges = lattice_edges(self.scale, span[0], span[1], self.zero_threshold)
        counts = self.lattice_counts(self.scale, span[0], span[1])
        return edges[1:], np.cumsum(counts) / max(float(self.count), 1.0)

    def mass_below(self, edges: npt.ArrayLike) -> Floats:
        """Share of finite values at or below each edge.

        Inside the cell holding an edge the density is taken linear, its slope estimated from
        the neighbouring cells (the cell's own count is kept exact), which is much closer than
        a flat density where the distribution is steep.
        """
        e = np.atleast_1d(np.asarray(edges, dtype=np.float64))
        span = self.span_at(self.scale)
        total = float(self.count)
        if span is None or total <= 0:
            if self.zero_count:
                return np.where(e >= 0.0, 1.0, 0.0)
            return np.zeros(e.shape)
        bounds = lattice_edges(self.scale, span[0], span[1], self.zero_threshold)
        mass = self.lattice_counts(self.scale, span[0], span[1]) / total
        return interpolate_mass(bounds, mass, e, self.min, self.max)

    def quantile(self, q: float) -> float:
        """Approximate quantile of the finite values (relative error bounded by the scale)."""
        x, f = self.cdf()
        if x.size == 0:
            return math.nan
        return float(np.interp(q, f, x))

    # -- serialising ----------------------------------------------------------------------------
    _HEADER = struct.Struct("<BhHdqqqqqddd")

    def to_bytes(self) -> bytes:
        """Compact binary form (varint-free: zlib over int64 counts; a few hundred bytes)."""
        self.flush()
        p_first, p_counts = self.pos.trimmed()
        n_first, n_counts = self.neg.trimmed()
        header = self._HEADER.pack(
            1, self.scale, self.max_size, self.zero_threshold, self.zero_count, self.nan_count,
            self.posinf_count, self.neginf_count, self.count, self.sum, self.min, self.max,
        )
        body = struct.pack("<qIqI", p_first, p_counts.size, n_first, n_counts.size)
        payload = p_counts.astype("<i8").tobytes() + n_counts.astype("<i8").tobytes()
        return header + body + zlib.compress(payload, 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> ExpHistogram:
        fields = cls._HEADER.unpack_from(data, 0)
        if fields[0] != 1:
            raise ValueError(f"unknown sketch encoding version {fields[0]}")
        out = cls(max_size=fields[2], zero_threshold=fields[3])
        out.scale = fields[1]
        (out.zero_count, out.nan_count, out.posinf_count, out.neginf_count,
         out.count) = fields[4:9]
        out.sum, out.min, out.max = fields[9:12]
        if out.count > _NARROW_MAX:
            out.pos.widen()
            out.neg.widen()
        at = cls._HEADER.size
        p_first, p_n, n_first, n_n = struct.unpack_from("<qIqI", data, at)
        raw = np.frombuffer(zlib.decompress(data[at + struct.calcsize("<qIqI"):]), dtype="<i8")
        out.pos.add_counts(p_first, raw[:p_n].astype(_I64))
        out.neg.add_counts(n_first, raw[p_n:p_n + n_n].astype(_I64))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (base64 of :meth:`to_bytes`)."""
        return {"type": "exp_histogram", "data": base64.b64encode(self.to_bytes()).decode()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExpHistogram:
        return cls.from_bytes(base64.b64decode(data["data"]))

    def state(self) -> tuple[Any, ...]:
        """Everything that defines the histogram (for equality checks)."""
        self.flush()
        return (self.scale, self.zero_threshold, self.pos.trimmed()[0],
                tuple(self.pos.trimmed()[1].tolist()), self.neg.trimmed()[0],
                tuple(self.neg.trimmed()[1].tolist()), self.zero_count, self.nan_count,
                self.posinf_count, self.neginf_count, self.count, self.min, self.max)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExpHistogram):
            return NotImplemented
        # ``sum`` is a float total: order of addition (and overflow) may differ by rounding
        sums_match = math.isclose(self.sum, other.sum, rel_tol=1e-9, abs_tol=1e-9) or not (
            math.isfinite(self.sum) and math.isfinite(other.sum))
        return self.state() == other.state() and sums_match

    __hash__ = None  # type: ignore[assignment]

    def nbytes(self) -> int:
        """Bytes held by the bucket arrays."""
        return int(self.pos.counts.nbytes + self.neg.counts.nbytes)

    def __repr__(self) -> str:
        return (f"ExpHistogram(count={self.count}, scale={self.scale}, "
                f"buckets={self.pos.counts.size}+{self.neg.counts.size}, nan={self.nan_count})")


class NumericWindow:
    """A window of one numeric feature: its :class:`ExpHistogram` plus exact counts at cuts.

    ``cuts`` are the reference's bin edges; ``at_or_below[j]`` counts the finite values
    ``<= cuts[j]`` exactly (see :meth:`ExpHistogram.update_with_cuts`), so PSI and JS over
    the reference bins need no interpolation, even for discrete data and point masses.
    """

    __slots__ = ("at_or_below", "cuts", "hist")

    def __init__(self, hist: ExpHistogram, cuts: npt.ArrayLike = ()) -> None:
        self.hist = hist
        self.cuts = np.asarray(cuts, dtype=np.float64)
        self.at_or_below = np.zeros(self.cuts.size, dtype=_I64)

    @property
    def count(self) -> int:
        return self.hist.count

    def update(self, values: npt.ArrayLike) -> None:
        if self.cuts.size:
            self.hist.update_with_cuts(values, self.cuts, self.at_or_below)
        else:
            self.hist.update(values)

    def bin_counts(self) -> Counts:
        """Counts in the bins ``(-inf, c0], (c0, c1], ..., (c_last, inf)``."""
        edges = np.concatenate([[0], self.at_or_below, [self.hist.count]])
        return np.diff(edges)

    def merge(self, other: NumericWindow) -> None:
        self.hist.merge(other.hist)
        self.at_or_below += other.at_or_below

    def copy(self) -> NumericWindow:
        out = NumericWindow(self.hist.copy(), self.cuts)
        out.at_or_below = self.at_or_below.copy()
        return out

    def nbytes(self) -> int:
        return self.hist.nbytes() + int(self.at_or_below.nbytes)


# --- categorical ---------------------------------------------------------------------------------

OTHER = "__other__"
UNSEEN = "__unseen__"
_DISTINCT_EXACT = 1024


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


class CategoricalSketch:
    """Counts over a fixed category list (the reference's top K) plus ``other`` and ``unseen``.

    ``known`` is every category the reference had (``None``: treat all unknown values as
    ``other``). Missing values (None/NaN) are counted apart.

    >>> s = CategoricalSketch(["a", "b"], known={"a", "b", "c"})
    >>> s.update(["a", "a", "c", "zzz", None])
    >>> s.counts.tolist(), s.missing
    ([2, 0, 1, 1], 1)
    """

    __slots__ = ("_codes", "_distinct", "_hll", "categories", "counts", "known", "missing")

    def __init__(self, categories: Sequence[str], known: Iterable[str] | None = None) -> None:
        self.categories = tuple(str(c) for c in categories)
        self._codes = {c: i for i, c in enumerate(self.categories)}
        self.known: frozenset[str] | None = None if known is None else frozenset(known)
        self.counts: Counts = np.zeros(len(self.categories) + 2, dtype=_I64)
        self.missing = 0
        self._distinct: set[str] | None = set()
        self._hll: Any = None

    @property
    def other_code(self) -> int:
        return len(self.categories)

    @property
    def unseen_code(self) -> int:
        return len(self.categories) + 1

    def _code_of(self, value: str) -> int:
        code = self._codes.get(value)
        if code is not None:
            return code
        if self.known is None or value in self.known:
            return self.other_code
        return self.unseen_code

    def update(self, values: Any) -> None:
        """Add a batch: a list, a numpy array, a pandas Series or a pyarrow array."""
        keys = _as_string_array(values)
        if keys is None:
            return
        arr, n_missing = keys
        self.missing += n_missing
        if arr.size == 0:
            return
        uniq, inverse = np.unique(arr, return_inverse=True)
        codes = np.fromiter((self._code_of(u) for u in uniq.tolist()), dtype=np.intp,
                            count=uniq.size)
        self.counts += np.bincount(codes[inverse.ravel()], minlength=self.counts.size)
        self._track_distinct(uniq.tolist())

    def _track_distinct(self, values: list[str]) -> None:
        if self._distinct is not None:
            self._distinct.update(values)
            if len(self._distinct) <= _DISTINCT_EXACT:
                return
            self._hll = _new_hll()
            if self._hll is None:
                return  # no datasketches: keep counting up to the cap only
            for v in self._distinct:
                self._hll.update(v)
            self._distinct = None
            return
        if self._hll is not None:
            for v in values:
                self._hll.update(v)

    @property
    def distinct(self) -> float | None:
        """Distinct non-missing values seen: exact up to 1024, then HLL (``datasketches`` extra).

        ``None`` above 1024 distinct values when ``datasketches`` is not installed.
        """
        if self._distinct is not None:
            if len(self._distinct) > _DISTINCT_EXACT:
                return None
            return float(len(self._distinct))
        return float(self._hll.get_estimate()) if self._hll is not None else None

    @property
    def total(self) -> int:
        return int(self.counts.sum()) + self.missing

    @property
    def unseen_rate(self) -> float:
        """Share of non-missing values never seen in the reference."""
        n = int(self.counts.sum())
        return float(self.counts[-1]) / n if n else 0.0

    def empty_like(self) -> CategoricalSketch:
        return CategoricalSketch(self.categories, self.known)

    def merge(self, other: CategoricalSketch) -> None:
        """Add ``other`` (same category list) into this sketch, exactly."""
        if other.categories != self.categories:
            raise ValueError("cannot merge categorical sketches over different categories")
        self.counts += other.counts
        self.missing += other.missing
        if self._distinct is not None and other._distinct is not None:
            self._track_distinct(list(other._distinct))
        elif self._hll is not None and other._hll is not None:
            import datasketches

            union = datasketches.hll_union(12)
            union.update(self._hll)
            union.update(other._hll)
            self._hll = union.get_result()
        elif other._distinct is not None:
            self._track_distinct(list(other._distinct))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "counts": self.counts.tolist(), "missing": self.missing}

    def load_counts(self, data: dict[str, Any]) -> None:
        self.counts = np.asarray(data["counts"], dtype=_I64)
        self.missing = int(data["missing"])


def _new_hll() -> Any:
    try:
        import datasketches
    except ImportError:
        return None
    return datasketches.hll_sketch(12)


def _as_string_array(values: Any) -> tuple[npt.NDArray[Any], int] | None:
    """Non-missing values as a numpy array of str, and the number of missing ones."""
    module = type(values).__module__
    if module.startswith("pyarrow"):
        n_missing = int(values.null_count)
        values = values.drop_null().to_pylist() if hasattr(values, "drop_null") else [
            v for v in values.to_pylist() if v is not None]
        return np.asarray([str(v) for v in values], dtype=str), n_missing
    if module.startswith("pandas"):
        mask = values.isna().to_numpy()
        kept = values[~mask].astype(str).to_numpy()
        return np.asarray(kept, dtype=str), int(mask.sum())
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.dtype.kind in "US":
        return arr.ravel().astype(str), 0
    if arr.dtype.kind == "f":
        mask = np.isnan(arr)
        return arr[~mask].astype(str), int(mask.sum())
    if arr.dtype.kind in "iub":
        return arr.ravel().astype(str), 0
    items = arr.ravel().tolist() if isinstance(arr, np.ndarray) else list(values)
    kept_items = [str(v) for v in items if not _is_missing(v)]
    return np.asarray(kept_items, dtype=str), len(items) - len(kept_items)
