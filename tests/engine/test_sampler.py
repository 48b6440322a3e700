import pytest
import torch

from raxdoc.engine import Sampler, SamplingBatch, SamplingParams
from raxdoc.engine.sampler import bitmask_to_bool

V = 77  # not a multiple of 32


def _batch(*params, steps=None):
    return SamplingBatch.build(list(params), steps)


def test_greedy_is_argmax():
    logits = torch.randn(5, V, generator=torch.Generator().manual_seed(0))
    out = Sampler()(logits, _batch(*[SamplingParams(max_new_tokens=1)] * 5))
    assert torch.equal(out, logits.argmax(-1))


def test_mixed_rows_greedy_rows_stay_argmax_and_tiny_top_p_is_argmax():
    logits = torch.randn(4, V, generator=torch.Generator().manual_seed(1))
    params = [SamplingParams(max_new_tokens=1), SamplingParams(max_new_tokens=1, temperature=5.0, top_p=1e-6),
              SamplingParams(max_new_tokens=1), SamplingParams(max_new_tokens=1, temperature=0.7, top_p=1e-6)]
    sampler = Sampler(torch.Generator().manual_seed(2))
    for _ in range(20):
        assert torch.equal(sampler(logits, _batch(*params)), logits.argmax(-1))


def test_bitmask_roundtrip_and_masked_tokens_never_sampled():
    g = torch.Generator().manual_seed(3)
    allowed = torch.rand(3, V, generator=g) < 0.2
    allowed[:, 5] = True
    words = (V + 31) // 32
    bits = torch.zeros(3, words * 32, dtype=torch.int64)
    bits[:, :V] = allowed.long()
    weights = (1 << torch.arange(32, dtype=torch.int64))
    bitmask = (bits.view(3, words, 32) * weights).sum(-1)
    bitmask = torch.where(bitmask >= 2**31, bitmask - 2**32, bitmask).to(torch.int32)  # two's complement
    assert torch.equal(bitmask_to_bool(bitmask, V), allowed)
    # Logits wider than the mask: the extra columns are disallowed.
    assert not bitmask_to_bool(bitmask, words * 32 + 9)[:, words * 32:].any()
    # Make a masked token the clear favourite: it must still never come out.
    logits = torch.randn(3, V, generator=g)
    logits[~allowed] += 50.0
    sampler = Sampler(torch.Generator().manual_seed(4))
    hot = _batch(*[SamplingParams(max_new_tokens=1, temperature=2.0)] * 3)
    greedy = _batch(*[SamplingParams(max_new_tokens=1)] * 3)
    for _ in range(50):
        for b in (hot, greedy):
            out = sampler(logits, b, bitmask)
            assert allowed[torch.arange(3), out].all()


def test_temperature_distribution_matches_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    n = 4000
    sampler = Sampler(torch.Generator().manual_seed(5))
    b = _batch(*[SamplingParams(max_new_tokens=1, temperature=1.0)] * n)
    counts = torch.bincount(sampler(logits.expand(n, 4), b), minlength=4).float() / n
    expected = torch.softmax(logits[0], -1)
    assert torch.allclose(counts, expected, atol=0.03), (counts, expected)
    # Higher temperature flattens: the top token is chosen less often.
    hot = _batch(*[SamplingParams(max_new_tokens=1, temperature=3.0)] * n)
    assert (sampler(logits.expand(n, 4), hot) == 0).float().mean() < counts[0] - 0.1


def test_top_p_keeps_only_the_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    n = 2000
    b = _batch(*[SamplingParams(max_new_tokens=1, temperature=1.0, top_p=0.7)] * n)
    out = Sampler(torch.Generator().manual_seed(6))(probs.log().expand(n, 4), b)
    seen = set(out.tolist())
    assert seen == {0, 1}  # 0.5 < 0.7 so token 1 is needed; 0.8 >= 0.7 so 2 and 3 are cut


def test_seeded_rows_independent_of_batch_and_generator():
    logits = torch.randn(3, V, generator=torch.Generator().manual_seed(7))
    p = SamplingParams(max_new_tokens=1, temperature=1.0, seed=42)
    other = SamplingParams(max_new_tokens=1, temperature=1.0)
    a = Sampler(torch.Generator().manual_seed(1))(logits, _batch(p, other, p, steps=[3, 0, 3]))
    b = Sampler(torch.Generator().manual_seed(99))(logits[[0]], _batch(p, steps=[3]))
    assert a[0] == b[0]
    draws = {int(Sampler()(logits[[0]], _batch(p, steps=[s]))[0]) for s in range(30)}
    assert len(draws) > 1  # the step changes the draw


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sampler_makes_no_host_sync_on_cuda():
    params = [SamplingParams(max_new_tokens=1), SamplingParams(max_new_tokens=1, temperature=0.8, top_p=0.9),
              SamplingParams(max_new_tokens=1, temperature=1.0, seed=3)]
    batch = SamplingBatch.build(params, [0, 1, 2], device="cuda")
    logits = torch.randn(3, 1000, device="cuda")
    bitmask = torch.full((3, 32), -1, dtype=torch.int32).pin_memory()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = Sampler()(logits, batch, bitmask)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert out.shape == (3,) and out.device.type == "cuda"
    assert out[0].item() == logits[0].argmax().item()


def test_all_greedy_batch_builds_no_device_tensors():
    """Greedy steps (the benchmark, most extraction) need no per-row settings on the device: on CUDA
    each built tensor was a host-to-device copy that waits for the stream, every step."""
    greedy = SamplingBatch.build([SamplingParams(max_new_tokens=1)] * 3, device="meta")
    assert greedy.temperature is None and greedy.top_p is None and not greedy.any_sampled
    logits = torch.randn(3, 50)
    assert torch.equal(Sampler()(logits, greedy), logits.argmax(-1))
    mixed = SamplingBatch.build([SamplingParams(max_new_tokens=1), SamplingParams(max_new_tokens=1, temperature=0.7)])
    assert mixed.temperature.tolist() == [0.0, pytest.approx(0.7)] and mixed.top_p.shape == (2,)
