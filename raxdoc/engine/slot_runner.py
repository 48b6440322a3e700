"""`SlotRunner`: the model on the slot pool, the `ModelRunner` for real checkpoints.

Prefill packs the admitted prompts end to end (one (1, sum T_i) row split by
cu_seqlens; images encoded together by the ViT): Gated DeltaNet layers go
through `ops.chunk_gated_delta_rule` / `ops.causal_conv1d` with cu_seqlens (fla's
varlen kernels on CUDA, one call for the whole batch) and hand back one final
state per sequence, written into the slots with `index_copy_`; K/V of every
token go into the slots with one `index_put_`. Positions (mRoPE) are computed
on the host from the host-side prompts, so the step needs no device sync.

Decode is one token per running sequence at position `num_tokens - 1` (plus
its mRoPE delta), static-shaped: tokens, positions, slot ids and lengths sit
in a device buffer filled by one host-to-device copy per step; the linear
layers update all rows' slots in place (`ops.fused_recurrent_gated_delta_rule_update`), the
attention layers use a `decode_attention` kernel. With CUDA graphs (default on
CUDA; `cuda_graphs=False` is the eager switch) the batch is padded to a bucket
size and a captured graph is replayed; padding rows use the pool's spare slot.
If a capture fails (`GraphCaptureError`) the runner warns, keeps the reason in
`graph_error` and decodes eagerly from then on: a slower run, not a failed one.
`pad_batches=True` runs the padded path eagerly (CPU tests of it).

Not here: scheduling, sampling, slot accounting.
"""

from __future__ import annotations

import warnings

import torch

from raxdoc.engine.cache_pool import CachePool
from raxdoc.engine.cuda_graphs import (
    DecodeGraphs,
    GraphCaptureError,
    graph_batch_sizes,
    padded_batch_size,
    span_bucket,
)
from raxdoc.model.ops.attention.decode import pick_decode_attention
from raxdoc.engine.sequence import Sequence
from raxdoc.engine.slot_cache import SlotCache
from raxdoc.engine.slots import CacheDims
from raxdoc.model.rope import rope_index

# Rows of the decode input buffer (4, num_slots).
TOKEN, POSITION, SLOT, PAST = range(4)


