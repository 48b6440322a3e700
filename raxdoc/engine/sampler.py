"""Next-token choice for a batch of rows, each with its own settings.

One batched call does greedy, temperature and top-p per row, with an optional
grammar bitmask, without host syncs: no `.item()`, no Python branch on tensor
values; greedy rows are picked with `torch.where`. Python branches only on
host-side facts (does any row sample, does any row use top-p), which the
engine knows from the `SamplingParams` it already holds.

Sampling draws an exponential race (argmax of p / E, E ~ Exp(1)), which picks
token i with probability p_i like `multinomial` but stays on device. Rows with
a `seed` draw their noise from a generator seeded by (seed, step), so their
tokens do not depend on what else is in the batch.

No stop logic, no grammar state (the mask arrives ready); no logit processors
beyond what `SamplingParams` names.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from raxdoc.engine.sampling_params import SamplingParams

# Seeds are mixed with the step so consecutive tokens of one request differ.
_SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class SamplingBatch:
    # (B,) float32 on the logits' device, 0 = greedy; None when no row samples: an all-greedy step
    # (the common case) then makes no host-to-device copy, each of which waits for the stream.
    temperature: torch.Tensor | None
    top_p: torch.Tensor | None  # (B,) float32, or None like temperature
    # Host-side facts, so the sampler can skip work without reading tensors.
    any_sampled: bool
    any_top_p: bool
    # Per row: (seed, step) for seeded rows, None otherwise.
    seeds: tuple[tuple[int, int] | None, ...]

    @classmethod
    def build(cls, params: list[SamplingParams], steps: list[int] | None = None,
              device: torch.device | str = "cpu") -> "SamplingBatch":
        steps = steps if steps is not None else [0] * len(params)
        any_sampled = any(not p.greedy for p in params)
        return cls(
            temperature=_on_device([p.temperature for p in params], device) if any_sampled else None,
            top_p=_on_device([p.top_p for p in params], device) if any_sampled else None,
            any_sampled=any_sampled,
            any_top_p=any(p.top_p < 1.0 and not p.greedy for p in params),
            seeds=tuple(None if p.seed is None or p.greedy else (p.seed, s) for p, s in zip(params, steps)),
        )


def _on_device(values: list[float], device: torch.device | str) -> torch.Tensor:
    """float32 values on `device`; to CUDA through pinned memory without blocking (a pageable copy
    would wait for the work already queued, e.g. the forward an overlapped step runs behind)."""
    host = torch.tensor(values, dtype=torch.float32)
    if torch.device(device).type != "cuda":
        return host.to(device)
    return host.pin_memory().to(device, non_blocking=True)


def bitmask_to_bool(bitmask: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(B, ceil(V/32)) int32 bitmask, bit j of word w allows token 32*w + j -> (B, V) bool."""
    # Bytes, not int32 words, so the unpacked temporary is B*V bytes rather than 4*B*V
    # (256 rows x 248k vocab: 64 MB instead of 254 MB). Little-endian: byte b holds tokens 8b..8b+7.
    as_bytes = bitmask.contiguous().view(torch.uint8)  # (B, 4W)
    shifts = torch.arange(8, device=bitmask.device, dtype=torch.uint8)
    bits = (as_bytes.unsqueeze(-1) >> shifts) & 1  # (B, 4W, 8)
    allowed = bits.reshape(bitmask.shape[0], -1).bool()  # (B, 32W)
    width = allowed.shape[1]
    if width >= vocab_size:
        return allowed[:, :vocab_size]
    # Logits wider than the mask: tokens past it are not in the grammar's vocabulary.
    pad = torch.zeros(bitmask.shape[0], vocab_size - width, dtype=torch.bool, device=bitmask.device)
    return torch.cat([allowed, pad], dim=1)


class Sampler:
    def __init__(self, generator: torch.Generator | None = None) -> None:
        # Noise for unseeded rows; pass a seeded generator for reproducible runs.
        self.generator = generator

    def __call__(self, logits: torch.Tensor, batch: SamplingBatch,
                 bitmask: torch.Tensor | None = None) -> torch.Tensor:
        """logits (B, V) -> token ids (B,) int64, on the logits' device."""
        logits = logits.float()
        if bitmask is not None:
            allowed = bitmask_to_bool(bitmask.to(logits.device, non_blocking=True), logits.shape[1])
            logits = logits.masked_fill(~allowed, float("-inf"))
        greedy = logits.argmax(dim=-1)
        if not batch.any_sampled:
            return greedy
        temperature = batch.temperature.to(logits.device)
        # Greedy rows get a harmless divisor here and are replaced by argmax below.
        probs = torch.softmax(logits / temperature.clamp_min(1e-5).unsqueeze(1), dim=-1)
        if batch.any_top_p:
            probs = self._top_p(probs, batch.top_p.to(logits.device))
        noise = self._noise(probs, batch)
        sampled = (probs / noise).argmax(dim=-1)
        return torch.where(temperature == 0, greedy, sampled)

    @staticmethod
    def _top_p(probs: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        # Mass strictly before each token; the top token is always kept.
        before = sorted_p.cumsum(dim=-1) - sorted_p
        sorted_p = sorted_p.masked_fill(before >= top_p.unsqueeze(1), 0.0)
        return torch.zeros_like(probs).scatter_(-1, order, sorted_p)

    def _noise(self, probs: torch.Tensor, batch: SamplingBatch) -> torch.Tensor:
        noise = torch.empty_like(probs).exponential_(generator=self.generator)
        for row, seed in enumerate(batch.seeds):
            if seed is not None:
                gen = torch.Generator(device=probs.device)
                gen.manual_seed(seed[0] * _SEED_STRIDE + seed[1])
                noise[row].exponential_(generator=gen)
        # An exact 0 draw would turn a zero-probability token into 0/0 = nan.
        return noise.clamp_min_(1e-20)
