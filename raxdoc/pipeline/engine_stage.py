"""`EngineStage`: page rows -> the same rows with the model's text (one engine per instance, per actor).

Constructed by Ray once per actor (`fn_constructor_kwargs`), so the model loads once. Safe to call
from several threads at once: every call feeds one `EngineLoop` (`raxdoc.engine.loop`), so pages of
concurrent batches share the engine's slots; pages are preprocessed only when the engine has room,
so float32 pixels stay bounded. Rows that already failed pass through untouched; a page the
processor rejects, or whose engine step raised, becomes that page's error row.

Not here: the row layout (`rows`), wiring (`graph`), parsing text (postprocess).
"""

from __future__ import annotations

import functools
from typing import Any

from raxdoc.pipeline.rows import batch_rows, failed, page_pixels, rows_batch


class EngineStage:
    """Page rows -> the same rows with `text` and token counts; one engine per instance (per actor).

    Constructed by Ray once per actor (`fn_constructor_kwargs`), so the model loads once and every
    batch reuses it. The engine runs in an `EngineLoop` thread: calls from several threads at once
    (Ray runs several batches per actor) share its slots, so no batch waits for another to drain.
    A page the processor or the engine cannot handle becomes that page's error.
    """

    def __init__(self, model: str, profile: Any, schema: str | None = None, constrained: bool = True,
                 device: str | None = None):
        import dataclasses

        from raxdoc.engine import Engine, SamplingParams
        from raxdoc.engine.loop import EngineLoop
        from raxdoc.schemas.prompt import build_prompt
        from raxdoc.schemas import Invoice
        from raxdoc.schemas.custom import load_schema
        from raxdoc.schemas.jsonschema import page_json_schema

        self.engine = Engine.from_pretrained(model, profile=profile, device=device)
        self.processor = self.engine.processor
        image = self.processor.image_config
        max_pixels = min(image.max_pixels, profile.max_pixels)
        self.processor.image_config = dataclasses.replace(
            image, max_pixels=max_pixels, min_pixels=min(image.min_pixels, max_pixels))
        schema_cls = load_schema(schema) if schema else Invoice
        self.instruction = build_prompt(schema_cls, constrained=constrained)
        self.grammar = page_json_schema(schema_cls) if constrained else None
        self.params = SamplingParams(max_new_tokens=profile.max_new_tokens, temperature=0.0)
        # Compiled here, once: the loop thread would otherwise compile it inside its first step.
        if self.grammar is not None:
            self.engine.grammar(self.grammar)
        self.loop = EngineLoop(self.engine)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from raxdoc.engine.loop import EngineLoopError

        rows = batch_rows(batch)
        waiting = []
        for i, row in enumerate(rows):
            if row["page_index"] < 0 or failed(row):
                continue
            try:
                waiting.append((i, self.loop.submit(functools.partial(self._prompt, row), self.params,
                                                    self.grammar)))
            except EngineLoopError as exc:  # the loop is gone: this page's error, later ones alike
                row.update(_engine_error(exc))
        for i, future in waiting:
            try:
                res = future.result()
            except EngineLoopError as exc:  # a bug in the engine or the loop: rows, not a crash
                rows[i].update(_engine_error(exc))
                continue
            except Exception as exc:  # the processor could not build this page's prompt
                rows[i].update(error_type=getattr(exc, "error_type", None) or "preprocess_error", error=str(exc))
                continue
            rows[i].update(text=res.text, finish_reason=res.finish_reason, prompt_tokens=res.prompt_tokens,
                           completion_tokens=res.completion_tokens, t_engine=res.latency)
            if not res.ok:
                rows[i].update(error_type="engine_error", error=f"{res.error_type}: {res.error}")
        for row in rows:
            row["pixels"] = b""  # the text is all later stages need; free the object store
            row.setdefault("text", "")
            row.setdefault("finish_reason", "")
            row.setdefault("prompt_tokens", 0)
            row.setdefault("completion_tokens", 0)
            row.setdefault("t_engine", 0.0)
        return rows_batch(rows)

    def _prompt(self, row: dict[str, Any]) -> dict[str, Any]:
        """A page's engine prompt; runs on the loop's preparer thread, when the engine has room."""
        inputs = self.processor(self.instruction, [page_pixels(row)])
        return {"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values,
                "image_grid_thw": inputs.image_grid_thw}

    def close(self) -> None:
        """Stop the engine loop (pages still in flight fail with engine_error) and free the engine."""
        loop = getattr(self, "loop", None)
        if loop is not None:
            loop.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit the threads may be gone already; nothing to free
            pass


def _engine_error(exc: BaseException) -> dict[str, str]:
    cause = exc.__cause__ or exc
    return {"error_type": "engine_error", "error": f"internal:{type(cause).__name__}: {exc}"}


