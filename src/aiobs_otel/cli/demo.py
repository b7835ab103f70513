"""``aiobs-otel demo``: a realistic scenario on the embedded local default, then its report.

It runs, in this process and in well under a minute, with nothing outside 127.0.0.1:

* an LLM app: the real OpenAI SDK (``aiobs-otel[openai]``) against a local OpenAI-compatible
  endpoint it starts, plain and streamed calls, one rate-limit error and one tool call inside an
  agent;
* a short PyTorch training run, when torch is installed (with a loss spike to flag);
* a data pipeline whose input drifts halfway, watched by a drift monitor (needs numpy);
* a quality monitor whose labels arrive late, while the model degrades on one segment;
* the GPU collector, when an NVIDIA GPU is present.

Then it writes the HTML report and prints the terminal summary. A part whose optional
dependency is missing is skipped with a note.

>>> # shell: aiobs-otel demo --dir aiobs-demo   (then open aiobs-demo/report.html)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Skip(Exception):
    """A part of the demo that cannot run here (missing optional dependency, no GPU)."""


# Monitors report through observable instruments: keep them alive until the last export.
_ALIVE: list[Any] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default="aiobs-demo",
                        help="telemetry directory, emptied first (default: ./aiobs-demo)")
    parser.add_argument("--html", default=None,
                        help="HTML report path (default: DIR/report.html)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (for tests)")


# --- the parts ----------------------------------------------------------------------------------


def llm_app(quick: bool) -> str:
    try:
        import openai
    except ImportError:
        raise Skip("the OpenAI SDK is not installed: pip install 'aiobs-otel[openai]'") from None
    from .._core.genai import agent, tool
    from ..instrumentation import instrument
    from ._fake_openai import FakeOpenAI

    instrument("openai")
    tools: Any = [{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]

    @tool(name="get_weather")
    def get_weather(city: str) -> str:
        time.sleep(0.02)
        return f"18°C and sunny in {city}"

    questions = ["What is the capital of France?", "Explain binary search briefly.",
                 "Why clip gradients?", "When will my order arrive?"]
    calls = errors = 0
    with FakeOpenAI() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="demo-key", max_retries=0)
        rounds = 3 if quick else 8
        for i in range(rounds):
            for model in ("gpt-4o-mini", "gpt-4o"):
                client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": questions[i % 4]}],
                    temperature=0.2, max_tokens=200)
                calls += 1
            stream = client.chat.completions.create(
                model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
                messages=[{"role": "user", "content": questions[(i + 1) % 4]}])
            for _ in stream:
                pass
            calls += 1
        try:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "[429] burst"}])
        except openai.RateLimitError:
            errors += 1
        calls += 1
        with agent(name="weather-assistant"):
            messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
            first = client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                                   tools=tools)
            call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
            args = json.loads(call.function.arguments)  # type: ignore[union-attr]
            messages += [first.choices[0].message.model_dump(exclude_none=True),
                         {"role": "tool", "tool_call_id": call.id,
                          "content": get_weather(**args)}]
            client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
            calls += 2
    return f"{calls} calls to a local OpenAI-compatible endpoint ({errors} rate-limited, " \
           "1 tool call, streaming and not)"


def training(quick: bool) -> str:
    try:
        import torch
    except ImportError:
        raise Skip("PyTorch is not installed (pip install torch)") from None
    from .._core.training import train_step, training_run

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    inputs = torch.randn(2048, 16)
    targets = inputs[:, :4].sum(dim=1, keepdim=True)
    steps = 30 if quick else 60
    spike_at = steps * 3 // 4

    def batches() -> Any:
        for step in range(steps):
            time.sleep(0.002 if step % 10 else 0.02)  # a slow batch now and then: data wait
            index = torch.randint(0, len(inputs), (64,))
            y = targets[index] * (25.0 if step == spike_at else 1.0)  # one corrupt batch
            yield inputs[index], y

    with training_run(name="demo-regressor", model=model, optimizer=optimizer,
                            framework="pytorch") as run:
        for x, y in run.watch_loader(batches()):
            with train_step(batch_size=len(x)) as step:
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()  # type: ignore[no-untyped-call]
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
                step.record(loss=loss, grad_norm=norm)
    return f"{steps} steps of a small PyTorch model, with a corrupt batch at step {spike_at}"


def data_pipeline(quick: bool) -> str:
    try:
        import numpy as np
    except ImportError:
        raise Skip("numpy is not installed: pip install 'aiobs-otel[numpy]'") from None
    from .._core.pipeline import pipeline_stage
    from ..drift import DriftMonitor

    rng = np.random.default_rng(11)
    size = 2000
    reference = {"amount": rng.lognormal(3.5, 0.5, size * 3), "age": rng.normal(41, 12, size * 3),
                 "items": rng.poisson(3, size * 3).astype(float)}
    monitor = DriftMonitor(name="orders", reference=reference, window_size=size,
                                 min_count=500, hysteresis=(2, 3), cooldown_windows=2)
    _ALIVE.append(monitor)

    @pipeline_stage(name="extract", dataset="orders")
    def extract(batch: int) -> dict[str, Any]:
        drifted = batch >= batches // 2  # halfway: a pricing change inflates amounts
        amount = rng.lognormal(3.5 + (0.6 if drifted else 0.0), 0.5, size)
        age = rng.normal(41, 12, size)
        age[rng.random(size) < 0.03] = np.nan
        return {"amount": amount, "age": age, "items": rng.poisson(3, size).astype(float)}

    def clean(rows: dict[str, Any]) -> dict[str, Any]:
        with pipeline_stage(name="clean", dataset="orders") as stage:
            stage.record_input(rows)
            keep = ~np.isnan(rows["age"])
            stage.record_dropped(int((~keep).sum()), reason="missing_age")
            out = {name: values[keep] for name, values in rows.items()}
            stage.record_output(out)
            return out

    @pipeline_stage(name="load", dataset="orders")
    def load(rows: dict[str, Any], batch: int) -> dict[str, Any]:
        if batch == 3:
            raise TimeoutError("warehouse write timed out")
        return rows

    batches = 8 if quick else 12
    failures = 0
    for batch in range(batches):
        time.sleep(0.25)  # batches arrive over a few seconds, so the scores form a curve
        rows = clean(extract(batch))
        monitor.observe(rows)
        try:
            load(rows, batch)
        except TimeoutError:
            failures += 1
    monitor.flush()
    return f"{batches} batches through 3 stages ({failures} failed load); input drifts from " \
           f"batch {batches // 2}: monitor status {monitor.status()}"


def quality(quick: bool) -> str:
    try:
        import numpy as np
    except ImportError:
        raise Skip("numpy is not installed: pip install 'aiobs-otel[numpy]'") from None
    from .._core.quality import QualityMonitor, record_evaluation

    rng = np.random.default_rng(5)
    monitor = QualityMonitor(name="churn-model", task="binary", window_size=400,
                                   min_samples=50, baseline_windows=2, alert_after=1)
    _ALIVE.append(monitor)
    pending: list[tuple[Any, Any]] = []
    rounds = 16
    for i in range(rounds):
        ids = np.arange(i * 200, (i + 1) * 200)
        truth = rng.integers(0, 2, 200)
        channel = np.where(rng.random(200) < 0.5, "web", "mobile")
        error_rate = np.where((channel == "mobile") & (i >= rounds // 2), 0.35, 0.08)
        predicted = np.where(rng.random(200) < error_rate, 1 - truth, truth)
        scores = np.clip(np.where(predicted == 1, 0.78, 0.22) + rng.normal(0, 0.12, 200), 0, 1)
        monitor.record_predictions(ids, predicted, scores=scores, segments={"channel": channel})
        pending.append((ids, truth))
        if len(pending) > 2:  # labels arrive two batches late
            old_ids, old_truth = pending.pop(0)
            monitor.record_labels(old_ids, old_truth)
        time.sleep(0.25)  # batches over a few seconds: the metrics form a curve
    for old_ids, old_truth in pending:
        monitor.record_labels(old_ids, old_truth)
    for index in range(6):
        record_evaluation("relevance", score=0.55 + 0.07 * index, model="gpt-4o-mini",
                                label="relevant" if index else "irrelevant")
    return f"{rounds * 200} predictions, labels two batches late; the mobile segment degrades " \
           "halfway"


def gpu(quick: bool) -> str:
    from ..collectors.gpu import gpu_collector

    try:
        collector = gpu_collector(interval=0.5)
    except ImportError as exc:
        raise Skip(str(exc)) from None
    if not collector.running or not collector.wait_for_sample(3):
        collector.stop()
        raise Skip("no NVIDIA GPU found")
    return f"sampling {len(collector.devices)} GPU(s) in the background"


PARTS: list[tuple[str, Callable[[bool], str]]] = [
    ("GPU collector", gpu),
    ("LLM app", llm_app),
    ("training run", training),
    ("data pipeline and drift", data_pipeline),
    ("model quality", quality),
]


# --- the command --------------------------------------------------------------------------------


def _fresh(directory: Path) -> None:
    """Empty the telemetry files of an earlier demo run (only those)."""
    if not directory.exists():
        return
    for path in directory.glob("*.jsonl"):
        if path.name.split(".")[0] in ("traces", "metrics", "logs"):
            path.unlink()


def run(args: argparse.Namespace) -> int:
    from ..setup.providers import configure, shutdown
    from . import html_report, report, sinkdata

    directory = Path(args.dir)
    html = Path(args.html) if args.html else directory / "report.html"
    _fresh(directory)
    started = time.monotonic()
    configure(service_name="aiobs-demo", sink_dir=str(directory),
                    traces_exporter="local", metrics_exporter="local", logs_exporter="local",
                    metric_export_interval_ms=1000)
    width = max(len(title) for title, _ in PARTS)
    print(f"aiobs-otel demo: telemetry goes to {directory.resolve()}")
    ran = 0
    for title, part in PARTS:
        t0 = time.monotonic()
        try:
            summary = part(bool(args.quick))
        except Skip as skip:
            print(f"  - {title.ljust(width)}  skipped: {skip}")
            continue
        except Exception as exc:  # a broken part must not stop the others
            print(f"  ! {title.ljust(width)}  failed: {exc!r}")
            continue
        ran += 1
        print(f"  + {title.ljust(width)}  {summary} ({time.monotonic() - t0:.1f} s)")
    time.sleep(1.1)  # one more metric export, so every gauge has its latest point
    shutdown()
    _ALIVE.clear()
    data = sinkdata.load(directory)
    html_report.write(data, html)
    print()
    sys.stdout.write(report.render(data))
    print(f"\nHTML report: {html.resolve()}  ({len(html_report.chart_titles(data))} charts; "
          f"open it in a browser, no network needed)")
    print(f"demo finished in {time.monotonic() - started:.1f} s")
    return 0 if ran else 1
