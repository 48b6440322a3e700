"""One request's state as it moves through the engine.

A `Sequence` holds the prompt ids, an opaque reference to its vision inputs
(pixel values and grid, handed untouched to the runner), the generated ids, its
status, the cache slot it occupies while running, its `SamplingParams`, an
optional grammar matcher and its timings. It is torch-free: tensors are only
carried (`image_problem` reads the numbers of an image grid, duck-typed).
Scheduling decisions live in `scheduler.py`, stop rules in `stop.py`.
"""

from __future__ import annotations

import enum
import time
from typing import Any

from raxdoc.engine.sampling_params import FinishReason, Result, SamplingParams


class SequenceStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class Sequence:
    def __init__(
        self,
        seq_id: int,
        prompt_ids: list[int],
        params: SamplingParams,
        *,
        num_vit_tokens: int = 0,
        vision: Any = None,
        matcher: Any = None,
    ) -> None:
        if not prompt_ids:
            raise ValueError(f"sequence {seq_id}: empty prompt")
        self.seq_id = seq_id
        self.prompt_ids: list[int] = list(prompt_ids)
        self.params = params
        # ViT patch tokens of its images (placeholders x merge_size**2): ViT work at prefill.
        self.num_vit_tokens = num_vit_tokens
        # Opaque to the engine: e.g. {"pixel_values": Tensor, "image_grid_thw": Tensor}.
        self.vision = vision
        # A GrammarMatcher (grammar.py) or None for free text.
        self.matcher = matcher
        self.output_ids: list[int] = []
        self.status = SequenceStatus.WAITING
        self.slot: int | None = None
        self.finish_reason: FinishReason | None = None
        self.error_type: str | None = None
        self.error: str | None = None
        # Output text, set by the stop policy when the sequence finishes.
        self.text: str = ""
        self.t_queued = time.perf_counter()
        self.t_first_token: float | None = None
        self.t_finished: float | None = None

    def __repr__(self) -> str:
        return (f"Sequence(id={self.seq_id}, status={self.status.value}, slot={self.slot}, "
                f"prompt={self.num_prompt_tokens}, out={self.num_completion_tokens})")

    @property
    def num_prompt_tokens(self) -> int:
        return len(self.prompt_ids)

    @property
    def num_completion_tokens(self) -> int:
        return len(self.output_ids)

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def last_token(self) -> int:
        return self.output_ids[-1] if self.output_ids else self.prompt_ids[-1]

    @property
    def is_finished(self) -> bool:
        return self.status is SequenceStatus.FINISHED

    def append_token(self, token_id: int) -> None:
        if self.t_first_token is None:
            self.t_first_token = time.perf_counter()
        self.output_ids.append(token_id)

    def finish(self, reason: FinishReason, *, error_type: str | None = None, error: str | None = None) -> None:
        self.status = SequenceStatus.FINISHED
        self.finish_reason = reason
        self.error_type = error_type
        self.error = error
        self.t_finished = time.perf_counter()

    def to_result(self) -> Result:
        if self.finish_reason is None or self.t_finished is None:
            raise RuntimeError(f"sequence {self.seq_id} is not finished")
        return Result(
            token_ids=tuple(self.output_ids),
            text=self.text,
            finish_reason=self.finish_reason,
            prompt_tokens=self.num_prompt_tokens,
            completion_tokens=self.num_completion_tokens,
            t_queued=self.t_queued,
            t_first_token=self.t_first_token,
            t_finished=self.t_finished,
            error_type=self.error_type,
            error=self.error,
            request_id=self.seq_id,
        )


def image_problem(vision: dict | None, n_patches: int) -> str | None:
    """Why a prompt's images cannot fill its placeholders (None when they can). Checked per prompt
    at queueing: in the runner a mismatch would fail every sequence of the prefill batch."""
    if vision is None:
        return None if n_patches == 0 else f"image placeholders ({n_patches} patches) but no pixel_values"
    grid = vision["image_grid_thw"]
    if grid is None:
        # No placeholders and no grid: vision inputs opaque to the engine (a generic reference model).
        return None if n_patches == 0 else "image placeholders with pixel_values but no image_grid_thw"
    rows = grid.tolist() if hasattr(grid, "tolist") else list(grid)
    patches = sum(int(t) * int(h) * int(w) for t, h, w in rows)
    if patches != n_patches:
        return f"image_grid_thw has {patches} patches, the placeholders need {n_patches}"
    return None
