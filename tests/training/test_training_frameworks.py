"""PyTorch Lightning and Hugging Face Trainer callbacks on tiny CPU models."""

from __future__ import annotations

import pytest

from aiobs_otel import semconv
from aiobs_otel.testing import capture

torch = pytest.importorskip("torch")


def _dataset(n=32):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=generator)
    return torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))


def test_lightning_fit_reports_a_run_and_every_step(tmp_path):
    pl = pytest.importorskip("pytorch_lightning")

    from aiobs_otel.instrumentation.lightning import TelemetryCallback

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.02)

    loader = torch.utils.data.DataLoader(_dataset(), batch_size=8)
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[TelemetryCallback(name="lit")])
    with capture() as t:
        trainer.fit(Tiny(), loader)
        (run_span,) = t.spans("training_run lit")
        assert run_span.attributes[semconv.TRAINING_FRAMEWORK] == "lightning"
        assert run_span.attributes[semconv.TRAINING_MODEL_PARAMETERS] == 5
        steps = t.spans("train_step")
        assert len(steps) == 8
        assert all(s.attributes[semconv.TRAINING_BATCH_SIZE] == 8 for s in steps)
        assert all(s.attributes[semconv.TRAINING_LOSS_ATTR] >= 0 for s in steps)
        assert all(s.attributes[semconv.TRAINING_LR_ATTR] == 0.02 for s in steps)
        (wait,) = t.metrics(semconv.TRAINING_DATA_WAIT_DURATION)
        assert wait.count >= 6


def test_transformers_trainer_reports_steps_loss_grad_norm_and_checkpoints(tmp_path):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")

    from aiobs_otel.instrumentation.transformers import TelemetryCallback

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x, labels=None):
            out = self.layer(x)
            loss = torch.nn.functional.mse_loss(out, labels) if labels is not None else None
            return {"loss": loss, "logits": out}

    class Rows(torch.utils.data.Dataset):
        def __init__(self):
            self.data = _dataset()

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            x, y = self.data[i]
            return {"x": x, "labels": y}

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=8, num_train_epochs=2,
        logging_steps=2, save_steps=4, save_strategy="steps", report_to=[],
        use_cpu=True, disable_tqdm=True, max_grad_norm=1.0,
    )
    trainer = transformers.Trainer(model=Tiny(), args=args, train_dataset=Rows(),
                                   callbacks=[TelemetryCallback(name="hf")])
    with capture() as t:
        trainer.train()
        (run_span,) = t.spans("training_run hf")
        assert run_span.attributes[semconv.TRAINING_FRAMEWORK] == "transformers"
        steps = t.spans("train_step")
        assert len(steps) == 8
        logged = [s for s in steps if semconv.TRAINING_LOSS_ATTR in s.attributes]
        assert len(logged) == 4
        assert all(semconv.TRAINING_GRAD_NORM_ATTR in s.attributes for s in logged)
        assert all(semconv.TRAINING_LR_ATTR in s.attributes for s in logged)
        checkpoints = t.spans("checkpoint")
        assert len(checkpoints) == 2
        (point,) = t.metrics(semconv.TRAINING_CHECKPOINT_DURATION)
        assert point.count == 2
