"""RaxProcessor: a checkpoint's tokenizer, image processor and chat prompt in one object.

`RaxProcessor.from_pretrained(path_or_id)` reads a checkpoint folder, or a hub id through
huggingface_hub (which honours HF_HOME, HF_HUB_CACHE and HF_HUB_OFFLINE): tokenizer.json,
preprocessor_config.json, config.json (image/vision token ids) and generation_config.json
(stop ids). Special token ids come from those files, never from constants here.

The prompt is Qwen3.5's ChatML with thinking switched off:
    [<|im_start|>system\\n{system}<|im_end|>\\n]
    <|im_start|>user\\n(<|vision_start|><|image_pad|>*N<|vision_end|>)*{instruction}<|im_end|>\\n
    <|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n
with N = t*h*w / merge^2 for each image (one token per merged 2x2 patch window). The think
block is written only when the tokenizer knows `<think>` and `</think>`. User text is
tokenised with special-token matching off, so an instruction cannot inject `<|im_end|>`.

Not here: the model, sampling, the output grammar, and multi-turn conversations.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer

from raxdoc.model.image_processor import ImageProcessorConfig, preprocess_images

_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
          "generation_config.json", "chat_template.jinja")
THINK_OFF = "<think>\n\n</think>\n\n"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be found or lacks what the processor needs."""


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the prompt's structural tokens, as read from the checkpoint."""

    im_start: int  # opens a chat turn
    im_end: int  # closes a chat turn; also a stop token
    vision_start: int  # before an image's pad tokens
    vision_end: int  # after them
    image_pad: int  # one per merged patch window; the model swaps in vision features here


@dataclass(frozen=True)
class RaxInputs:
    """One request, ready for the model."""

    input_ids: torch.Tensor  # (T,) int64
    pixel_values: torch.Tensor  # (patches, 3 * tp * p * p) float32
    image_grid_thw: torch.Tensor  # (n_images, 3) int64


def resolve_checkpoint(path_or_id: str | os.PathLike, revision: str | None = None) -> Path:
    """A local folder as is; otherwise the hub snapshot of the small files we read (no weights)."""
    from raxdoc.model.loader import LoaderError, resolve

    try:
        return resolve(path_or_id, allow_patterns=_FILES, revision=revision)
    except LoaderError as err:
        raise CheckpointError(f"no checkpoint folder or reachable hub repo {str(path_or_id)!r}: {err}") from err


def _read_json(folder: Path, name: str, required: bool = True) -> dict[str, Any]:
    file = folder / name
    if not file.is_file():
        if required:
            raise CheckpointError(f"{folder} has no {name}")
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{file} is not readable JSON: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{file} must hold a JSON object, not {type(data).__name__}")
    return data


