"""The engine's self-check on CPU: fast paths made selectable with fakes, one broken at a time.

On CPU the engine runs the reference ops, so each "fast" component is a stand-in: a decode kernel
that returns wrong values, CUDA graphs whose launch raises or whose logits are off, and (through
`backend`'s fakeable probes) fla "installed" on a "CUDA" tensor, whose import then fails at launch.
Each time the check must fall back, warn once naming the component, and leave an engine whose
output equals the reference engine's; on the normal path it passes without a warning.
"""

from __future__ import annotations

import logging
import warnings

import pytest
import torch

from raxdoc.engine import Engine, EngineConfig, SamplingParams
from raxdoc.engine.cuda_graphs import GraphCaptureError
from raxdoc.engine.selfcheck import SelfCheckError, format_paths, run_self_check
from raxdoc.engine.slot_runner import SlotRunner
from raxdoc.model.ops import backend
from raxdoc.model.ops.attention import GatherAttention

CFG = EngineConfig(max_num_seqs=4, max_model_len=256, prefill_token_budget=1024, overlap_decode=True)
PARAMS = SamplingParams(max_new_tokens=5, ignore_eos=True)


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from raxdoc.model import RaxForConditionalGeneration, RaxProcessor

    return (RaxForConditionalGeneration.from_pretrained(tiny_checkpoint).eval(),
            RaxProcessor.from_pretrained(tiny_checkpoint))


@pytest.fixture(scope="module")
def reference_tokens(tiny):
    """What the plain engine (no padding, no overlap, gather) makes for the check's own prompts."""
    from raxdoc.engine.selfcheck import default_prompts

    model, proc = tiny
    engine = _engine(tiny, SlotRunner(model, num_slots=4, max_model_len=256), overlap=False)
    return [r.token_ids for r in engine.generate(default_prompts(proc), PARAMS)]


@pytest.fixture(autouse=True)
def _clean_backend():
    yield
    for path in backend.FAST_PATHS:
        backend.enable(path)


def _engine(tiny, runner, overlap=True):
    model, proc = tiny
    engine = Engine(runner, proc.tokenizer, EngineConfig(**{**CFG.__dict__, "overlap_decode": overlap}))
    engine.processor = proc
    return engine


def _output(engine):
    from raxdoc.engine.selfcheck import default_prompts

    return [r.token_ids for r in engine.generate(default_prompts(engine.processor), PARAMS)]


class WrongKernel(GatherAttention):
    """A "fast" decode kernel with a wrong scale: runs, returns plausible but wrong values."""
    name = "triton_slots"

    def __call__(self, k_cache, v_cache, q, k, v, slots, past, span, scale):
        return super().__call__(k_cache, v_cache, q, k, v, slots, past, span, scale * 7.0) * 3.0


class NaNKernel(GatherAttention):
    """A "fast" decode kernel that writes NaN into one row (an overflow, a race)."""
    name = "flash_kvcache"

    def __call__(self, k_cache, v_cache, q, k, v, slots, past, span, scale):
        out = super().__call__(k_cache, v_cache, q, k, v, slots, past, span, scale).clone()
        out[0] = float("nan")
        return out


class RaisingGraphs:
    """Graphs whose launch raises at replay (not a capture error the runner already handles)."""

    def run(self, batch, span):
        raise RuntimeError("CUDA error: an illegal instruction was encountered (fake)")


class FailingCapture:
    def run(self, batch, span):
        raise GraphCaptureError(f"capturing the decode step (batch {batch}, span {span}) failed: fake")


def _warned(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "self-check" in r.getMessage()]


def test_normal_path_passes_without_a_warning(tiny, reference_tokens, caplog):
    model, _ = tiny
    engine = _engine(tiny, SlotRunner(model, num_slots=4, max_model_len=256, pad_batches=True))
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, "raxdoc"):
        warnings.simplefilter("error")
        report = engine.self_check()
    assert not caplog.records
    assert report["verdict"].startswith("passed"), report
    assert engine.paths["overlap_decode"] == "on" and engine.paths["decode_attention"] == "gather"
    assert engine.paths["self_check"].startswith("passed")
    assert [t["ok"] for t in report["trials"]] == [True]
    assert _output(engine) == reference_tokens


