"""Train a tiny PyTorch model on CPU with aiobs telemetry, then print the report.

    python examples/train_pytorch.py            # writes ./.aiobs (or AIOBS_SINK_DIR)
    aiobs-otel report

Runs in a few seconds: 300 steps of a small MLP, one injected NaN (an anomaly event), one slow
batch (a data-loader stall) and a checkpoint.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

import aiobs_otel as aiobs


def batches(n: int):
    generator = torch.Generator().manual_seed(0)
    for i in range(n):
        if i == 200:
            time.sleep(0.2)  # a slow batch: reported as a data_stall anomaly
        x = torch.randn(16, 8, generator=generator)
        yield x, x.sum(dim=1, keepdim=True)


def main() -> None:
    aiobs.configure(service_name="train-pytorch-example")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    with aiobs.training_run(name="mlp-example", model=model, optimizer=opt) as run:
        for i, (x, y) in enumerate(run.watch_loader(batches(300))):
            with aiobs.train_step(batch_size=len(x)) as step:
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.mse_loss(model(x), y)
                if i == 150:
                    loss = loss * float("nan")  # injected: reported as loss_nan / grad_norm_nan
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                if torch.isfinite(norm):
                    opt.step()
                step.record(loss=loss, grad_norm=norm)  # tensors: read later, no sync
        with run.checkpoint("model.pt"):
            torch.save(model.state_dict(), Path(tempfile.gettempdir()) / "aiobs-example.pt")
    aiobs.shutdown()

    from aiobs_otel.cli.report import render
    from aiobs_otel.cli.sinkdata import load
    from aiobs_otel.config import load_settings

    print(render(load(load_settings().sink_dir)))


if __name__ == "__main__":
    main()
