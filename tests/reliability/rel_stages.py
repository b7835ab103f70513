"""Module-level decorated training/pipeline callables for the pickling and spawn tests."""

from __future__ import annotations

import aiobs_otel as aiobs


@aiobs.pipeline_stage("rel-clean")
def clean(rows: list[int]) -> list[int]:
    return [r for r in rows if r >= 0]


@aiobs.train_step()
def step(x: int) -> int:
    return x * 2
