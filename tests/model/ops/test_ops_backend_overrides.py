"""`backend.disable` and `backend.reference_only`: the self-check's two overrides, with faked probes."""

import threading

import pytest
import torch

from raxdoc.model.ops import backend


@pytest.fixture
def fake_gpu(monkeypatch):
    """Probes say: CUDA tensors, fla and Triton installed, sm80 flash available."""
    monkeypatch.setattr(backend, "on_cuda", lambda *t: True)
    monkeypatch.setattr(backend, "fla_installed", lambda: True)
    monkeypatch.setattr(backend, "triton_installed", lambda: True)
    monkeypatch.setattr(backend, "bundled_flash_available", lambda t: True)
    monkeypatch.setattr(backend, "_flash_attn_usable", lambda t: False)
    yield torch.zeros(1, 2, 4, 1, 8)
    for path in backend.FAST_PATHS:
        backend.enable(path)


def test_disable_switches_one_path_off_until_enabled(fake_gpu):
    t = fake_gpu
    assert backend.use_fla(t) and backend.use_triton(t) and backend.prefill_attention_path(t) == "aten_flash"
    backend.disable("fla")
    assert not backend.use_fla(t) and backend.use_triton(t) and backend.disabled() == {"fla"}
    backend.disable("triton")
    backend.disable("prefill_flash")
    assert not backend.use_triton(t) and backend.prefill_attention_path(t) == "sdpa"
    backend.enable("fla")
    assert backend.use_fla(t)
    with pytest.raises(ValueError, match="unknown fast path"):
        backend.disable("graphs")


def test_a_disabled_fla_is_an_error_when_asked_for_by_name(fake_gpu, monkeypatch):
    monkeypatch.setenv("RAXDOC_OPS", "fla")
    backend.disable("fla")
    with pytest.raises(backend.BackendUnavailableError, match="self-check"):
        backend.use_fla(fake_gpu)


def test_reference_only_picks_every_reference_on_this_thread_only(fake_gpu):
    t = fake_gpu
    seen = {}
    with backend.reference_only():
        assert not backend.use_fla(t) and not backend.use_triton(t)
        assert backend.prefill_attention_path(t) == "sdpa"
        assert backend.decode_attention_kernel(t, "auto") == "gather"
        other = threading.Thread(target=lambda: seen.update(fla=backend.use_fla(t)))
        other.start()
        other.join()
    assert seen == {"fla": True}  # another thread (the mask filler, a second engine) is unaffected
    assert backend.use_fla(t) and backend.decode_attention_kernel(t, "auto") == "triton_slots"