@pytest.mark.parametrize("kernel", [WrongKernel, NaNKernel])
def test_a_wrong_decode_kernel_falls_back_to_gather_only(tiny, reference_tokens, caplog, kernel):
    model, _ = tiny
    runner = SlotRunner(model, num_slots=4, max_model_len=256, pad_batches=True)
    runner.attention = kernel()
    engine = _engine(tiny, runner)
    report = engine.self_check()
    [message] = _warned(caplog)
    assert "decode_attention failed" in message and "gather" in message
    assert runner.attention.name == "gather" and engine.overlap  # overlap kept: it was not the culprit
    assert "decode_attention -> gather" in engine.paths["self_check"]
    assert "self_check=fell back" in format_paths(engine.paths)
    assert [t["ok"] for t in report["trials"]][0] is False and report["trials"][-1]["ok"]
    assert _output(engine) == reference_tokens


@pytest.mark.parametrize("graphs, detail", [(RaisingGraphs, "illegal instruction"), (FailingCapture, "fake")])
def test_graphs_that_raise_fall_back_to_eager(tiny, reference_tokens, graphs, detail, caplog):
    model, _ = tiny
    runner = SlotRunner(model, num_slots=4, max_model_len=256, pad_batches=True)
    runner.graphs = graphs()
    engine = _engine(tiny, runner)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the runner's own capture warning is the check's to report
        engine.self_check()
    [message] = _warned(caplog)
    assert "cuda_graphs failed" in message and "eager" in message
    assert runner.graphs is None and engine.paths["cuda_graphs"].startswith("off")
    assert detail in engine.paths["self_check"] and "cuda_graphs -> eager" in engine.paths["self_check"]
    assert _output(engine) == reference_tokens


def test_fla_that_fails_at_launch_falls_back_to_torch_ops(tiny, reference_tokens, monkeypatch, caplog):
    """backend's probes faked: fla "installed" and tensors "on CUDA", so the ops go to fla and fail."""
    model, _ = tiny
    engine = _engine(tiny, SlotRunner(model, num_slots=4, max_model_len=256, pad_batches=True))
    monkeypatch.setattr(backend, "fla_installed", lambda: True)
    monkeypatch.setattr(backend, "triton_installed", lambda: False)
    monkeypatch.setattr(backend, "on_cuda", lambda *t: True)
    monkeypatch.setitem(__import__("sys").modules, "fla", None)  # import fla -> ImportError, as a broken build
    assert engine.paths["linear_ops"] == "fla"
    report = engine.self_check()
    [message] = _warned(caplog)
    assert "linear_ops failed" in message and "torch" in message
    assert "fla" in backend.disabled() and engine.paths["linear_ops"] == "torch"
    assert "fla" in report["trials"][0]["detail"]  # the import error, named
    assert engine.overlap and engine.runner.attention.name == "gather"
    assert _output(engine) == reference_tokens


def test_a_bug_on_every_path_is_an_error_not_a_fallback(tiny, monkeypatch):
    model, _ = tiny
    runner = SlotRunner(model, num_slots=4, max_model_len=256)
    engine = _engine(tiny, runner, overlap=False)
    real = runner.decode
    monkeypatch.setattr(runner, "decode", lambda seqs, next_tokens=None: real(seqs, next_tokens) + 1.0 * torch.arange(
        real(seqs, next_tokens).shape[-1]))
    with pytest.raises(SelfCheckError, match="reference paths too"):
        run_self_check(engine)
    assert engine.paths["self_check"].startswith("FAILED")


def test_from_pretrained_runs_the_check_on_request(tiny_checkpoint):
    engine = Engine.from_pretrained(str(tiny_checkpoint), device="cpu", max_num_seqs=4, max_model_len=256,
                                    prefill_token_budget=1024, self_check=True)
    assert engine.paths["self_check"].startswith("passed")
    assert Engine.from_pretrained(str(tiny_checkpoint), device="cpu", max_num_seqs=2, max_model_len=64,
                                  prefill_token_budget=64).paths["self_check"] == "not run"
