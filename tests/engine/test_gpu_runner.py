"""SlotRunner on CUDA (skipped on CPU): graph replay == eager, no host sync in a decode step,
fla varlen prefill / recurrent decode and the flash-attn kv-cache kernel agree with the plain path,
and the CUDA engine gives the CPU engine's tokens.

Run on a GPU machine: `PYTHONPATH=. python -m pytest tests/engine/test_gpu_runner.py -q -m gpu`.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from raxdoc.engine import Engine, EngineConfig, SamplingParams
from raxdoc.engine.cuda_graphs import DecodeGraphs, GraphCaptureError
from raxdoc.engine.slot_runner import SlotRunner
from raxdoc.model.ops.attention.decode import KERNELS

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
needs_fla = pytest.mark.skipif(importlib.util.find_spec("fla") is None, reason="needs flash-linear-attention")
needs_flash_attn = pytest.mark.skipif(importlib.util.find_spec("flash_attn") is None, reason="needs flash-attn")

SIZES = dict(max_num_seqs=6, max_model_len=512, prefill_token_budget=2048)
CFG = EngineConfig(**SIZES)


def _load(path, dtype):
    from raxdoc.model import RaxForConditionalGeneration, RaxProcessor

    return RaxForConditionalGeneration.from_pretrained(path, dtype=dtype, device="cuda").eval(), \
        RaxProcessor.from_pretrained(path)


def _prompts(proc, n=7):
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        size = [(100, 70), None, (64, 130), None, (33, 47), None, (48, 48)][i % 7]
        pages = [] if size is None else [rng.integers(0, 256, (*size, 3), dtype=np.uint8)]
        inputs = proc("List the line items." + " again" * i, pages)
        out.append({"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values if pages else None,
                    "image_grid_thw": inputs.image_grid_thw if pages else None})
    return out


def _params():
    return [SamplingParams(max_new_tokens=n, ignore_eos=True) for n in (12, 5, 9, 3, 12, 7, 4)]


class Recording(SlotRunner):
    """Keeps every decode step's logits (the engine only sees sampled ids)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.logits = []

    def decode(self, seqs, **kwargs):  # kwargs: next_tokens, when the engine overlaps (CUDA default)
        out = super().decode(seqs, **kwargs)
        self.logits.append(out.float().cpu())
        return out


def with_kernel(model, name: str, **kwargs) -> Recording:
    """A runner on decode kernel `name`, set directly: these tests compare kernels whatever
    `RAXDOC_OPS` the session runs under (under `torch` every name would get the reference)."""
    runner = Recording(model, 6, 512, decode_attention="gather", **kwargs)
    runner.attention = KERNELS[name]()
    return runner


@pytest.fixture(scope="module")
def bf16(tiny_checkpoint):
    return _load(tiny_checkpoint, torch.bfloat16)


