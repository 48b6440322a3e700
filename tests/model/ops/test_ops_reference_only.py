"""`RAXDOC_OPS=torch` reaches no fla, flash-attn or Triton code path.

Every device probe in `backend` is faked to say "installed, and the tensors are on CUDA", and the
imports behind the fast paths are made to fail (`sys.modules[name] = None`, our Triton kernel
modules included). Under `RAXDOC_OPS=torch` each decision must still pick the reference, for every
value of the attention switches and every configured decode kernel, and a whole CPU generate on
the tiny checkpoint must run. A control shows the fakes do steer `auto` onto the fast paths, so the
reference answers come from the switch and not from a probe the fakes missed.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from raxdoc.model.ops import backend
from raxdoc.model.ops.attention import pick_decode_attention, varlen_attention
from raxdoc.settings import DECODE_ATTENTION, PREFILL_ATTENTION

# Packages (and our modules that import Triton) whose import must fail in these tests.
BLOCKED = ("fla", "flash_attn", "triton", "raxdoc.model.ops.attention.slot_decode_kernel",
           "raxdoc.model.ops.conv1d.slot_update_kernel")
HALF_CUDA = SimpleNamespace(is_cuda=True, dtype=torch.bfloat16)  # what a probe sees of a bf16 CUDA tensor


@pytest.fixture
def fast_paths_everywhere(monkeypatch):
    """Every probe says a fast path is available on CUDA; importing any of them fails."""
    for name in list(sys.modules):  # submodules already loaded too: `import a.b` finds them first
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            monkeypatch.setitem(sys.modules, name, None)
    for name in BLOCKED:
        monkeypatch.setitem(sys.modules, name, None)
    for probe in ("fla_installed", "flash_attn_installed", "triton_installed"):
        monkeypatch.setattr(backend, probe, lambda: True)
    monkeypatch.setattr(backend, "bundled_flash_available", lambda t: True)
    monkeypatch.setattr(backend, "on_cuda", lambda *tensors: True)
    for switch in ("RAXDOC_DECODE_ATTENTION", "RAXDOC_PREFILL_ATTENTION"):
        monkeypatch.delenv(switch, raising=False)


def test_control_the_fakes_steer_auto_onto_every_fast_path(fast_paths_everywhere):
    assert backend.use_fla(HALF_CUDA) and backend.use_triton(HALF_CUDA)
    assert backend.prefill_attention_path(HALF_CUDA) == "flash_attn"
    picked = {name: backend.decode_attention_kernel(HALF_CUDA, name) for name in DECODE_ATTENTION}
    assert picked == {"auto": "flash_kvcache", "gather": "gather", "flash_kvcache": "flash_kvcache",
                      "triton_slots": "triton_slots", "aten_flash": "aten_flash"}
    for name in ("flash_kvcache", "triton_slots"):  # the blocked imports bite once a fast path is built
        with pytest.raises(ImportError):
            pick_decode_attention(HALF_CUDA, name)


@pytest.mark.parametrize("prefill", PREFILL_ATTENTION)
@pytest.mark.parametrize("decode", DECODE_ATTENTION)
def test_torch_mode_picks_the_reference_in_every_decision(fast_paths_everywhere, monkeypatch, decode, prefill):
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    monkeypatch.setenv("RAXDOC_DECODE_ATTENTION", decode)
    monkeypatch.setenv("RAXDOC_PREFILL_ATTENTION", prefill)
    assert not backend.use_fla(HALF_CUDA, HALF_CUDA)
    assert not backend.use_triton(HALF_CUDA)
    assert backend.prefill_attention_path(HALF_CUDA) == "sdpa"
    assert backend.decode_attention_kernel(HALF_CUDA) == "gather"  # the switch's value
    for configured in DECODE_ATTENTION:  # an engine's configured kernel: the switch wins too
        assert backend.decode_attention_kernel(HALF_CUDA, configured) == "gather"
    assert pick_decode_attention(HALF_CUDA).name == "gather"


def test_torch_mode_varlen_attention_is_sdpa_per_segment(fast_paths_everywhere, monkeypatch):
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    gen = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(9, 4, 8, generator=gen), torch.randn(9, 2, 8, generator=gen), torch.randn(9, 2, 8, generator=gen)
    out = varlen_attention(q, k, v, torch.tensor([0, 4, 9]), causal=True, scale=0.3)
    # Segments are independent: the second one alone gives the same rows.
    alone = varlen_attention(q[4:], k[4:], v[4:], torch.tensor([0, 5]), causal=True, scale=0.3)
    torch.testing.assert_close(out[4:], alone)


def _prompts(proc):
    page = np.random.default_rng(3).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    with_image = proc("Lines?", [page])
    text_only = proc("Say hello.", [])
    return [{"input_ids": with_image.input_ids.tolist(), "pixel_values": with_image.pixel_values,
             "image_grid_thw": with_image.image_grid_thw},
            {"input_ids": text_only.input_ids.tolist(), "pixel_values": None, "image_grid_thw": None}]


def test_cpu_generate_under_torch_mode_touches_no_fast_path(tiny_checkpoint, fast_paths_everywhere, monkeypatch):
    """ViT and decoder prefill (varlen), pooled conv and recurrent updates, decode attention: a whole
    engine run with every fast path 'available' and unimportable. Same tokens as an ordinary run."""
    from raxdoc.engine import Engine, SamplingParams

    sizes = dict(device="cpu", max_num_seqs=2, max_model_len=256, prefill_token_budget=512)
    params = SamplingParams(max_new_tokens=4, ignore_eos=True)
    monkeypatch.setenv("RAXDOC_OPS", "auto")
    with pytest.raises(ImportError):  # control: auto builds the Triton decode kernel, and its import fails
        Engine.from_pretrained(str(tiny_checkpoint), **sizes)
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    monkeypatch.setenv("RAXDOC_DECODE_ATTENTION", "triton_slots")
    engine = Engine.from_pretrained(str(tiny_checkpoint), **sizes)
    assert engine.runner.attention.name == "gather"
    got = engine.generate(_prompts(engine.processor), params)
    assert all(r.ok for r in got), [r.error for r in got]
    monkeypatch.undo()  # an ordinary run: real probes, imports as they are
    monkeypatch.delenv("RAXDOC_OPS", raising=False)
    plain = Engine.from_pretrained(str(tiny_checkpoint), **sizes, decode_attention="gather")
    want = plain.generate(_prompts(plain.processor), params)
    assert [r.token_ids for r in got] == [r.token_ids for r in want]
