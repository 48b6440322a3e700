"""The runner's static-shaped decode on CPU: buckets, padded batches, the gather kernel, slot isolation.

CUDA graphs themselves need a GPU (`test_gpu_runner.py`); here the same padded path runs eagerly
(`pad_batches=True`): same buffers, same spare slot, same span buckets a graph would be captured with.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from raxdoc.engine import Engine, EngineConfig, SamplingParams
from raxdoc.engine.cuda_graphs import (
    MIN_SPAN,
    DecodeGraphs,
    GraphCaptureError,
    graph_batch_sizes,
    padded_batch_size,
    span_bucket,
)
from raxdoc.engine.slot_runner import SlotRunner
from raxdoc.model.ops import backend
from raxdoc.model.ops.attention import AtenFlashAttention, GatherAttention, pick_decode_attention, sdpa


@pytest.mark.parametrize("max_seqs, expected", [
    (1, (1,)), (3, (1, 2, 3)), (8, (1, 2, 4, 8)), (33, (1, 2, 4, 8, 16, 32, 33)),
    (64, (1, 2, 4, 8, 16, 32, 64)), (130, (1, 2, 4, 8, 16, 32, 64, 96, 128, 130)),
])
def test_graph_batch_sizes(max_seqs, expected):
    assert graph_batch_sizes(max_seqs) == expected


def test_padded_batch_size_picks_smallest_bucket_that_fits():
    sizes = graph_batch_sizes(100)
    assert [padded_batch_size(n, sizes) for n in (1, 2, 3, 5, 16, 17, 33, 64, 65, 97, 100)] == \
        [1, 2, 4, 8, 16, 32, 64, 64, 96, 100, 100]
    for bad in (0, 101):
        with pytest.raises(ValueError):
            padded_batch_size(bad, sizes)


def test_span_bucket_rounds_up_and_caps():
    assert [span_bucket(n, 1000) for n in (1, MIN_SPAN, MIN_SPAN + 1, 129, 512, 513, 1000)] == \
        [MIN_SPAN, MIN_SPAN, 128, 256, 512, 1000, 1000]
    with pytest.raises(ValueError):
        span_bucket(1001, 1000)


def test_graphs_refuse_a_cpu_device():
    with pytest.raises(ValueError, match="CUDA"):
        DecodeGraphs(lambda b, s: None, lambda b: None, torch.device("cpu"))


def test_gather_attention_equals_per_row_prefix_attention():
    """Rows of different lengths (one padding row on the spare slot) in one call == SDPA per row."""
    g = torch.Generator().manual_seed(0)
    slots_n, max_len, hkv, hq, d = 5, 40, 2, 4, 8
    k_cache, v_cache = torch.randn(2, slots_n, max_len, hkv, d, generator=g)
    slots, past = torch.tensor([3, 0, 4, 4]), torch.tensor([17, 0, 33, 0])  # rows 2 and 3 share slot 4
    slots, past = slots[:3], past[:3]
    q, k, v = torch.randn(3, 1, hq, d, generator=g), torch.randn(3, 1, hkv, d, generator=g), \
        torch.randn(3, 1, hkv, d, generator=g)
    ref_k, ref_v = k_cache.clone(), v_cache.clone()
    out = GatherAttention()(k_cache, v_cache, q, k, v, slots, past, span=37, scale=0.3)
    for i, (s, p) in enumerate(zip(slots.tolist(), past.tolist())):
        ref_k[s, p], ref_v[s, p] = k[i, 0], v[i, 0]
        ref = sdpa(q[i: i + 1], ref_k[s: s + 1, : p + 1], ref_v[s: s + 1, : p + 1], causal=False, scale=0.3)
        torch.testing.assert_close(out[i: i + 1], ref, rtol=1e-5, atol=1e-6)
    assert torch.equal(k_cache, ref_k) and torch.equal(v_cache, ref_v)  # appended exactly there, nowhere else


def test_decode_attention_choice_on_cpu(monkeypatch):
    monkeypatch.delenv("RAXDOC_DECODE_ATTENTION", raising=False)
    buf = torch.zeros(1, 2, 4, 1, 8)
    assert pick_decode_attention(buf).name == "gather"
    with pytest.raises(RuntimeError, match="flash"):
        pick_decode_attention(buf, "flash_kvcache")
    with pytest.raises(RuntimeError, match="aten_flash"):
        pick_decode_attention(buf, "aten_flash")
    with pytest.raises(ValueError):
        pick_decode_attention(buf, "paged")


def test_aten_flash_call_fits_the_op_schema_on_meta_tensors():
    """The varlen call's argument conventions (positional order, int32 cu/seqused, flattened pool)
    checked against this torch's `_flash_attention_forward` schema and shape function; the numbers
    need a GPU (`test_gpu_runner.py`)."""
    slots_n, max_len, hkv, hq, d, b = 5, 64, 2, 8, 256, 3
    meta = dict(dtype=torch.bfloat16, device="meta")
    k_cache, v_cache = torch.empty(slots_n, max_len, hkv, d, **meta), torch.empty(slots_n, max_len, hkv, d, **meta)
    q, k, v = torch.empty(b, 1, hq, d, **meta), torch.empty(b, 1, hkv, d, **meta), torch.empty(b, 1, hkv, d, **meta)
    slots, past = (torch.empty(b, dtype=torch.long, device="meta") for _ in range(2))
    out = AtenFlashAttention()(k_cache, v_cache, q, k, v, slots, past, span=0, scale=0.1)
    assert out.shape == (b, 1, hq, d) and out.dtype == torch.bfloat16


def test_triton_slots_choice_needs_triton(monkeypatch):
    buf = torch.zeros(1, 2, 4, 1, 8)
    monkeypatch.setattr(backend, "triton_installed", lambda: False)
    with pytest.raises(RuntimeError, match="Triton"):
        pick_decode_attention(buf, "triton_slots")
    monkeypatch.setattr(backend, "triton_installed", lambda: True)
    assert pick_decode_attention(buf, "auto").name == "gather"  # auto: the kernel only for CUDA pools


def test_runner_takes_the_decode_kernel_from_the_environment_unless_configured(tiny, monkeypatch):
    """`RAXDOC_DECODE_ATTENTION` reaches the runner through `raxdoc.settings` (no reader of its own);
    a configured kernel wins over it, and `RAXDOC_OPS=torch` wins over both."""
    model, _ = tiny
    monkeypatch.delenv("RAXDOC_OPS", raising=False)
    monkeypatch.setenv("RAXDOC_DECODE_ATTENTION", "aten_flash")
    with pytest.raises(RuntimeError, match="aten_flash"):  # CPU: the env's choice was taken, and refused
        SlotRunner(model, num_slots=1, max_model_len=32)
    assert SlotRunner(model, num_slots=1, max_model_len=32, decode_attention="gather").attention.name == "gather"
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    assert SlotRunner(model, num_slots=1, max_model_len=32).attention.name == "gather"
    monkeypatch.setenv("RAXDOC_DECODE_ATTENTION", "paged")
    with pytest.raises(ValueError, match="RAXDOC_DECODE_ATTENTION"):
        SlotRunner(model, num_slots=1, max_model_len=32)


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from raxdoc.model import RaxForConditionalGeneration, RaxProcessor

    return (RaxForConditionalGeneration.from_pretrained(tiny_checkpoint).eval(),
            RaxProcessor.from_pretrained(tiny_checkpoint))


def _prompts(proc):
    rng = np.random.default_rng(5)
    out = []
    for text, size in [("Lines?", (70, 45)), ("Say hello.", None), ("Total", (40, 90)), ("Hi", None), ("x", None)]:
        pages = [] if size is None else [rng.integers(0, 256, (*size, 3), dtype=np.uint8)]
        inputs = proc(text, pages)
        out.append({"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values if pages else None,
                    "image_grid_thw": inputs.image_grid_thw if pages else None})
    return out


def test_padded_decode_gives_the_unpadded_tokens_and_touches_no_idle_slot(tiny):
    model, proc = tiny
    prompts = _prompts(proc)
    # Different lengths: the running batch shrinks 5, 4, 4, 3, 2, 2, 1, 1 (padded to 8, 4, 4, 4, 2, 2, 1, 1).
    params = [SamplingParams(max_new_tokens=n, ignore_eos=True) for n in (9, 4, 7, 2, 5)]
    cfg = EngineConfig(max_num_seqs=8, max_model_len=256, prefill_token_budget=1024)
    plain = SlotRunner(model, num_slots=8, max_model_len=256)
    padded = SlotRunner(model, num_slots=8, max_model_len=256, pad_batches=True)
    batches = []
    decode = padded._decode_step
    padded._decode_step = lambda b, span: batches.append((b, span)) or decode(b, span)
    want = Engine(plain, proc.tokenizer, cfg).generate(prompts, params)
    got = Engine(padded, proc.tokenizer, cfg).generate(prompts, params)
    assert [r.token_ids for r in got] == [r.token_ids for r in want]
    assert [b for b, _ in batches] == [8, 4, 4, 4, 2, 2, 1, 1]
    assert {s for _, s in batches} <= {MIN_SPAN, 2 * MIN_SPAN, 4 * MIN_SPAN}  # power-of-two span buckets
    pool = padded.pool
    idle = list(range(len(prompts), 8))  # slots 5..7 were never handed out
    assert not pool.k[:, idle].any() and not pool.recurrent[:, idle].any() and not pool.conv[:, idle].any()
    assert pool.k[:, padded.spare_slot].any()  # padding rows wrote there, and only there


def test_decode_step_uses_no_per_row_python(tiny):
    """One decode step over B rows calls each attention layer's kernel once, with (B,) index tensors."""
    model, proc = tiny
    runner = SlotRunner(model, num_slots=4, max_model_len=256)
    calls = []

    class Spy(GatherAttention):
        def __call__(self, k_cache, v_cache, q, k, v, slots, past, span, scale):
            calls.append((tuple(q.shape), slots.tolist(), past.tolist(), span))
            return super().__call__(k_cache, v_cache, q, k, v, slots, past, span, scale)

    runner.attention = Spy()
    engine = Engine(runner, proc.tokenizer, EngineConfig(max_num_seqs=4, max_model_len=256))
    prompts = _prompts(proc)[1:4]
    engine.generate(prompts, SamplingParams(max_new_tokens=2, ignore_eos=True))
    n_attn = sum(t == "full_attention" for t in model.config.text.layer_types)
    assert len(calls) == n_attn  # one decode step, one call per attention layer
    shape, slots, past, span = calls[0]
    lens = [len(p["input_ids"]) for p in prompts]
    assert shape[0] == 3 and sorted(slots) == [0, 1, 2] and sorted(past) == sorted(lens) and span == max(lens) + 1


