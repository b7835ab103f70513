"""Exercise the CUDA path of the training telemetry on a real GPU and print what it saw.

    python benchmarks/gpu_training_check.py        # needs torch with CUDA and one GPU

Trains a small MLP for 300 steps on ``cuda`` with ``training_run``/``train_step`` and
``record(loss=tensor, grad_norm=tensor)`` under ``torch.cuda.set_sync_debug_mode("error")``,
which raises on any synchronising CUDA call made during the loop (by us or by the loop). Then
checks: the run was timed with CUDA events, every step's loss was read, the NaN injected at
step 150 became an anomaly, the device name/UUID and the dense peak (MFU) were found. It also
times the per-step overhead against the same loop without telemetry. Exit code 0 = all good.
"""

from __future__ import annotations

import json
import math
import sys
import time


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check", file=sys.stderr)
        return 2
    import aiobs_otel as aiobs
    from aiobs_otel import semconv
    from aiobs_otel.testing import capture

    device = torch.device("cuda", torch.cuda.current_device())
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1024, 4096), torch.nn.GELU(),
                                torch.nn.Linear(4096, 1024)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
    xs = [torch.randn(256, 1024, device=device) for _ in range(8)]
    steps, nan_at = 300, 150

    def step_body(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = xs[i % len(xs)]
        opt.zero_grad(set_to_none=True)
        loss = (model(x) - x).pow(2).mean()
        if i == nan_at:
            loss = loss * float("nan")
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        # no `if torch.isfinite(norm)` here (that would sync): the host knows which step is
        # poisoned, so it drops that step's gradients and the weights stay finite
        if i == nan_at:
            opt.zero_grad(set_to_none=True)
        opt.step()
        return loss, norm

    for i in range(20):  # warm up kernels and the allocator
        step_body(i)
    torch.cuda.synchronize()

    started = time.perf_counter()
    for i in range(steps):
        if i == nan_at:
            continue
        step_body(i)
    torch.cuda.synchronize()
    bare_s = time.perf_counter() - started

    report: dict[str, object] = {"device": torch.cuda.get_device_name(device)}
    with capture() as t:
        started = time.perf_counter()
        with aiobs.training_run(name="gpu-check", model=model, optimizer=opt,
                                precision="fp32") as run:
            torch.cuda.set_sync_debug_mode("error")
            try:
                for i in run.watch_loader(range(steps)):
                    with aiobs.train_step(batch_size=256) as step:
                        loss, norm = step_body(i)
                        step.record(loss=loss, grad_norm=norm)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()
        instrumented_s = time.perf_counter() - started
        (run_span,) = t.spans("training_run gpu-check")
        step_spans = t.spans("train_step")
        losses = [s.attributes.get(semconv.TRAINING_LOSS_ATTR) for s in step_spans]
        durations = [s.attributes.get(semconv.TRAINING_STEP_DURATION_ATTR) for s in step_spans]
        anomalies = sorted({r.log_record.attributes[semconv.TRAINING_ANOMALY_KIND]
                            for r in t.logs(semconv.TRAINING_ANOMALY_EVENT)})
        mfu = [p.value for p in t.metrics(semconv.TRAINING_MFU)]
        report.update({
            "timing": run_span.attributes.get(semconv.TRAINING_TIMING),
            "device_attr": run_span.attributes.get(semconv.TRAINING_DEVICE),
            "device_name_attr": run_span.attributes.get(semconv.TRAINING_DEVICE_NAME),
            "device_uuid_attr": run_span.attributes.get(semconv.TRAINING_DEVICE_UUID),
            "peak_flops": run_span.attributes.get(semconv.TRAINING_PEAK_FLOPS_ATTR),
            "precision": run_span.attributes.get(semconv.TRAINING_PRECISION),
            "step_spans": len(step_spans),
            "losses_read": sum(1 for v in losses if v is not None),
            "nan_step_loss_is_nan": losses[nan_at] is not None and math.isnan(losses[nan_at]),
            "anomaly_kinds": anomalies,
            "step_ms_p50_events": sorted(durations)[len(durations) // 2] * 1000,
            "mfu_last": mfu[-1] if mfu else None,
            "bare_ms_per_step": bare_s / (steps - 1) * 1000,
            "instrumented_ms_per_step": instrumented_s / steps * 1000,
            "sync_debug": "no synchronising call raised during the loop",
        })
    print(json.dumps(report, indent=2))
    ok = (report["timing"] == "cuda_event" and report["step_spans"] == steps
          and report["losses_read"] == steps and report["nan_step_loss_is_nan"]
          and "loss_nan" in anomalies and report["device_uuid_attr"] is not None)
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
