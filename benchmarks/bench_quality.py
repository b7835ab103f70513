"""Throughput of QualityMonitor's hot path against a bare numpy join, in the same run.

Run: ``pytest benchmarks/bench_quality.py --benchmark-only --benchmark-columns=min,median,ops``

One round = ``record_predictions`` of a 10k-row batch plus ``record_labels`` of the 10k labels
of the batch predicted five rounds earlier, shuffled (so 50k predictions are always pending).
Rows/s = 10_000 / round time; ``extra_info["rows_per_s"]`` holds it (median).

(a) numpy baseline: the least work a join by id needs, sort the earlier batch's ids,
    ``searchsorted`` the labels into them, gather predictions and count correct ones;
(b) the monitor, integer ids, no scores or segments;
(c) the monitor with scores and one integer-coded segment (8 values);
(e) as (c) with string segment values (one C-level dict ``map`` per batch);
(d) as (e) with string ids (hashed with Python's ``hash``).
Target: (b) and (c) at >= 5 M rows/s. No timed assertions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import aiobs_otel as aiobs
from aiobs_otel.testing import capture

BATCH = 10_000
LAG = 5
RING = 16  # distinct pre-generated batches, reused with an id offset


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, (RING, BATCH))
    y_pred = np.where(rng.random((RING, BATCH)) < 0.9, y_true, 1 - y_true)
    return {
        "order": np.stack([rng.permutation(BATCH) for _ in range(RING)]),
        "y_true": y_true, "y_pred": y_pred, "scores": rng.random((RING, BATCH)),
        "region": rng.choice(np.array([f"region-{i}" for i in range(8)]), (RING, BATCH)),
        "region_code": rng.integers(0, 8, (RING, BATCH)),
        "string_ids": np.array([[f"req-{k}-{i}" for i in range(BATCH)] for k in range(RING)]),
    }


@pytest.fixture
def telemetry() -> Iterator[None]:
    with capture():
        yield


def _rounds(data: dict[str, Any], step: Callable[[int, np.ndarray, int, np.ndarray], None]
            ) -> Callable[[], None]:
    state = {"round": 0}
    base = np.arange(BATCH, dtype=np.int64)

    def one_round() -> None:
        i = state["round"]
        state["round"] = i + 1
        ids = base + i * BATCH
        j = i - LAG
        label_ids = (base[data["order"][j % RING]] + j * BATCH) if j >= 0 else None
        step(i % RING, ids, j % RING, label_ids)

    for _ in range(LAG + 2):  # warm up: fill the pending store
        one_round()
    return one_round


def _report(benchmark: Any) -> None:
    median = benchmark.stats.stats.median
    benchmark.extra_info["rows_per_s"] = round(BATCH / median)


def test_a_numpy_join_baseline(benchmark: Any, data: dict[str, Any]) -> None:
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def step(k: int, ids: np.ndarray, j: int, label_ids: np.ndarray | None) -> None:
        kept[int(ids[0])] = (ids.copy(), data["y_pred"][k].copy())
        if label_ids is not None:
            first = int(label_ids.min())
            pred_ids, pred = kept.pop(first)
            order = np.argsort(pred_ids)
            where = order[np.searchsorted(pred_ids, label_ids, sorter=order)]
            correct = int(np.count_nonzero(pred[where] == data["y_true"][j][data["order"][j]]))
            assert correct > 0

    benchmark(_rounds(data, step))
    _report(benchmark)


def _monitor_step(quality: Any, data: dict[str, Any], variant: str
                  ) -> Callable[[int, np.ndarray, int, np.ndarray | None], None]:
    scores = variant != "b_ints"
    segment_key = {"c_scores_int_segment": "region_code", "e_string_segment": "region",
                   "d_string_ids": "region"}.get(variant)
    string_ids = variant == "d_string_ids"

    def step(k: int, ids: np.ndarray, j: int, label_ids: np.ndarray | None) -> None:
        quality.record_predictions(
            data["string_ids"][k] if string_ids else ids, data["y_pred"][k],
            scores=data["scores"][k] if scores else None,
            segments={"region": data[segment_key][k]} if segment_key else None)
        if label_ids is not None:
            order = data["order"][j]
            quality.record_labels(data["string_ids"][j][order] if string_ids else label_ids,
                                  data["y_true"][j][order])

    return step


@pytest.mark.parametrize("variant", ["b_ints", "c_scores_int_segment", "e_string_segment",
                                     "d_string_ids"])
def test_monitor(benchmark: Any, data: dict[str, Any], telemetry: None, variant: str) -> None:
    quality = aiobs.QualityMonitor("bench", window_size=5_000)
    benchmark(_rounds(data, _monitor_step(quality, data, variant)))
    _report(benchmark)
    result = quality.metrics()
    assert result["labels"]["unknown"] == 0 and result["overall"]["accuracy"] > 0.85
