"""The bounded, time-limited store of predictions waiting for their labels.

Ids become int64 keys: integer ids as they are, anything else (strings, UUIDs) through Python's
``hash`` (64-bit; a collision among a million pending ids has a probability of about 3e-8). Keys
live in an open-addressing hash table held in two numpy arrays, probed for a whole batch at a
time, so joining 10k labels costs a handful of vectorised passes instead of 10k dict operations.

Rows sit in a ring (the "slab") in arrival order, addressed by a sequence number. The ring grows
by doubling up to ``max_pending`` rows; beyond that the oldest pending rows are evicted, and
rows older than the time-to-live expire. Both are counted, never silently lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .encoding import as_array

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
_EMPTY = -1
_TOMBSTONE = -2
_MAX_LOAD = 0.6
_TARGET_LOAD = 0.3


def id_keys(ids: Any) -> IntArray:
    """int64 keys for ids: integers as they are, other values hashed."""
    array = as_array(ids)
    if array.dtype.kind in "iub":
        return array.astype(np.int64, copy=False)
    items = array.tolist()
    return np.fromiter(map(hash, items), dtype=np.int64, count=len(items))


class IdTable:
    """int64 key -> int64 value (>= 0), with batch insert, pop and discard."""

    def __init__(self, capacity: int = 1024) -> None:
        self._allocate(capacity)
        self.live = 0

    def _allocate(self, capacity: int) -> None:
        bits = max(4, math.ceil(math.log2(max(capacity, 16))))
        self._size = 1 << bits
        self._mask = self._size - 1
        self._shift = np.uint64(64 - bits)
        # key and value of a slot side by side: one cache line serves both lookups
        self._slots = np.zeros((self._size, 2), dtype=np.int64)
        self._slots[:, 1] = _EMPTY
        self._keys = self._slots[:, 0]
        self._values = self._slots[:, 1]
        self._used = 0  # live entries plus tombstones

    def __len__(self) -> int:
        return self.live

    @property
    def nbytes(self) -> int:
        return int(self._slots.nbytes)

    def _home(self, keys: IntArray) -> IntArray:
        return ((keys.view(np.uint64) * _MULTIPLIER) >> self._shift).view(np.int64)

    def _find(self, keys: IntArray) -> IntArray:
        """The slot holding each key, or -1."""
        slots = self._home(keys)
        found = np.full(keys.size, -1, dtype=np.int64)
        pending = np.arange(keys.size)
        while pending.size:
            at = slots[pending]
            values = self._values[at]
            hit = (values >= 0) & (self._keys[at] == keys[pending])
            found[pending[hit]] = at[hit]
            pending = pending[~hit & (values != _EMPTY)]
            slots[pending] = (slots[pending] + 1) & self._mask
        return found

    def insert(self, keys: IntArray, values: IntArray) -> IntArray:
        """Map ``keys`` to ``values``; for a key already present the larger value wins.

        Returns the values that lost (one per replaced or duplicate entry). New keys only take
        empty slots (never tombstones), so a probe that reaches an empty slot has proven the
        key absent; tombstones are dropped by the next rehash.
        """
        if keys.size == 0:
            return np.zeros(0, dtype=np.int64)
        if self._used + keys.size > _MAX_LOAD * self._size:
            self._rehash(self.live + keys.size)
        losers: list[IntArray] = []
        slots = self._home(keys)
        pending = np.arange(keys.size)
        while pending.size:
            at = slots[pending]
            current = self._values[at]
            same = (current >= 0) & (self._keys[at] == keys[pending])
            if same.any():  # already present, or placed earlier in this batch
                losers.append(self._keep_largest(at[same], values[pending[same]]))
            free = current == _EMPTY
            candidates, cand_slots = pending[free], at[free]
            self._values[cand_slots] = candidates  # races on a slot: one candidate wins
            won = self._values[cand_slots] == candidates
            win_slots, winners = cand_slots[won], candidates[won]
            self._keys[win_slots] = keys[winners]
            self._values[win_slots] = values[winners]
            self._used += int(winners.size)
            self.live += int(winners.size)
            moving = pending[~free & ~same]
            slots[moving] = (slots[moving] + 1) & self._mask
            pending = np.concatenate([moving, candidates[~won]])
        return np.concatenate(losers) if losers else np.zeros(0, dtype=np.int64)

    def _keep_largest(self, slots: IntArray, values: IntArray) -> IntArray:
        before = self._values[slots].copy()
        np.maximum.at(self._values, slots, values)
        after = self._values[slots]
        lost_old = np.unique(before[after != before])
        lost_new = values[values != after]
        return np.concatenate([lost_old, lost_new])

    def pop(self, keys: IntArray) -> IntArray:
        """Remove ``keys``; their values, or -1 for absent keys (and for repeats of a key)."""
        if keys.size == 0:
            return np.zeros(0, dtype=np.int64)
        slots = self._find(keys)
        hit = np.flatnonzero(slots >= 0)
        out = np.full(keys.size, -1, dtype=np.int64)
        if hit.size:
            hit_slots = slots[hit]
            values = self._values[hit_slots]
            # a key repeated in one batch: only one occurrence gets the value (mark and read back)
            marks = -3 - np.arange(hit.size)
            self._values[hit_slots[::-1]] = marks[::-1]  # written last: the first occurrence
            first = self._values[hit_slots] == marks
            out[hit[first]] = values[first]
            self._values[hit_slots] = _TOMBSTONE
            self.live -= int(np.count_nonzero(first))
        return out

    def discard(self, keys: IntArray, values: IntArray) -> None:
        """Remove each key whose current value is exactly the given one."""
        if keys.size == 0:
            return
        slots = self._find(keys)
        ok = slots >= 0
        ok[ok] = self._values[slots[ok]] == values[ok]
        gone = np.unique(slots[ok])
        self._values[gone] = _TOMBSTONE
        self.live -= int(gone.size)

    def _rehash(self, needed: int) -> None:
        live = self._values >= 0
        keys, values = self._keys[live], self._values[live]
        self._allocate(max(16, int(needed / _TARGET_LOAD)))
        self.live = 0
        self.insert(keys, values)


@dataclass
class Joined:
    """Rows taken out of the store by labels: positions into the label batch, plus columns."""

    label_index: IntArray
    prediction: FloatArray
    score: FloatArray
    timestamp: FloatArray
    segments: list[IntArray]


class PendingStore:
    """Predictions by id, in arrival order, bounded by ``max_pending`` rows and ``ttl_s``."""

    def __init__(self, max_pending: int, ttl_s: float, initial_capacity: int = 16_384) -> None:
        self.max_pending = max_pending
        self.ttl_s = ttl_s
        self.table = IdTable(min(initial_capacity, max_pending) * 2)
        self.segment_keys = 0
        self._capacity = max(1, min(initial_capacity, max_pending))
        self._allocate_columns(self._capacity)
        self.head = 0  # sequence number of the next row
        self.tail = 0  # oldest row not yet retired
        self.expired_ttl = 0
        self.expired_capacity = 0
        self.replaced = 0
        self._latest_time = -math.inf

    def _allocate_columns(self, capacity: int) -> None:
        self._key = np.zeros(capacity, dtype=np.int64)
        self._prediction = np.zeros(capacity, dtype=np.float64)
        self._score = np.zeros(capacity, dtype=np.float64)
        self._time = np.zeros(capacity, dtype=np.float64)
        self._pending = np.zeros(capacity, dtype=bool)
        self._segments = [np.full(capacity, -1, dtype=np.int16)
                          for _ in range(self.segment_keys)]

    @property
    def pending(self) -> int:
        return self.table.live

    @property
    def nbytes(self) -> int:
        columns = [self._key, self._prediction, self._score, self._time, self._pending,
                   *self._segments]
        return self.table.nbytes + sum(int(c.nbytes) for c in columns)

    def add_segment_key(self) -> None:
        self.segment_keys += 1
        self._segments.append(np.full(self._capacity, -1, dtype=np.int16))

    def _columns(self) -> list[NDArray[Any]]:
        return [self._key, self._prediction, self._score, self._time, self._pending,
                *self._segments]

    def _grow(self, needed: int) -> None:
        capacity = self._capacity
        while capacity < needed:
            capacity *= 2
        capacity = min(capacity, self.max_pending)
        if capacity == self._capacity:
            return
        live = np.arange(self.tail, self.head)
        old_at, new_at = live % self._capacity, live % capacity
        old = self._columns()
        self._capacity = capacity
        self._allocate_columns(capacity)
        for source, target in zip(old, self._columns(), strict=True):
            target[new_at] = source[old_at]

    def _retire(self, new_tail: int, *, by_ttl: bool) -> None:
        """Forget rows [tail, new_tail); the ones still waiting count as expired."""
        if new_tail <= self.tail:
            return
        sequence = np.arange(self.tail, new_tail)
        at = sequence % self._capacity
        still = self._pending[at]
        waiting = at[still]
        if waiting.size:
            self.table.discard(self._key[waiting], sequence[still])
            self._pending[waiting] = False
            if by_ttl:
                self.expired_ttl += int(waiting.size)
            else:
                self.expired_capacity += int(waiting.size)
        self.tail = new_tail

    def _skip_answered(self) -> None:
        """Move the tail past rows whose label already arrived (they hold no pending data)."""
        chunk = 65_536
        while self.tail < self.head:
            start = self.tail % self._capacity
            stop = min(start + chunk, self._capacity, start + self.head - self.tail)
            waiting = self._pending[start:stop]
            if waiting.any():
                self.tail += int(np.argmax(waiting))
                return
            self.tail += stop - start

    def expire(self, now: float) -> None:
        """Retire every row older than the time-to-live."""
        cutoff = now - self.ttl_s
        low, high = self.tail, self.head
        if low == high or self._time[low % self._capacity] >= cutoff:
            return
        while low < high:  # first row at or after the cutoff (times rise with the sequence)
            middle = (low + high) // 2
            if self._time[middle % self._capacity] < cutoff:
                low = middle + 1
            else:
                high = middle
        self._retire(low, by_ttl=True)

    def add(self, keys: IntArray, prediction: FloatArray, score: FloatArray,
            segments: list[IntArray | None], now: float) -> None:
        """Store one batch of predictions (a later prediction for a pending id replaces it)."""
        now = max(now, self._latest_time)
        self._latest_time = now
        self.expire(now)
        n = int(keys.size)
        if n > self.max_pending:  # only the newest rows of an oversized batch can be kept
            skip = n - self.max_pending
            self.expired_capacity += skip
            keys, prediction, score = keys[skip:], prediction[skip:], score[skip:]
            segments = [None if s is None else s[skip:] for s in segments]
            n = self.max_pending
        if n == 0:
            return
        needed = self.head + n - self.tail
        if needed > self._capacity:
            self._skip_answered()
            needed = self.head + n - self.tail
        if needed > self._capacity:
            self._grow(needed)
        if needed > self._capacity:
            self._retire(self.head + n - self._capacity, by_ttl=False)
        sequence = np.arange(self.head, self.head + n)
        at = sequence % self._capacity
        self._key[at] = keys
        self._prediction[at] = prediction
        self._score[at] = score
        self._time[at] = now
        self._pending[at] = True
        for column, codes in zip(self._segments, segments, strict=True):
            column[at] = -1 if codes is None else codes
        self.head += n
        losers = self.table.insert(keys, sequence)
        if losers.size:
            self._pending[losers % self._capacity] = False
            self.replaced += int(losers.size)

    def take(self, keys: IntArray, now: float) -> Joined:
        """Remove the predictions for these ids; unknown ids are simply not in the result."""
        now = max(now, self._latest_time)
        self._latest_time = now
        self.expire(now)
        sequence = self.table.pop(keys)
        found = np.flatnonzero(sequence >= 0)
        at = sequence[found] % self._capacity
        self._pending[at] = False
        return Joined(
            label_index=found,
            prediction=self._prediction[at],
            score=self._score[at],
            timestamp=self._time[at],
            segments=[column[at].astype(np.int64) for column in self._segments],
        )
