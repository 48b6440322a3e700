"""`HfPrompter`: instruction + page images -> a transformers-backend prompt dict, per checkpoint.

Built from the checkpoint's tokenizer (its chat template) and its image processor only, never
transformers' combined processor: `AutoProcessor` for these models also builds a video processor,
which needs torchvision (not installable on our CPU machines), and pages are images. What the
combined processor would add is done here: each image placeholder is expanded to its
`grid.prod() / merge_size**2` visual tokens, and the per-token modality ids some models take
(`mm_token_type_ids`; ERNIE's `moe_mm_token_type_ids`, which also marks image start/end) are built
when the model's forward asks for them. The family's chat-template switch turns thinking off.

Not here: batching and generation (`hf_reader`), loading (`hf_loading`).
"""

from __future__ import annotations

from typing import Any

# Modality ids the processors write: 0 text, 1 image, 2 video.
_IMAGE, _VIDEO = 1, 2


class HfPrompter:
    def __init__(self, tokenizer: Any, image_processor: Any, config: Any,
                 chat_template_kwargs: dict[str, Any] | None = None, extra_inputs: tuple[str, ...] = ()) -> None:
        """`config`: the model's transformers config (its image / video token ids); `extra_inputs`:
        the modality-id inputs the model's forward takes (`mm_token_type_ids`, `moe_mm_token_type_ids`)."""
        self.tokenizer, self.image_processor = tokenizer, image_processor
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.extra_inputs = tuple(extra_inputs)
        self.image_token_id = _token_id(config, tokenizer, "image_token_id", ("<|image_pad|>",))
        self.image_token = tokenizer.convert_ids_to_tokens(self.image_token_id)
        self.video_token_id = getattr(config, "video_token_id", None)
        # Tokens ERNIE's MoE routes as vision besides the placeholders (its image / video brackets).
        self.moe_ids = {name: getattr(config, name, None) for name in
                        ("image_start_token_id", "image_end_token_id", "video_start_token_id", "video_end_token_id")}
        self.merge_size = int(getattr(image_processor, "merge_size", None) or 2)

    def chat_text(self, instruction: str, n_images: int = 1) -> str:
        """The chat template applied to one user turn (images first, then the instruction)."""
        content = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": instruction}]
        return self.tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                                  add_generation_prompt=True, **self.chat_template_kwargs)

    def __call__(self, instruction: str, images: list[Any]) -> dict[str, Any]:
        """`{"input_ids": list[int], "pixel_values", "image_grid_thw", **modality ids}` for one page."""
        text = self.chat_text(instruction, len(images))
        pixel_values = grid = None
        if images:
            out = self.image_processor(images=list(images), return_tensors="pt")
            pixel_values, grid = out["pixel_values"], out["image_grid_thw"]
            text = self._expand(text, grid)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        prompt: dict[str, Any] = {"input_ids": list(ids), "pixel_values": pixel_values, "image_grid_thw": grid}
        if "mm_token_type_ids" in self.extra_inputs:
            prompt["mm_token_type_ids"] = [self._type(t, moe=False) for t in ids]
        if "moe_mm_token_type_ids" in self.extra_inputs:
            prompt["moe_mm_token_type_ids"] = [self._type(t, moe=True) for t in ids]
        return prompt

    def _expand(self, text: str, grid: Any) -> str:
        parts = text.split(self.image_token)
        if len(parts) - 1 != len(grid):
            raise ValueError(f"the chat template wrote {len(parts) - 1} image placeholder(s) "
                             f"({self.image_token!r}) for {len(grid)} image(s)")
        out = [parts[0]]
        for thw, rest in zip(grid, parts[1:]):
            out.append(self.image_token * (int(thw.prod()) // self.merge_size ** 2))
            out.append(rest)
        return "".join(out)

    def _type(self, token: int, *, moe: bool) -> int:
        if token == self.image_token_id:
            return _IMAGE
        if token == self.video_token_id:
            return _VIDEO
        if moe:
            if token in (self.moe_ids["image_start_token_id"], self.moe_ids["image_end_token_id"]):
                return _IMAGE
            if token in (self.moe_ids["video_start_token_id"], self.moe_ids["video_end_token_id"]):
                return _VIDEO
        return 0


def _token_id(config: Any, tokenizer: Any, name: str, fallbacks: tuple[str, ...]) -> int:
    value = getattr(config, name, None)
    if value is None and getattr(config, "text_config", None) is not None:
        value = getattr(config.text_config, name, None)
    if value is None:
        for text in fallbacks:
            tid = tokenizer.convert_tokens_to_ids(text)
            if tid is not None and tid != tokenizer.unk_token_id:
                return int(tid)
        raise ValueError(f"the checkpoint config has no {name} and the tokenizer knows none of {fallbacks}")
    return int(value)
