"""Dispatch: when fla is chosen, that the wrappers call it with the right arguments,
and that a CPU run never imports fla (even when fla is installed)."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from ops_inputs import conv_inputs, gdn_inputs, gdn_state

import raxdoc.model.ops.backend as backend
from raxdoc.model.ops import (
    BackendUnavailableError,
    causal_conv1d,
    causal_conv1d_update,
    chunk_gated_delta_rule,
    fused_recurrent_gated_delta_rule,
    l2norm,
    naive_causal_conv1d,
    naive_causal_conv1d_update,
    naive_chunk_gated_delta_rule,
    naive_l2norm,
    naive_recurrent_gated_delta_rule,
    naive_rms_norm_gated,
    rms_norm_gated,
    use_fla,
)
from raxdoc.settings import SettingError

CUDA = SimpleNamespace(is_cuda=True)
CPU = SimpleNamespace(is_cuda=False)


def test_mode_decides(monkeypatch):
    monkeypatch.setattr(backend, "fla_installed", lambda: True)
    assert use_fla(CUDA, None, CUDA)
    assert not use_fla(CUDA, CPU)
    monkeypatch.setenv("RAXDOC_OPS", "torch")
    assert not use_fla(CUDA, CUDA)
    monkeypatch.setenv("RAXDOC_OPS", "fla")
    assert use_fla(CUDA)
    with pytest.raises(BackendUnavailableError):
        use_fla(CPU)
    monkeypatch.setenv("RAXDOC_OPS", "triton")
    with pytest.raises(SettingError, match="RAXDOC_OPS"):
        use_fla(CUDA)


def test_no_fla_means_naive_even_on_cuda(monkeypatch):
    monkeypatch.setattr(backend, "fla_installed", lambda: False)
    assert not use_fla(CUDA)


def _fake_fla(calls: list) -> dict[str, types.ModuleType]:
    """Stand-ins with fla 0.6's signatures (positional order included) that record
    their keyword arguments and compute with the naive ops."""

    def chunk_gated_delta_rule(q, k, v, g, beta, scale=None, initial_state=None, output_final_state=False,
                               use_qk_l2norm_in_kernel=False, use_beta_sigmoid_in_kernel=False,
                               allow_neg_eigval=False, state_v_first=False, cu_seqlens=None, **kwargs):
        calls.append(("chunk", cu_seqlens is not None))
        return naive_chunk_gated_delta_rule(q, k, v, g, beta, scale, initial_state, output_final_state,
                                            cu_seqlens, use_qk_l2norm_in_kernel)

    def fused_recurrent_gated_delta_rule(q, k, v, g=None, gk=None, gv=None, beta=None, scale=None,
                                         initial_state=None, output_final_state=False,
                                         use_qk_l2norm_in_kernel=False, cu_seqlens=None, **kwargs):
        assert gk is None and gv is None and beta is not None
        calls.append(("recurrent", cu_seqlens is not None))
        return naive_recurrent_gated_delta_rule(q, k, v, g, beta, scale, initial_state, output_final_state,
                                                cu_seqlens, use_qk_l2norm_in_kernel)

    def causal_conv1d(x, weight=None, bias=None, residual=None, initial_state=None, output_final_state=False,
                      activation=None, backend="triton", cu_seqlens=None, **kwargs):
        assert residual is None
        calls.append(("conv", activation))
        return naive_causal_conv1d(x, weight, bias, activation, initial_state, output_final_state, cu_seqlens)

    def causal_conv1d_update(x, cache, residual=None, weight=None, bias=None, activation=None):
        calls.append(("conv_update", activation))
        return naive_causal_conv1d_update(x, cache, weight, bias, activation), cache

    def rms_norm_gated(x, g, weight, bias, activation="swish", residual=None, prenorm=False,
                       residual_in_fp32=False, eps=1e-6):
        assert bias is None and activation in ("silu", "swish")
        calls.append(("rms_norm_gated", eps))
        return naive_rms_norm_gated(x, g, weight, eps)

    def l2norm(x, eps=1e-6, output_dtype=None):
        calls.append(("l2norm", eps))
        return naive_l2norm(x, eps)

    modules = {
        "fla": {}, "fla.ops": {}, "fla.modules": {}, "fla.modules.norm": {},
        "fla.ops.gated_delta_rule": dict(chunk_gated_delta_rule=chunk_gated_delta_rule,
                                         fused_recurrent_gated_delta_rule=fused_recurrent_gated_delta_rule),
        "fla.modules.causal_conv1d": dict(causal_conv1d=causal_conv1d, causal_conv1d_update=causal_conv1d_update),
        "fla.modules.norm.fused_norm_gate": dict(rms_norm_gated=rms_norm_gated),
        "fla.modules.norm.l2norm": dict(l2norm=l2norm),
    }
    out = {}
    for name, attrs in modules.items():
        mod = types.ModuleType(name)
        mod.__path__ = []  # a package, so submodule imports resolve through sys.modules
        for key, value in attrs.items():
            setattr(mod, key, value)
        out[name] = mod
    return out


def test_fla_branch_wiring(monkeypatch):
    """CPU tensors posing as CUDA ones: every wrapper reaches its fla function and returns its result."""
    calls: list = []
    for name, mod in _fake_fla(calls).items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(backend, "fla_installed", lambda: True)
    monkeypatch.setattr(backend, "on_cuda", lambda *tensors: True)

    q, k, v, g, beta = gdn_inputs(B=1, T=9, H=2, HV=4, K=8, V=4, normalized_k=False)
    cu, h0 = torch.tensor([0, 4, 9]), gdn_state(2, 4, 8, 4)
    kw = dict(scale=0.2, initial_state=h0, output_final_state=True, cu_seqlens=cu, use_qk_l2norm_in_kernel=True)
    for fast, naive in ((chunk_gated_delta_rule, naive_chunk_gated_delta_rule),
                        (fused_recurrent_gated_delta_rule, naive_recurrent_gated_delta_rule)):
        o, s = fast(q, k, v, g, beta, **kw)
        o_ref, s_ref = naive(q, k, v, g, beta, **kw)
        assert torch.equal(o, o_ref) and torch.equal(s, s_ref)

    x, w, b = conv_inputs(B=2, T=5, D=4, W=4)
    y, state = causal_conv1d(x, w, b, output_final_state=True)
    assert torch.equal(y, naive_causal_conv1d(x, w, b)[0])
    step = causal_conv1d_update(x[:, :1], state, w, b)
    assert step.shape == (2, 1, 4) and torch.equal(state[..., -1], x[:, 0])

    z = torch.randn(3, 8)
    assert torch.equal(rms_norm_gated(z, z, torch.ones(8), eps=1e-5), naive_rms_norm_gated(z, z, torch.ones(8), 1e-5))
    assert torch.equal(l2norm(z), naive_l2norm(z))
    assert [c[0] for c in calls] == ["chunk", "recurrent", "conv", "conv_update", "rms_norm_gated", "l2norm"]
    assert calls[0] == ("chunk", True) and calls[2] == ("conv", "silu") and calls[4] == ("rms_norm_gated", 1e-5)


_CPU_RUN = """
import sys, torch
import raxdoc.model.ops as ops
from raxdoc.model.ops.backend import fla_installed
assert fla_installed(), 'the fake fla package should be findable'
assert 'fla' not in sys.modules, 'importing the ops imported fla'
q = k = torch.nn.functional.normalize(torch.randn(1, 5, 2, 8), dim=-1)
v, g, beta = torch.randn(1, 5, 2, 4), -torch.rand(1, 5, 2), torch.rand(1, 5, 2)
ops.chunk_gated_delta_rule(q, k, v, g, beta, output_final_state=True)
ops.fused_recurrent_gated_delta_rule(q, k, v, g, beta, output_final_state=True)
x, w = torch.randn(1, 5, 6), torch.randn(6, 4)
_, st = ops.causal_conv1d(x, w, output_final_state=True)
ops.causal_conv1d_update(x[:, 0], st, w)
ops.rms_norm_gated(v, v, torch.ones(4)); ops.l2norm(v)
assert 'fla' not in sys.modules, 'a CPU op imported fla'
print('ok')
"""


def test_cpu_path_never_imports_fla(tmp_path: Path):
    # A findable fla whose import fails loudly: only the CUDA check can keep it out.
    (tmp_path / "fla").mkdir()
    (tmp_path / "fla" / "__init__.py").write_text("raise RuntimeError('fla was imported on a CPU run')\n")
    repo = Path(__file__).resolve().parents[3]
    env = {"PYTHONPATH": f"{tmp_path}:{repo}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", _CPU_RUN], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
