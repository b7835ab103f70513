"""Which NVML devices a process samples: CUDA_VISIBLE_DEVICES by index/UUID, rank and node mode."""

from __future__ import annotations

import pytest

from aiobs_otel.collectors._nvml import resolve_cuda_devices, select_devices

UUIDS = ["GPU-aaaa1111", "GPU-bbbb2222", "GPU-cccc3333", "GPU-aaaa4444"]


@pytest.mark.parametrize(("visible", "want"), [
    (None, [0, 1, 2, 3]),
    (("2", "0"), [2, 0]),
    (("GPU-cccc3333", "1"), [2, 1]),
    (("GPU-bbbb",), [1]),  # a unique prefix
    (("bbbb2222",), [1]),  # without the GPU- prefix
    (("GPU-aaaa", "1"), []),  # ambiguous prefix: CUDA stops at the first bad entry
    (("1", "9", "2"), [1]),  # out of range stops parsing
    (("1", "1"), [1]),  # a repeat stops parsing
    (("MIG-deadbeef",), []),
    ((), []),
])
def test_resolve_cuda_devices(visible, want):
    assert resolve_cuda_devices(visible, UUIDS) == want


def test_rank_mode_uses_local_rank_in_cuda_order():
    assert select_devices(UUIDS, "rank", ("3", "1", "0"), local_rank=1) == [1]
    assert select_devices(UUIDS, "rank", None, local_rank=2) == [2]


def test_rank_mode_with_one_visible_gpu_per_rank():
    assert select_devices(UUIDS, "rank", ("2",), local_rank=2) == [2]


def test_rank_mode_without_a_launcher_samples_all_visible():
    assert select_devices(UUIDS, "rank", ("1", "3"), local_rank=None) == [1, 3]


def test_node_mode_only_on_local_rank_zero():
    assert select_devices(UUIDS, "node", ("1",), local_rank=0) == [0, 1, 2, 3]
    assert select_devices(UUIDS, "node", None, local_rank=None) == [0, 1, 2, 3]
    assert select_devices(UUIDS, "node", None, local_rank=3) == []


def test_explicit_devices_by_cuda_index_or_uuid():
    assert select_devices(UUIDS, "rank", ("3", "2"), 0, explicit=[1, "GPU-aaaa1111"]) == [2, 0]
    assert select_devices(UUIDS, "rank", None, 0, explicit=[7]) == []
