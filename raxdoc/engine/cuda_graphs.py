"""Padded decode batches and the CUDA graphs captured for them.

A decode step has static shapes only if its batch size and (for the gather
attention kernel) its attention span are fixed. The runner therefore pads a
batch of n rows up to `padded_batch_size(n)` (1, 2, 4, 8, 16, 32, then steps
of 32, and the slot count itself) and rounds the span up with
`span_bucket`; `DecodeGraphs` captures one graph per (batch size, span) the
first time it is needed and replays it afterwards. Padding rows point at the
pool's spare slot, so they never touch a real sequence's state.

Every capture is preceded by one eager run of the same step, with the same
shapes, on a side stream: Triton's JIT compile and autotuning (fla's kernels),
cuBLAS workspaces and lazy inits happen there, never inside the capture. A
capture that fails anyway raises `GraphCaptureError`; the runner then decodes
eagerly (a warning, and the reason kept for the benchmark's report) rather
than failing every decode step of the run.

Not here: filling the input buffers or running the model eagerly
(`slot_runner.py`). The bucket functions are plain Python (tested on CPU);
capture and replay need CUDA.
"""

from __future__ import annotations

import bisect
from typing import Callable

import torch

# Spans below this share one bucket: short prefixes cost little to over-read.
MIN_SPAN = 64


def graph_batch_sizes(max_num_seqs: int) -> tuple[int, ...]:
    """Batch sizes decode is padded to: powers of two up to 32, then multiples of 32, then the max."""
    if max_num_seqs < 1:
        raise ValueError(f"max_num_seqs must be >= 1, got {max_num_seqs}")
    sizes = [s for s in (1, 2, 4, 8, 16, 32) if s < max_num_seqs]
    sizes += range(64, max_num_seqs, 32)
    return tuple(sizes) + (max_num_seqs,)


def padded_batch_size(n: int, sizes: tuple[int, ...]) -> int:
    """The smallest of `sizes` (ascending) that holds n rows."""
    i = bisect.bisect_left(sizes, n)
    if n < 1 or i == len(sizes):
        raise ValueError(f"batch of {n} rows does not fit the padded sizes {sizes}")
    return sizes[i]


def span_bucket(longest: int, max_model_len: int) -> int:
    """Keys attended by a gather-kernel decode step whose longest row sees `longest` keys:
    the next power of two (at least MIN_SPAN), capped at `max_model_len`."""
    if not 1 <= longest <= max_model_len:
        raise ValueError(f"longest prefix {longest} outside [1, {max_model_len}]")
    return min(max(MIN_SPAN, 1 << (longest - 1).bit_length()), max_model_len)


class GraphCaptureError(RuntimeError):
    """Capturing a decode step failed, after the same step had just run eagerly without error."""


class DecodeGraphs:
    """One CUDA graph per (batch size, span); `step(batch, span)` reads and writes static buffers only."""

    def __init__(self, step: Callable[[int, int], torch.Tensor], reset_inputs: Callable[[int], None],
                 device: torch.device) -> None:
        """`step(b, span)` -> logits (b, V) computed from the first b rows of the runner's input buffers;
        `reset_inputs(b)` points those rows at the spare slot (so capture writes nowhere real)."""
        if device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA device; run eagerly elsewhere")
        self._step, self._reset, self.device = step, reset_inputs, device
        self._graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self._pool = None  # memory pool shared by every graph (they never run at once)
        self._warmup_stream = torch.cuda.Stream(device)

    def __len__(self) -> int:
        return len(self._graphs)

    def run(self, batch: int, span: int) -> torch.Tensor:
        """Replay (capturing first if new) with whatever the input buffers hold; -> logits (batch, V)."""
        key = (batch, span)
        if key not in self._graphs:
            self._graphs[key] = self._capture(batch, span)
        graph, out = self._graphs[key]
        graph.replay()
        return out

    def _capture(self, batch: int, span: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        # Capture writes K/V and states through the buffers' current rows: park them on the spare
        # slot first, and put the caller's inputs back afterwards (they were copied in already).
        restore = self._reset(batch)
        try:
            current = torch.cuda.current_stream(self.device)
            self._warmup_stream.wait_stream(current)
            with torch.cuda.stream(self._warmup_stream):
                self._step(batch, span)  # eager errors are the caller's, as on any eager step
            current.wait_stream(self._warmup_stream)
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph, pool=self._pool):
                    out = self._step(batch, span)
            except Exception as err:  # CUDA and Triton errors alike: one policy, the runner's fallback
                raise GraphCaptureError(f"capturing the decode step (batch {batch}, span {span}) failed: "
                                        f"{type(err).__name__}: {err}") from err
        finally:
            restore()
        if self._pool is None:
            self._pool = graph.pool()
        return graph, out
