"""Sizing the slot pool from `gpu_memory_utilization`, on a fake device (CPU, injected memory).

`load_slot_runner(memory_info=...)` reads (free, total) bytes from the callable instead of CUDA;
the tiny checkpoint's slots are a few KiB, so the fake device is sized in slots.
"""

from __future__ import annotations

import pytest

from raxdoc.engine import CacheTooSmallError
from raxdoc.engine.loading import ACTIVATION_RESERVE, cache_budget, load_slot_runner, weight_bytes

SIZES = dict(max_num_seqs=64, max_model_len=128, prefill_token_budget=256)


def test_cache_budget_is_the_share_less_weights_capped_by_free_less_the_reserve():
    keep = 1 - ACTIVATION_RESERVE
    assert cache_budget(free=80, total=100, in_use=10, utilization=0.5) == int(40 * keep)
    assert cache_budget(free=20, total=100, in_use=10, utilization=0.9) == int(20 * keep)  # free binds
    assert cache_budget(free=80, total=100, in_use=60, utilization=0.5) == 0  # weights exceed the share


@pytest.fixture(scope="module")
def unit(tiny_checkpoint):
    """(weight bytes, bytes per slot) of the tiny checkpoint at SIZES, from an uncapped CPU load."""
    runner, _, _ = load_slot_runner(str(tiny_checkpoint), device="cpu", overrides=SIZES)
    assert runner.num_slots == SIZES["max_num_seqs"]  # CPU without memory_info: no memory cap
    return weight_bytes(runner.model), runner.pool.nbytes // (runner.num_slots + 1)  # one spare slot


def _slots(path, utilization, free, total):
    runner, _, config = load_slot_runner(str(path), device="cpu", memory_info=lambda: (free, total),
                                         overrides={**SIZES, "gpu_memory_utilization": utilization})
    assert config.gpu_memory_utilization == utilization
    return runner.num_slots


def test_lower_utilization_gives_fewer_slots(tiny_checkpoint, unit):
    weights, slot = unit
    total = int((weights + 40 * slot / (1 - ACTIVATION_RESERVE)) / 0.9)  # 0.9 leaves ~40 slots' worth
    free = total - weights
    high, low = (_slots(tiny_checkpoint, u, free, total) for u in (0.9, 0.6))
    expected = [int((u * total - weights) * (1 - ACTIVATION_RESERVE)) // slot - 1 for u in (0.9, 0.6)]
    assert [high, low] == expected
    assert 38 <= high <= 39 and low < high


def test_free_memory_caps_the_share(tiny_checkpoint, unit):
    weights, slot = unit
    free = int(4.5 * slot / (1 - ACTIVATION_RESERVE))  # another tenant holds the rest of the device
    assert _slots(tiny_checkpoint, 0.9, free, total=100 * (weights + slot)) == 3  # 4 fit, one is the spare


def test_nothing_fits_is_a_clear_error(tiny_checkpoint, unit):
    weights, _ = unit
    with pytest.raises(CacheTooSmallError, match=r"gpu_memory_utilization=0\.05 .*weights"):
        _slots(tiny_checkpoint, 0.05, free=weights, total=2 * weights)


def test_profile_share_reaches_the_pool(tiny_checkpoint, unit):
    from raxdoc.profiles import resolve_profile

    weights, slot = unit
    total = int((weights + 40 * slot / (1 - ACTIVATION_RESERVE)) / 0.9)
    fake = dict(device="cpu", memory_info=lambda: (total, total), overrides={"max_model_len": 128})
    counts = []
    for utilization in (0.9, 0.6):
        profile = resolve_profile("cpu", max_num_seqs=64, gpu_memory_utilization=utilization)
        runner, _, config = load_slot_runner(str(tiny_checkpoint), profile=profile, **fake)
        assert config.dtype == "float32" and next(runner.model.parameters()).dtype.itemsize == 4
        counts.append(runner.num_slots)
    assert counts[1] < counts[0] <= 39


def test_free_bytes_is_the_cache_budget_itself(tiny_checkpoint, unit):
    _, slot = unit
    runner, _, _ = load_slot_runner(str(tiny_checkpoint), device="cpu", free_bytes=slot * 7 // 2,
                                    memory_info=lambda: (0, 0), overrides=SIZES)  # free_bytes wins
    assert runner.num_slots == 2  # 2 slots + the spare in 3.5 slots' bytes