def test_eager_switch_follows_the_profile_and_graphs_need_cuda(tiny):
    from raxdoc.profiles import resolve_profile

    assert EngineConfig.from_profile(resolve_profile("cpu")).enforce_eager is True
    assert EngineConfig.from_profile(resolve_profile("l4")).enforce_eager is False
    assert EngineConfig.from_profile(resolve_profile("l4"), enforce_eager=True).enforce_eager is True
    model, _ = tiny
    assert SlotRunner(model, num_slots=2, max_model_len=64).graphs is None  # CPU default: eager
    with pytest.raises(ValueError, match="CUDA"):
        SlotRunner(model, num_slots=2, max_model_len=64, cuda_graphs=True)


def test_engine_refuses_a_max_model_len_beyond_the_runner_pool(tiny):
    """The pool's KV rows end at the runner's max_model_len: an engine allowing longer sequences would
    write past them (IndexError on CPU, a device-side assert that kills the CUDA context on GPU)."""
    model, proc = tiny
    runner = SlotRunner(model, num_slots=2, max_model_len=32)
    with pytest.raises(ValueError, match="max_model_len"):
        Engine(runner, proc.tokenizer, EngineConfig(max_num_seqs=2, max_model_len=64, prefill_token_budget=64))
    # Exactly the pool's length works up to its last position: a prompt of 20 fills the slot to 32.
    engine = Engine(runner, proc.tokenizer, EngineConfig(max_num_seqs=2, max_model_len=32, prefill_token_budget=64))
    prompt = {"input_ids": proc("Say hello.", []).input_ids.tolist()[:20]}
    assert len(prompt["input_ids"]) == 20
    [r] = engine.generate([prompt], SamplingParams(max_new_tokens=100, ignore_eos=True))
    assert r.finish_reason == "length" and r.prompt_tokens + r.completion_tokens == 32