class RaxProcessor:
    """Tokenizer + image processor + prompt builder for one Rax checkpoint.

    The tokenizer passed in is switched to `encode_special_tokens = True` (it is ours to own).
    """

    def __init__(self, tokenizer: Tokenizer, image_config: ImageProcessorConfig, special: SpecialTokens,
                 stop_token_ids: Sequence[int] = ()):
        self.tokenizer = tokenizer
        self.tokenizer.encode_special_tokens = True  # user text never becomes a control token
        self.image_config = image_config
        self.special = special
        self.stop_token_ids = tuple(dict.fromkeys([special.im_end, *stop_token_ids]))
        self._think = all(tokenizer.token_to_id(t) is not None for t in ("<think>", "</think>"))
        for name in SpecialTokens.__dataclass_fields__:
            self._token_text(getattr(special, name))  # fail now, not at the first prompt, on an unknown id

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike, *, revision: str | None = None) -> "RaxProcessor":
        folder = resolve_checkpoint(path_or_id, revision)
        config = _read_json(folder, "config.json")
        if not (folder / "tokenizer.json").is_file():
            raise CheckpointError(f"{folder} has no tokenizer.json")
        try:
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises its own Exception type for a malformed file
            raise CheckpointError(f"{folder / 'tokenizer.json'} is not a tokenizer: {exc}") from None
        try:
            image_config = ImageProcessorConfig.from_dict(_read_json(folder, "preprocessor_config.json"))
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{folder / 'preprocessor_config.json'}: {type(exc).__name__}: {exc}") from None

        def from_config(key: str) -> int:
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise CheckpointError(f"{folder / 'config.json'} " + (f"has no {key}" if value is None else
                                                                    f"{key} must be a token id, got {value!r}"))
            return value

        def from_tokenizer(text: str) -> int:
            token_id = tokenizer.token_to_id(text)
            if token_id is None:
                raise CheckpointError(f"tokenizer in {folder} has no {text}")
            return token_id

        special = SpecialTokens(
            im_start=from_tokenizer("<|im_start|>"),
            im_end=from_tokenizer("<|im_end|>"),
            vision_start=from_config("vision_start_token_id"),
            vision_end=from_config("vision_end_token_id"),
            image_pad=from_config("image_token_id"),
        )
        eos = _read_json(folder, "generation_config.json", required=False).get("eos_token_id")
        stops = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        return cls(tokenizer, image_config, special, stops)

    def _token_text(self, token_id: int) -> str:
        text = self.tokenizer.id_to_token(token_id)
        if text is None:
            raise CheckpointError(f"token id {token_id} is not in the tokenizer's vocabulary")
        return text

    # -- images ---------------------------------------------------------------------------------

    def preprocess_images(self, images: Sequence[Image.Image | np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """(pixel_values float32 (patches, patch_dim), image_grid_thw int64 (n, 3))."""
        return preprocess_images(images, self.image_config)

    def image_token_counts(self, image_grid_thw: torch.Tensor | Sequence[Sequence[int]]) -> list[int]:
        """Text tokens each image takes: t * h * w / merge^2."""
        merge = self.image_config.merge_size**2
        counts = []
        for t, h, w in torch.as_tensor(image_grid_thw, dtype=torch.int64).reshape(-1, 3).tolist():
            if (t * h * w) % merge:
                raise ValueError(f"grid {(t, h, w)} is not a whole number of {merge}-patch windows")
            counts.append(t * h * w // merge)
        return counts

    # -- text -----------------------------------------------------------------------------------

    def _pieces(self, instruction: str, counts: Sequence[int], system: str | None) -> list[str | tuple[int, int]]:
        """The prompt as text runs and (token id, repeat) runs, in order."""
        s = self.special
        pieces: list[str | tuple[int, int]] = []
        if system is not None:
            pieces += [(s.im_start, 1), f"system\n{system}", (s.im_end, 1), "\n"]
        pieces += [(s.im_start, 1), "user\n"]
        for n in counts:
            pieces += [(s.vision_start, 1), (s.image_pad, n), (s.vision_end, 1)]
        pieces += [instruction, (s.im_end, 1), "\n", (s.im_start, 1), "assistant\n" + (THINK_OFF if self._think else "")]
        return pieces

    def _counts(self, image_grid_thw, n_image_tokens) -> list[int]:
        if image_grid_thw is not None and n_image_tokens is not None:
            raise ValueError("give image_grid_thw or n_image_tokens, not both")
        if image_grid_thw is not None:
            return self.image_token_counts(image_grid_thw)
        return [int(n) for n in (n_image_tokens or [])]

    def build_prompt(self, instruction: str, image_grid_thw: torch.Tensor | None = None, *,
                     n_image_tokens: Sequence[int] | None = None, system: str | None = None) -> str:
        """The prompt text, image pads expanded (for logs and tests; `encode` is what the model gets)."""
        text = []
        for piece in self._pieces(instruction, self._counts(image_grid_thw, n_image_tokens), system):
            if isinstance(piece, str):
                text.append(piece)
            else:
                token_id, repeat = piece
                text.append(self._token_text(token_id) * repeat)
        return "".join(text)

    def encode(self, instruction: str, image_grid_thw: torch.Tensor | None = None, *,
               n_image_tokens: Sequence[int] | None = None, system: str | None = None) -> list[int]:
        """Token ids of the prompt; adjacent text runs are tokenised together, as the chat template would."""
        ids: list[int] = []
        pending = ""
        for piece in self._pieces(instruction, self._counts(image_grid_thw, n_image_tokens), system):
            if isinstance(piece, str):
                pending += piece
                continue
            if pending:
                ids += self.tokenizer.encode(pending, add_special_tokens=False).ids
                pending = ""
            ids += [piece[0]] * piece[1]
        if pending:
            ids += self.tokenizer.encode(pending, add_special_tokens=False).ids
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def __call__(self, instruction: str, images: Sequence[Image.Image | np.ndarray] = (), *,
                 system: str | None = None) -> RaxInputs:
        """Images and instruction -> model inputs for one request."""
        pixel_values, grid = self.preprocess_images(list(images))
        ids = self.encode(instruction, grid, system=system)
        return RaxInputs(torch.tensor(ids, dtype=torch.int64), pixel_values, grid)
