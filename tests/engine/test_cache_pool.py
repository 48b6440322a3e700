import pytest
import torch

from raxdoc.engine import CacheDims, CachePool
from raxdoc.engine.cache_pool import AttentionLayerCache, LinearLayerCache

# Awkward tiny dims: 5 layers (attention at 1 and 4), more value than key heads, odd sizes.
DIMS = CacheDims(layer_types=("linear_attention", "full_attention", "linear_attention",
                              "linear_attention", "full_attention"),
                 num_kv_heads=1, head_dim=6, linear_num_key_heads=2, linear_num_value_heads=3,
                 linear_key_head_dim=5, linear_value_head_dim=7, conv_kernel=4)


def test_shapes_dtypes_and_bytes_match_plan():
    pool = CachePool(DIMS, num_slots=3, max_model_len=11, dtype=torch.bfloat16, state_dtype=torch.float32)
    assert pool.recurrent.shape == (3, 3, 3, 5, 7) and pool.recurrent.dtype == torch.float32
    assert pool.conv.shape == (3, 3, DIMS.conv_dim, 4) and DIMS.conv_dim == 2 * 2 * 5 + 3 * 7
    assert pool.k.shape == (2, 3, 11, 1, 6) and pool.v.dtype == torch.bfloat16
    expected = 3 * (11 * DIMS.kv_bytes_per_token(2) + DIMS.state_bytes_per_seq(2, 4))
    assert pool.nbytes == expected


def test_layer_state_views_write_through():
    pool = CachePool(DIMS, num_slots=2, max_model_len=4)
    lin = pool.layer_state(3)
    att = pool.layer_state(4)
    assert isinstance(lin, LinearLayerCache) and isinstance(att, AttentionLayerCache)
    lin.recurrent[1].fill_(2.0)
    att.k[0, :2].fill_(1.0)
    assert pool.recurrent[2, 1].eq(2.0).all() and pool.recurrent[:2].eq(0).all()
    assert pool.k[1, 0, :2].eq(1.0).all()
    with pytest.raises(IndexError):
        pool.layer_state(5)


def test_reset_zeroes_only_given_slots_state():
    pool = CachePool(DIMS, num_slots=4, max_model_len=3, dtype=torch.float32)
    for t in (pool.recurrent, pool.conv, pool.k):
        t.fill_(1.0)
    pool.reset([2, 0])
    assert pool.recurrent[:, [0, 2]].eq(0).all() and pool.recurrent[:, [1, 3]].eq(1).all()
    assert pool.conv[:, [0, 2]].eq(0).all() and pool.conv[:, 1].eq(1).all()
    assert pool.k.eq(1).all()  # state only: K/V has its own reset
    with pytest.raises(IndexError):
        pool.reset([4])
    pool.v.fill_(1.0)
    pool.reset_kv(torch.tensor([3]))
    assert pool.k[:, 3].eq(0).all() and pool.v[:, 3].eq(0).all()
    assert pool.k[:, :3].eq(1).all() and pool.v[:, :3].eq(1).all() and pool.recurrent[:, 3].eq(1).all()