def test_stale_non_finite_kv_of_a_previous_occupant_does_not_leak_into_the_slot(tiny):
    """The gather kernel reads a slot up to the (bucketed) span and masks what lies past a row's length, but a
    mask does not neutralise NaN / inf (0 * nan = nan): admission must clear what the last occupant left."""
    model, proc = tiny
    prompts = _prompts(proc)[1:2]
    params = SamplingParams(max_new_tokens=5, ignore_eos=True)
    cfg = EngineConfig(max_num_seqs=1, max_model_len=256, prefill_token_budget=256)
    want = Engine(SlotRunner(model, num_slots=1, max_model_len=256), proc.tokenizer, cfg).generate(prompts, params)
    # Padded (the graph path): spans are rounded up to a bucket, so positions past the prompt are read.
    runner = SlotRunner(model, num_slots=1, max_model_len=256, pad_batches=True)
    # A previous occupant that overflowed (bf16) left non-finite K/V all along the slot.
    runner.pool.k[:, 0] = float("nan")
    runner.pool.v[:, 0] = float("inf")
    got = Engine(runner, proc.tokenizer, cfg).generate(prompts, params)
    assert got[0].token_ids == want[0].token_ids


class _FailingGraphs:
    """Stands in for `DecodeGraphs` on CPU: every capture fails, as an unsupported op would on CUDA."""

    def __init__(self) -> None:
        self.calls = 0

    def run(self, batch: int, span: int):
        self.calls += 1
        raise GraphCaptureError(f"capturing the decode step (batch {batch}, span {span}) failed: test")


