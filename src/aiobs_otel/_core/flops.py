"""Dense peak FLOP/s per accelerator and dtype, and the FLOPs-per-sample estimate behind MFU.

MFU = achieved FLOP/s ÷ the device's *dense* peak for the compute dtype. Datasheets quote
2:4-sparse figures that are twice as high; the table below is dense. Training a dense model
costs about ``6 · N`` FLOPs per sample (or per token for a language model, with N the
non-embedding parameters): 2·N forward, 4·N backward.

>>> peak_flops("NVIDIA H100 80GB HBM3", "bf16")
989400000000000.0
>>> training_flops_per_sample(1_000_000, tokens_per_sample=None)
6000000.0
"""

from __future__ import annotations

from typing import Final

# Dense TFLOP/s by (chip, precision). "tf32" is what fp32 matmuls run at when TF32 is allowed.
PEAK_TFLOPS: Final[dict[str, dict[str, float]]] = {
    "A100": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0},
    "H100 SXM": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4, "fp8": 1978.9},
    "H100 PCIe": {"fp32": 51.0, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0, "fp8": 1513.0},
    "H100 NVL": {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5, "fp8": 1670.5},
    "H200 SXM": {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4, "fp8": 1978.9},
    "H200 NVL": {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5, "fp8": 1670.5},
}

PRECISIONS: Final = ("fp32", "tf32", "bf16", "fp16", "fp8")
_ALIASES: Final = {
    "float32": "fp32", "32": "fp32", "32-true": "fp32",
    "bfloat16": "bf16", "bf16-mixed": "bf16", "bf16-true": "bf16",
    "float16": "fp16", "half": "fp16", "16": "fp16", "16-mixed": "fp16", "16-true": "fp16",
    "mixed_float16": "fp16", "mixed_bfloat16": "bf16",
    "float8": "fp8", "float8_e4m3fn": "fp8", "float8_e5m2": "fp8",
}


def normalize_precision(precision: str | None) -> str | None:
    """``"bfloat16"``/``"bf16-mixed"``/``torch.bfloat16`` spelled as text → ``"bf16"``."""
    if precision is None:
        return None
    value = str(precision).strip().lower().removeprefix("torch.")
    value = _ALIASES.get(value, value)
    return value if value in PRECISIONS else None


def chip_of(device_name: str) -> str | None:
    """Map a CUDA/NVML device name (``"NVIDIA H100 80GB HBM3"``) to a row of the table."""
    name = device_name.lower()
    if "h200" in name:
        return "H200 NVL" if "nvl" in name else "H200 SXM"
    if "h100" in name:
        if "nvl" in name:
            return "H100 NVL"
        if "pcie" in name:
            return "H100 PCIe"
        return "H100 SXM"
    if "a100" in name:
        return "A100"
    return None


def peak_flops(device_name: str, precision: str | None) -> float | None:
    """Dense peak FLOP/s of one device for ``precision``, or None when the chip is not known."""
    chip = chip_of(device_name)
    dtype = normalize_precision(precision)
    if chip is None or dtype is None:
        return None
    tflops = PEAK_TFLOPS[chip].get(dtype)
    return None if tflops is None else tflops * 1e12


def training_flops_per_sample(parameters: int, tokens_per_sample: int | None) -> float:
    """``6 · N`` per sample, times the tokens in a sample for a language model."""
    return 6.0 * parameters * (tokens_per_sample or 1)


def mfu(flops_per_step: float, step_seconds: float, peak: float) -> float | None:
    """Model FLOPs utilisation of one step on one device (None for a zero-length step)."""
    if step_seconds <= 0 or peak <= 0:
        return None
    return flops_per_step / step_seconds / peak
