"""An instrumented process for the backend tests: every area's public API, on a loop, served on
``/metrics`` with ``configure(prometheus_port=...)``, until it is terminated.

Writes ``areas.json`` in its working directory: which areas run, and why any could not.
Usage: python emit_all.py --port 9464 [--areas llm,training,...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiobs_otel as aiobs

Tick = Callable[[int], None]
STACK = contextlib.ExitStack()


def llm_area() -> Tick:
    import openai

    from aiobs_otel.cli._fake_openai import FakeOpenAI

    server = STACK.enter_context(FakeOpenAI())
    aiobs.instrument("openai")
    client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]

    def tick(i: int) -> None:
        model = ("gpt-4o-mini", "gpt-4o")[i % 2]
        client.chat.completions.create(model=model,
                                       messages=[{"role": "user", "content": f"question {i}"}])
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "stream please"}], stream=True,
            stream_options={"include_usage": True})
        for _ in stream:
            pass
        if i % 3 == 0:
            client.chat.completions.create(model="gpt-4o-mini", tools=tools,  # type: ignore[arg-type]
                                           messages=[{"role": "user", "content": "weather?"}])
        if i % 4 == 0:
            with contextlib.suppress(openai.RateLimitError):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "[429] busy"}])

    return tick


def training_area() -> Tick:
    run = STACK.enter_context(aiobs.training_run(
        name="emitter", tokens_per_sample=128, flops_per_sample=4e7,
        peak_flops=1e12, framework="custom"))

    def batches():
        while True:
            time.sleep(0.001)  # the loader's wait, seen as data wait
            yield [0] * 32

    loader = iter(run.watch_loader(batches()))
    state = {"step": 0}

    def tick(i: int) -> None:
        for _ in range(5):
            state["step"] += 1
            step_no = state["step"]
            batch = next(loader)
            with aiobs.train_step(batch_size=len(batch)) as step:
                time.sleep(0.002)
                loss = float("nan") if step_no % 40 == 0 else 2.0 * math.exp(-step_no / 200)
                step.record(loss=loss, grad_norm=1.0 + 0.1 * math.sin(step_no), lr=1e-3)

    return tick


def gpu_area() -> Tick:
    # The fake NVML (tests/gpu/fake_nvml) comes in through LD_LIBRARY_PATH, set by the fixture.
    collector = aiobs.gpu_collector(interval=0.5, mode="node")
    STACK.callback(collector.stop)
    if not collector.wait_for_sample(10):
        raise RuntimeError(f"the GPU collector took no sample: {collector!r}")

    def tick(i: int) -> None:
        return None

    return tick


def data_area() -> Tick:
    @aiobs.pipeline_stage(name="load", dataset="orders")
    def load(i: int) -> dict[str, list]:
        n = 200
        return {"amount": [float(k % 50) if k % 10 else None for k in range(n)],
                "country": ["FR" if k % 3 else "DE" for k in range(n)]}

    def clean(rows: dict[str, list]) -> dict[str, list]:
        with aiobs.pipeline_stage(name="clean", dataset="orders") as stage:
            stage.record_input(rows)
            keep = [k for k, v in enumerate(rows["amount"]) if v is not None]
            stage.record_dropped(len(rows["amount"]) - len(keep), reason="null_amount")
            out = {col: [values[k] for k in keep] for col, values in rows.items()}
            stage.record_output(out)
            return out

    @aiobs.pipeline_stage(name="publish", dataset="orders")
    def publish(rows: dict[str, list], fail: bool) -> dict[str, list]:
        if fail:
            raise ConnectionError("warehouse unavailable")
        return rows

    def tick(i: int) -> None:
        rows = clean(load(i))
        with contextlib.suppress(ConnectionError):
            publish(rows, fail=i % 5 == 0)

    return tick


def drift_area() -> Tick:
    import numpy as np

    rng = np.random.default_rng(3)
    reference = {"amount": rng.normal(50, 10, 5000), "age": rng.normal(40, 12, 5000)}
    monitor = aiobs.DriftMonitor(name="orders", reference=reference, window_size=500,
                                 min_count=100, hysteresis=(1, 1), cooldown_windows=1)

    def tick(i: int) -> None:
        monitor.observe({"amount": rng.normal(80, 10, 250), "age": rng.normal(40, 12, 250)})

    return tick


def quality_area() -> Tick:
    import numpy as np

    rng = np.random.default_rng(5)
    monitor = aiobs.QualityMonitor(name="churn", task="binary", window_size=200, min_samples=20,
                                   baseline_windows=1, alert_after=1)
    pending: list[tuple[Any, Any]] = []
    state = {"next": 0}

    def tick(i: int) -> None:
        ids = np.arange(state["next"], state["next"] + 100)
        state["next"] += 100
        truth = rng.integers(0, 2, 100)
        wrong = rng.random(100) < (0.1 if i < 6 else 0.45)  # the model degrades
        predicted = np.where(wrong, 1 - truth, truth)
        scores = np.clip(np.where(predicted == 1, 0.8, 0.2) + rng.normal(0, 0.1, 100), 0, 1)
        monitor.record_predictions(ids, predicted, scores=scores,
                                   segments={"channel": np.where(ids % 2, "web", "mobile")})
        pending.append((ids, truth))
        if len(pending) > 2:  # labels arrive two ticks later
            old_ids, old_truth = pending.pop(0)
            monitor.record_labels(old_ids, old_truth)
        aiobs.record_evaluation("relevance", score=0.6 + 0.3 * (i % 3) / 2, model="gpt-4o-mini",
                                label="relevant" if i % 3 else "irrelevant")

    return tick


AREAS: dict[str, Callable[[], Tick]] = {
    "llm": llm_area,
    "training": training_area,
    "gpu": gpu_area,
    "data": data_area,
    "drift": drift_area,
    "quality": quality_area,
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--areas", default=",".join(AREAS))
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args()
    aiobs.configure(service_name="aiobs-emitter", prometheus_port=args.port,
                    metrics_exporter="none", traces_exporter="none", logs_exporter="none")
    running: dict[str, Tick] = {}
    status: dict[str, str] = {}
    for name in args.areas.split(","):
        try:
            running[name] = AREAS[name]()
            status[name] = "running"
        except Exception as exc:  # an area not built yet: say why, go on with the others
            status[name] = f"unavailable: {exc!r}"
            traceback.print_exc()
    Path("areas.json").write_text(json.dumps(status, indent=2))
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    i = 0
    while not stop["now"]:
        for name, tick in list(running.items()):
            try:
                tick(i)
            except Exception as exc:
                status[name] = f"failed: {exc!r}"
                running.pop(name)
                traceback.print_exc()
                Path("areas.json").write_text(json.dumps(status, indent=2))
        i += 1
        time.sleep(args.interval)
    STACK.close()
    aiobs.shutdown(timeout_s=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
