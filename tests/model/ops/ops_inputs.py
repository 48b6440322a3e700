"""Small random gated-delta and conv problems shared by the ops tests (imported by name)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Named tolerances. float32 reference vs float32 reference: the chunked and token
# loops sum in different orders, errors stay ~1e-6 at these sizes.
F32_ATOL = 2e-5
F32_RTOL = 1e-4


def gdn_inputs(B=1, T=8, H=2, HV=None, K=16, V=8, dtype=torch.float32, seed=0, normalized_k=True, device="cpu"):
    """q, k, v, g, beta for the gated delta rule; decays close to 1 so memory is long."""
    HV = HV or H
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(B, T, H, K, generator=gen)
    k = torch.randn(B, T, H, K, generator=gen)
    if normalized_k:
        k = F.normalize(k, dim=-1)
    v = torch.randn(B, T, HV, V, generator=gen)
    g = F.logsigmoid(torch.randn(B, T, HV, generator=gen) + 3.0)  # log decay in about (-0.3, 0)
    beta = torch.sigmoid(torch.randn(B, T, HV, generator=gen))
    return tuple(x.to(device=device, dtype=dtype) for x in (q, k, v, g, beta))


def gdn_state(N, H, K, V, seed=1, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(N, H, K, V, generator=gen).to(device)


def conv_inputs(B=1, T=8, D=6, W=4, seed=0, bias=True, dtype=torch.float32, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, D, generator=gen)
    weight = torch.randn(D, W, generator=gen) / W
    b = torch.randn(D, generator=gen) if bias else None
    cast = lambda t: None if t is None else t.to(device=device, dtype=dtype)  # noqa: E731
    return cast(x), cast(weight), cast(b)

