import pytest

from raxdoc.engine import CacheDims, CacheTooSmallError, SlotManager, plan_cache
from raxdoc.engine.slots import MiB, SlotError

RAX_2B = {  # the text config numbers from DESIGN.md
    "num_hidden_layers": 24, "num_key_value_heads": 2, "head_dim": 256,
    "linear_num_key_heads": 16, "linear_num_value_heads": 16,
    "linear_key_head_dim": 128, "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4,
}


def test_allocate_free_reuse_lowest_first():
    sm = SlotManager(3)
    assert [sm.allocate() for _ in range(3)] == [0, 1, 2]
    assert not sm.can_allocate() and sm.num_free == 0
    with pytest.raises(SlotError):
        sm.allocate()
    sm.free(2)
    sm.free(0)
    assert sm.num_free == 2 and sm.allocate() == 0 and sm.allocate() == 2
    with pytest.raises(SlotError):
        sm.free(7)


def test_double_free_raises():
    sm = SlotManager(1)
    s = sm.allocate()
    sm.free(s)
    with pytest.raises(SlotError):
        sm.free(s)


def test_dims_from_hf_style_config_default_layer_pattern():
    dims = CacheDims.from_config({"text_config": RAX_2B})
    assert dims.attn_layers == (3, 7, 11, 15, 19, 23) and len(dims.linear_layers) == 18
    assert dims.conv_dim == 6144
    assert dims.kv_bytes_per_token(2) == 12 * 1024  # 12 KiB per token at bf16
    # ~9 MiB recurrent state + ~0.8 MiB conv window over 18 layers
    assert 9 * MiB <= dims.state_bytes_per_seq(2) < 10 * MiB


def test_plan_limits_by_memory_and_by_profile():
    dims = CacheDims.from_config(RAX_2B)
    plan = plan_cache(14 << 30, dims, dtype_bytes=2, max_model_len=3072, max_num_seqs=10_000)
    per_slot = 3072 * 12 * 1024 + dims.state_bytes_per_seq(2)
    assert plan.limited_by == "memory" and plan.num_slots == (14 << 30) // per_slot
    assert plan.total_bytes <= 14 << 30 < plan.total_bytes + per_slot
    capped = plan_cache(14 << 30, dims, dtype_bytes=2, max_model_len=3072, max_num_seqs=64)
    assert capped.num_slots == 64 and capped.limited_by == "max_num_seqs"
    fp32_state = plan_cache(14 << 30, dims, dtype_bytes=2, max_model_len=3072, max_num_seqs=10_000,
                            state_dtype_bytes=4)
    assert fp32_state.state_bytes_per_slot > plan.state_bytes_per_slot
    assert fp32_state.num_slots < plan.num_slots


def test_plan_too_small_raises_with_sizes():
    dims = CacheDims.from_config(RAX_2B)
    with pytest.raises(CacheTooSmallError, match="MiB"):
        plan_cache(20 * MiB, dims, dtype_bytes=2, max_model_len=3072, max_num_seqs=8)


def test_unknown_layer_type_rejected():
    with pytest.raises(ValueError):
        CacheDims(("mamba",), 1, 8, 1, 1, 4, 4, 4)


def test_slot_bookkeeping_is_torch_free():
    """Sizing and slot accounting are plain Python (tested on CPU, no tensors): only stdlib imports."""
    import ast
    import sys

    import raxdoc.engine.slots as slots

    tree = ast.parse(open(slots.__file__).read())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert modules and modules <= set(sys.stdlib_module_names) | {"__future__"}, modules