class SlotRunner:
    # The `ModelRunner` attributes that are the same for every instance (the others are set in __init__).
    # Takes `decode(seqs, next_tokens=...)`: the engine may queue a step before reading the last ids.
    decode_ahead = True
    # Prefill puts the images into the cache; decode never reads pixels again (the engine frees them).
    needs_vision_after_prefill = False

    def __init__(self, model, num_slots: int, max_model_len: int, *, cuda_graphs: bool | None = None,
                 pad_batches: bool = False, decode_attention: str | None = None) -> None:
        """`cuda_graphs`: None = on when the model is on CUDA. `decode_attention`: see
        `ops.attention.pick_decode_attention` ("auto", "gather", "flash_kvcache", "triton_slots",
        "aten_flash"); None = the `RAXDOC_DECODE_ATTENTION` environment variable, else "auto"."""
        self.model = model
        param = next(model.parameters())
        self.device = param.device
        self.vocab_size = model.config.text.vocab_size
        self.num_slots = num_slots
        self.max_model_len = max_model_len
        self.spare_slot = num_slots  # padding rows read and write only this extra slot
        # Recurrent state in float32 (the model's LinearState contract): it accumulates over every token.
        self.pool = CachePool(CacheDims.from_config(model.config.text), num_slots + 1, max_model_len,
                              dtype=param.dtype, state_dtype=torch.float32, device=self.device)
        self.attention = pick_decode_attention(self.pool.k, decode_attention)
        use_graphs = self.device.type == "cuda" if cuda_graphs is None else cuda_graphs
        self.batch_sizes = graph_batch_sizes(num_slots)
        self.pad_batches = pad_batches or use_graphs
        self._inputs = torch.zeros(4, num_slots, dtype=torch.long, device=self.device)
        # Pinned on CUDA so the per-step copy is asynchronous; it is reused only after the
        # engine's per-step sync (reading sampled ids), which follows the copy in stream order.
        self._staging = torch.zeros(4, num_slots, dtype=torch.long, pin_memory=self.device.type == "cuda")
        self._padding = torch.tensor([0, 0, self.spare_slot, 0], dtype=torch.long)[:, None]  # (4, 1)
        # mRoPE delta of the sequence in each slot (host ints, set at prefill).
        self._deltas = [0] * (num_slots + 1)
        self.graphs = DecodeGraphs(self._decode_step, self._park, self.device) if use_graphs else None
        # Why graphs were dropped mid-run (a failed capture), for reports; None while they work.
        self.graph_error: str | None = None

    @torch.inference_mode()
    def prefill(self, seqs: list[Sequence]) -> torch.Tensor:
        prompts = [torch.tensor(s.prompt_ids, dtype=torch.long) for s in seqs]  # host
        grids = [s.vision["image_grid_thw"] for s in seqs if s.vision is not None]
        grid_thw = torch.cat(grids).cpu() if grids else None
        # On host tensors: rope_index walks the prompts in Python, and no device sync follows.
        positions, deltas = rope_index(prompts, grid_thw, self.model.config)  # (3, N), (S, 1)
        for s, d in zip(seqs, deltas[:, 0].tolist()):
            self._deltas[s.slot] = d
        lens = torch.tensor([len(p) for p in prompts])
        slots = torch.tensor([s.slot for s in seqs])
        # (6, N) host rows: ids, token slot, token position, mRoPE (t, h, w); one copy to the device.
        packed = torch.cat([torch.stack([torch.cat(prompts), slots.repeat_interleave(lens),
                                         torch.cat([torch.arange(n) for n in lens.tolist()])]),
                            positions.long()]).to(self.device, non_blocking=True)
        cu = torch.nn.functional.pad(lens.cumsum(0), (1, 0)).to(torch.int32)
        cu_dev = cu.to(self.device, non_blocking=True)
        pixels = [s.vision["pixel_values"] for s in seqs if s.vision is not None]
        pixel_values = torch.cat(pixels).to(self.device, non_blocking=True) if pixels else None
        ids = packed[0][None]  # (1, N)
        embeds = self.model.embed(ids, pixel_values, None if grid_thw is None else grid_thw.to(self.device))
        slot_ids = slots.to(self.device, non_blocking=True)
        # The last occupant's K/V past the new prompt is read (masked) by padded decode spans: clear it.
        self.pool.reset_kv(slot_ids)
        cache = SlotCache.prefill(self.pool, slot_ids, packed[1], packed[2])
        hidden = self.model.language_model(embeds, packed[3:, None], cache=cache, cu_seqlens=cu_dev)  # (1, N, h)
        last = (cu[1:] - 1).to(self.device, non_blocking=True)
        return self.model.lm_head(hidden[0, last])  # (S, V)

    @torch.inference_mode()
    def decode(self, seqs: list[Sequence], next_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """`next_tokens` (len(seqs),) on the device: each row's input token when the host has not
        appended it yet (overlapped decode); the rows then sit one position further on."""
        n = len(seqs)
        batch = padded_batch_size(n, self.batch_sizes) if self.pad_batches else n
        ahead = int(next_tokens is not None)
        past = [s.num_tokens - 1 + ahead for s in seqs]  # tokens already in each slot's cache
        longest = max(past) + 1
        # Padded (graph) steps round the span up so few graphs cover every length.
        span = span_bucket(longest, self.max_model_len) if self.pad_batches else longest
        host = self._staging[:, :batch]
        host[:, :n] = torch.tensor([[0 if ahead else s.last_token for s in seqs],
                                    [p + self._deltas[s.slot] for p, s in zip(past, seqs)],
                                    [s.slot for s in seqs], past])
        host[:, n:] = self._padding
        # The whole buffer (a few KiB): a contiguous pinned source keeps the copy asynchronous.
        self._inputs.copy_(self._staging, non_blocking=True)
        if ahead:  # device to device, queued behind the sampler that made them: no sync
            self._inputs[TOKEN, :n].copy_(next_tokens)
        logits = None
        if self.graphs is not None:
            try:
                logits = self.graphs.run(batch, span if self.attention.uses_span else 0)
            except GraphCaptureError as err:
                self._drop_graphs(err)
        if logits is None:
            logits = self._decode_step(batch, span)
        return logits[:n]

    def _drop_graphs(self, err: GraphCaptureError) -> None:
        """Eager decode from now on: a capture that failed once fails again (same code, other shapes)."""
        self.graph_error = str(err)
        self.graphs = None
        warnings.warn(f"{err}; decoding eagerly from now on", RuntimeWarning, stacklevel=3)

    def _decode_step(self, batch: int, span: int) -> torch.Tensor:
        """One decode step over the first `batch` rows of the input buffer -> logits (batch, V)."""
        rows = self._inputs[:, :batch]
        positions = rows[POSITION][None, :, None].expand(3, batch, 1)  # (3, B, 1): text tokens, t = h = w
        cache = SlotCache.decode(self.pool, rows[SLOT], rows[PAST], span, self.attention)
        lm = self.model.language_model
        hidden = lm(lm.embed_tokens(rows[TOKEN][:, None]), positions, cache=cache)  # (B, 1, h)
        return self.model.lm_head(hidden[:, 0])

    def _park(self, batch: int):
        """Point the first `batch` input rows at the spare slot; return a function putting them back."""
        saved = self._inputs[:, :batch].clone()
        self._inputs[:, :batch].copy_(self._padding.to(self.device).expand(4, batch))

        def restore() -> None:
            self._inputs[:, :batch].copy_(saved)
        return restore