def test_graph_replay_equals_eager_padded(bf16):
    model, proc = bf16
    eager = Recording(model, 6, 512, cuda_graphs=False, pad_batches=True)
    graphs = Recording(model, 6, 512, cuda_graphs=True)
    want = Engine(eager, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    got = Engine(graphs, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    assert len(graphs.graphs) >= 3  # several (batch, span) buckets captured
    assert [r.token_ids for r in got] == [r.token_ids for r in want]
    assert len(graphs.logits) == len(eager.logits)
    for a, b in zip(graphs.logits, eager.logits):
        # Same kernels and shapes: expected bitwise; the tolerance only covers cuBLAS picking another
        # algorithm under capture.
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)


def test_decode_step_makes_no_host_sync(bf16):
    model, proc = bf16
    runner = SlotRunner(model, 4, 512, cuda_graphs=False)
    engine = Engine(runner, proc.tokenizer, CFG)
    # First contact compiles and autotunes fla's kernels, which synchronises on purpose: not under test.
    engine.generate(_prompts(proc, 4), SamplingParams(max_new_tokens=2, ignore_eos=True))
    decode = runner._decode_step

    def strict(batch, span):
        torch.cuda.set_sync_debug_mode("error")
        try:
            return decode(batch, span)
        finally:
            torch.cuda.set_sync_debug_mode("default")

    runner._decode_step = strict
    results = engine.generate(_prompts(proc, 4), SamplingParams(max_new_tokens=4, ignore_eos=True))
    assert all(r.finish_reason == "length" for r in results), [r.error for r in results]


def test_graph_replay_decode_makes_no_host_sync(bf16):
    """The whole `runner.decode` call (host staging, pinned copy, replay) on captured graphs: no sync,
    so the host fills grammar masks while the device decodes."""
    model, proc = bf16
    runner = SlotRunner(model, 4, 512, cuda_graphs=True)
    engine = Engine(runner, proc.tokenizer, CFG)
    prompts, params = _prompts(proc, 4), SamplingParams(max_new_tokens=5, ignore_eos=True)
    engine.generate(prompts, params)  # captures every (batch, span) this workload needs
    captured = len(runner.graphs)
    decode = runner.decode

    def strict(seqs, **kwargs):
        torch.cuda.set_sync_debug_mode("error")
        try:
            return decode(seqs, **kwargs)
        finally:
            torch.cuda.set_sync_debug_mode("default")

    runner.decode = strict
    results = engine.generate(prompts, params)
    assert all(r.finish_reason == "length" for r in results), [r.error for r in results]
    assert len(runner.graphs) == captured and runner.graph_error is None  # replays only


# Greedy steps whose reference top-1 / top-2 logit gap is below this share of the largest |logit|
# are ties for a run with other numerics (fla's float32 dots are TF32): the two runs may part there.
AMBIGUOUS = 5e-3


def record_margins(engine) -> dict[int, list[float]]:
    """request id -> the relative top-1 / top-2 logit gap behind each of its tokens."""
    margins: dict[int, list[float]] = {}
    for name in ("prefill", "decode"):
        step = getattr(engine.runner, name)

        def recorded(seqs, step=step, **kwargs):
            out = step(seqs, **kwargs)
            logits = out.float()
            top = logits.topk(2, dim=-1).values
            gaps = ((top[:, 0] - top[:, 1]) / logits.abs().amax(-1)).tolist()
            for seq, gap in zip(seqs, gaps):
                margins.setdefault(seq.seq_id, []).append(gap)
            return out

        setattr(engine.runner, name, recorded)
    return margins


def agreed_prefix(got, want, margins) -> int:
    """Tokens compared: each result must equal the reference up to its first ambiguous step."""
    compared = 0
    for g, w in zip(got, want):
        gaps = margins[w.request_id]
        n = next((i for i, gap in enumerate(gaps) if gap < AMBIGUOUS), len(gaps))
        assert list(g.token_ids[:n]) == list(w.token_ids[:n]), (w.request_id, n)
        compared += n
    return compared


@needs_fla
def test_cuda_engine_fla_and_graphs_equal_cpu_engine_float32(tiny_checkpoint, monkeypatch):
    monkeypatch.setenv("RAXDOC_OPS", "fla")  # fla or an error: proves the varlen / recurrent kernels ran
    cuda = Engine.from_pretrained(str(tiny_checkpoint), device="cuda", dtype="float32", **SIZES)
    assert cuda.runner.graphs is not None
    got = cuda.generate(_prompts(cuda.processor), _params())
    assert cuda.runner.graph_error is None and len(cuda.runner.graphs) >= 1
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    cpu = Engine.from_pretrained(str(tiny_checkpoint), device="cpu", **SIZES)
    margins = record_margins(cpu)
    want = cpu.generate(_prompts(cpu.processor), _params())
    total = sum(len(r.token_ids) for r in want)
    assert agreed_prefix(got, want, margins) >= total // 2  # most steps are clear-cut: the check has teeth


def test_aten_flash_attention_equals_gather_kernel():
    """PyTorch's bundled flash-attention reading prefixes in place == the gather kernel: rows of other
    lengths, two padding rows sharing the spare slot, GQA 8/2, head_dim 256 (Rax 4.5's)."""
    from raxdoc.model.ops.attention import AtenFlashAttention, GatherAttention
    from raxdoc.model.ops.backend import bundled_flash_available

    g = torch.Generator(device="cuda").manual_seed(0)
    slots_n, max_len, hkv, hq, d = 6, 300, 2, 8, 256
    dt = dict(device="cuda", dtype=torch.bfloat16)
    k_cache, v_cache = (torch.randn(slots_n, max_len, hkv, d, generator=g, **dt) for _ in range(2))
    assert bundled_flash_available(k_cache)
    slots = torch.tensor([3, 0, 4, 5, 5], device="cuda")  # slot 5: the spare, two padding rows
    past = torch.tensor([17, 0, 299, 0, 0], device="cuda")
    q, k, v = (torch.randn(5, 1, n, d, generator=g, **dt) for n in (hq, hkv, hkv))
    caches = (k_cache.clone(), v_cache.clone())
    out = AtenFlashAttention()(k_cache, v_cache, q, k, v, slots, past, span=0, scale=d ** -0.5)
    ref = GatherAttention()(*caches, q, k, v, slots, past, span=max_len, scale=d ** -0.5)
    torch.testing.assert_close(out[:3], ref[:3], rtol=2e-2, atol=2e-2)  # real rows
    assert torch.equal(k_cache[:5], caches[0][:5]) and torch.equal(v_cache[:5], caches[1][:5])


def test_aten_flash_decode_in_the_engine_equals_gather_and_captures(bf16):
    model, proc = bf16
    from raxdoc.model.ops.backend import bundled_flash_available

    if not bundled_flash_available(torch.zeros(1, device="cuda", dtype=torch.bfloat16)):
        pytest.skip("no bundled flash-attention on this device")
    flash = with_kernel(model, "aten_flash", cuda_graphs=False, pad_batches=True)
    gather = with_kernel(model, "gather", cuda_graphs=False, pad_batches=True)
    graphs = with_kernel(model, "aten_flash", cuda_graphs=True)
    got = Engine(flash, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    Engine(gather, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    replayed = Engine(graphs, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    torch.testing.assert_close(flash.logits[0], gather.logits[0], rtol=2e-2, atol=2e-2)  # like for like
    assert graphs.graph_error is None and len(graphs.graphs) >= 1
    assert [r.token_ids for r in replayed] == [r.token_ids for r in got]  # same kernel, replayed


@needs_flash_attn
def test_flash_kvcache_decode_equals_gather(bf16):
    model, proc = bf16
    flash = with_kernel(model, "flash_kvcache", cuda_graphs=False)
    gather = with_kernel(model, "gather", cuda_graphs=False)
    Engine(flash, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    Engine(gather, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    # Later steps feed each runner its own sampled tokens; the first decode step is like for like.
    torch.testing.assert_close(flash.logits[0], gather.logits[0], rtol=2e-2, atol=2e-2)


def test_failed_capture_is_a_typed_error_inputs_come_back_and_cuda_still_works():
    """What the runner's eager fallback relies on: a capture that hits a host sync raises
    GraphCaptureError (not a bare CUDA error), the parked inputs are restored, no graph is kept,
    and the device takes ordinary work afterwards."""
    buf = torch.arange(4.0, device="cuda")
    events = []

    def step(batch, span):
        out = buf[:batch] * 2
        if torch.cuda.is_current_stream_capturing():
            out.sum().item()  # a host sync: not allowed while capturing
        return out

    def park(batch):
        events.append(("park", batch))
        return lambda: events.append(("restore", batch))

    graphs = DecodeGraphs(step, park, torch.device("cuda"))
    with pytest.raises(GraphCaptureError, match="batch 2"):
        graphs.run(2, 64)
    assert events == [("park", 2), ("restore", 2)] and len(graphs) == 0
    assert torch.ones(3, device="cuda").sum().item() == 3.0


def test_triton_slots_decode_equals_gather(bf16):
    """Our Triton kernel (auto's choice on CUDA without flash-attn): its first decode step == gather's."""
    pytest.importorskip("triton")
    model, proc = bf16
    triton_runner = with_kernel(model, "triton_slots", cuda_graphs=False)
    gather = with_kernel(model, "gather", cuda_graphs=False)
    Engine(triton_runner, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    Engine(gather, proc.tokenizer, CFG).generate(_prompts(proc), _params())
    torch.testing.assert_close(triton_runner.logits[0], gather.logits[0], rtol=2e-2, atol=2e-2)
