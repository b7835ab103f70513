"""The id hash table and the pending store against a plain-dict model."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aiobs_otel.quality.store import IdTable, PendingStore, id_keys

batches = st.lists(
    st.tuples(st.sampled_from(["insert", "pop"]),
              st.lists(st.integers(-5, 60), min_size=0, max_size=40)),
    min_size=1, max_size=30,
)


@settings(max_examples=80, deadline=None)
@given(batches)
def test_id_table_behaves_like_a_dict(operations):
    table = IdTable(capacity=16)  # tiny: forces collisions, tombstones and rehashes
    model: dict[int, int] = {}
    sequence = 0
    for kind, keys in operations:
        array = np.array(keys, dtype=np.int64)
        if kind == "insert":
            values = np.arange(sequence, sequence + len(keys), dtype=np.int64)
            sequence += len(keys)
            losers = table.insert(array, values)
            expected_losers = []
            for key, value in zip(keys, values.tolist()):
                if key in model:
                    expected_losers.append(min(model[key], value))
                    model[key] = max(model[key], value)
                else:
                    model[key] = value
            assert sorted(losers.tolist()) == sorted(expected_losers)
        else:
            got = table.pop(array).tolist()
            for key in set(keys):
                values = [v for k, v in zip(keys, got) if k == key]
                hits = [v for v in values if v != -1]
                if key in model:  # exactly one occurrence of a repeated key gets the value
                    assert hits == [model.pop(key)]
                else:
                    assert hits == []
        assert len(table) == len(model)


def test_string_ids_are_hashed_consistently():
    a = id_keys(["req-1", "req-2", "req-3"])
    b = id_keys(np.array(["req-3", "req-1"]))
    assert a[2] == b[0] and a[0] == b[1]
    assert id_keys(np.array([7, 8], dtype=np.uint32)).tolist() == [7, 8]


def _add(store, keys, now):
    keys = np.asarray(keys, dtype=np.int64)
    n = keys.size
    store.add(keys, np.ones(n), np.full(n, 0.5), [], now)


def test_ttl_expiry_is_counted():
    store = PendingStore(max_pending=1000, ttl_s=10.0, initial_capacity=4)
    _add(store, [1, 2, 3], now=0.0)
    _add(store, [4, 5], now=5.0)
    joined = store.take(np.array([2], dtype=np.int64), now=6.0)
    assert joined.label_index.tolist() == [0]
    assert store.pending == 4
    joined = store.take(np.array([1, 4]), now=12.0)  # 1 and 3 expired at 10 s, 4 is fine
    assert joined.label_index.tolist() == [1]
    assert store.expired_ttl == 2
    assert store.pending == 1


def test_capacity_eviction_is_counted_and_memory_bounded():
    store = PendingStore(max_pending=100, ttl_s=1e9, initial_capacity=8)
    for batch in range(10):
        _add(store, np.arange(batch * 50, batch * 50 + 50), now=float(batch))
    assert store.pending == 100
    assert store.expired_capacity == 400
    joined = store.take(np.arange(0, 500), now=20.0)
    assert sorted(joined.label_index.tolist()) == list(range(400, 500))
    big = store.nbytes
    _add(store, np.arange(1000, 1300), now=21.0)  # a batch larger than the whole store
    assert store.pending == 100 and store.expired_capacity == 600
    assert store.nbytes <= big * 2


def test_answered_rows_do_not_grow_the_store():
    store = PendingStore(max_pending=10_000, ttl_s=1e9, initial_capacity=64)
    for batch in range(200):
        keys = np.arange(batch * 50, batch * 50 + 50)
        _add(store, keys, now=float(batch))
        store.take(keys, now=float(batch))
    assert store.pending == 0 and store.expired_capacity == 0
    assert store._capacity <= 128


def test_repeated_prediction_id_replaces_the_older_row():
    store = PendingStore(max_pending=100, ttl_s=1e9)
    store.add(np.array([5]), np.array([0.0]), np.array([0.1]), [], 0.0)
    store.add(np.array([5]), np.array([1.0]), np.array([0.9]), [], 1.0)
    assert store.replaced == 1 and store.pending == 1
    joined = store.take(np.array([5, 5]), now=2.0)
    assert joined.prediction.tolist() == [1.0]  # the later prediction, joined once
