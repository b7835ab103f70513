"""End to end over OTLP: a tiny PyTorch run (NaN injected, fast then slow loader) exported by
the real exporters to a real OTLP receiver, in its own process (providers are per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

SCRIPT = textwrap.dedent('''
    import time, torch
    import aiobs_otel as aiobs

    def batches(n, delay):
        g = torch.Generator().manual_seed(0)
        for _ in range(n):
            time.sleep(delay)
            x = torch.randn(4, 8, generator=g)
            yield x, x.sum(dim=1, keepdim=True)

    aiobs.configure(service_name="otlp-training")
    for name, delay, nan_at in (("fast", 0.0, 30), ("slow", 0.01, None)):
        torch.manual_seed(0)
        model = torch.nn.Linear(8, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        with aiobs.training_run(name=name, model=model, optimizer=opt) as run:
            for i, (x, y) in enumerate(run.watch_loader(batches(60, delay))):
                with aiobs.train_step(batch_size=len(x)) as step:
                    opt.zero_grad()
                    loss = torch.nn.functional.mse_loss(model(x), y)
                    if i == nan_at:
                        loss = loss * float("nan")
                    loss.backward()
                    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    if torch.isfinite(norm):
                        opt.step()
                    step.record(loss=loss, grad_norm=norm)
    aiobs.shutdown()
''')


def _attrs(items):
    out = {}
    for kv in items:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind) if kind else None
    return out


def test_training_telemetry_arrives_over_otlp(otlp_receiver, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIOBS_"))}
    env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.http_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "AIOBS_STRICT": "true"})
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    names = otlp_receiver.metric_names()
    for name in ("aiobs.training.step.duration", "aiobs.training.data_wait.duration",
                 "aiobs.training.loss", "aiobs.training.grad_norm", "aiobs.training.samples",
                 "aiobs.training.step.count", "aiobs.training.throughput",
                 "aiobs.training.learning_rate", "aiobs.training.anomalies"):
        assert name in names, name
    spans = otlp_receiver.spans()
    assert {s.name for s in spans} == {"training_run fast", "training_run slow", "train_step"}
    assert sum(1 for s in spans if s.name == "train_step") == 120
    waits = {}
    for metric in otlp_receiver.metrics():
        if metric.name == "aiobs.training.data_wait.duration":
            for point in metric.histogram.data_points:
                run = _attrs(point.attributes)["aiobs.training.run.name"]
                waits[run] = max(waits.get(run, 0.0), point.sum)
    # the slow loader sleeps 10 ms before each of its 60 batches: its wait grows by about that
    assert waits["slow"] > waits["fast"]
    assert waits["slow"] - waits["fast"] > 0.5 * 60 * 0.01
    anomalies = [log for log in otlp_receiver.logs()
                 if log.event_name == "aiobs.training.anomaly"]
    kinds = {_attrs(log.attributes)["aiobs.training.anomaly.kind"] for log in anomalies}
    assert kinds == {"loss_nan", "grad_norm_nan"}
    assert all(_attrs(log.attributes)["aiobs.training.run.name"] == "fast" for log in anomalies)