def test_failed_graph_capture_falls_back_to_eager_decode_with_a_warning(tiny):
    """A capture failure must cost speed, not the run: without the fallback every decode step raised
    and the engine turned each batch into error results."""
    model, proc = tiny
    prompts = _prompts(proc)[:3]
    params = SamplingParams(max_new_tokens=4, ignore_eos=True)
    cfg = EngineConfig(max_num_seqs=4, max_model_len=256, prefill_token_budget=1024)
    want = Engine(SlotRunner(model, num_slots=4, max_model_len=256, pad_batches=True), proc.tokenizer,
                  cfg).generate(prompts, params)
    runner = SlotRunner(model, num_slots=4, max_model_len=256, pad_batches=True)
    failing = runner.graphs = _FailingGraphs()
    with pytest.warns(RuntimeWarning, match="decoding eagerly"):
        got = Engine(runner, proc.tokenizer, cfg).generate(prompts, params)
    assert all(r.ok for r in got), [r.error for r in got]
    assert [r.token_ids for r in got] == [r.token_ids for r in want]
    assert failing.calls == 1 and runner.graphs is None  # tried once, then eager for good
    assert "batch 4" in runner.graph_error


def test_engine_config_picks_the_decode_attention_kernel(tiny_checkpoint):
    with pytest.raises(ValueError, match="decode_attention"):
        EngineConfig(decode_attention="paged")
    engine = Engine.from_pretrained(str(tiny_checkpoint), device="cpu", max_num_seqs=2, max_model_len=64,
                                    prefill_token_budget=64, decode_attention="gather")
    assert engine.runner.attention.name == "gather"
    with pytest.raises(RuntimeError, match="aten_flash"):  # CPU: PyTorch's flash kernels are CUDA-only
        Engine.from_pretrained(str(tiny_checkpoint), device="cpu", max_num_seqs=2, max_model_len=64,
                               prefill_token_budget=64, decode_attention="aten_flash")
