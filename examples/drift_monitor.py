"""Data pipeline + drift monitor, on the embedded local default (runs in a few seconds).

A three-stage pipeline (extract -> clean -> score) whose extract stage gains a column midway
(a schema-change event), and a DriftMonitor that sees 4 normal windows and then a sudden shift
in ``amount`` plus a new payment method. Telemetry goes to ./.aiobs (or AIOBS_SINK_DIR); the
script ends by printing ``aiobs-otel report`` for that directory.

    python examples/drift_monitor.py
"""

from __future__ import annotations

import numpy as np

import aiobs_otel as aiobs
from aiobs_otel.cli.main import main as aiobs_cli

METHODS = np.array(["card", "cash", "wire", "crypto"])


def orders(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    amount = rng.lognormal(3.0 + shift, 0.6, n)
    amount[::50] = np.nan  # missing amounts stay in the data
    method = rng.choice(METHODS, n, p=[0.6, 0.2, 0.15, 0.05]).astype(object)
    if shift:
        method[::20] = "voucher"  # a category the reference never saw
    return {"amount": amount, "items": rng.poisson(3, n).astype(float), "method": method}


@aiobs.pipeline_stage(name="extract", dataset="orders")
def extract(rng: np.random.Generator, n: int, shift: float, with_coupon: bool) -> dict:
    batch = orders(rng, n, shift)
    if with_coupon:
        batch["coupon"] = np.zeros(n)
    return batch


@aiobs.pipeline_stage(name="clean", dataset="orders")
def clean(batch: dict) -> dict:
    keep = ~np.isnan(batch["amount"])
    with aiobs.pipeline_stage(name="dedupe", dataset="orders") as stage:
        stage.record_input(batch)
        stage.record_dropped(int((~keep).sum()), reason="missing_amount")
        out = {k: np.asarray(v)[keep] for k, v in batch.items()}
        stage.record_output(out)
    return out


def main() -> None:
    settings = aiobs.configure(service_name="drift-demo")
    rng = np.random.default_rng(42)
    reference = orders(rng, 50_000)
    # a versioned, content-hashed profile: build it once, load it in every replica
    saved = aiobs.drift.build_reference(reference).save(settings.sink_dir / "reference.json")
    monitor = aiobs.DriftMonitor(name="orders-model", reference=str(saved), window_size=5_000)
    for window in range(8):
        shift = 0.5 if window >= 4 else 0.0
        batch = clean(extract(rng, 5_000, shift, with_coupon=window >= 6))
        monitor.observe(batch)
        status = {f: row["status"] for f, row in monitor.scores().items()}
        print(f"window {window}: {status}")
    aiobs.shutdown()
    aiobs_cli(["report", str(settings.sink_dir)])


if __name__ == "__main__":
    main()
