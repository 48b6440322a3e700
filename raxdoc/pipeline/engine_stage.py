"""`EngineStage`: page rows -> the same rows with the model's text (one engine per instance, per actor).

Constructed by Ray once per actor (`fn_constructor_kwargs`), so the model loads once. Safe to call
from several threads at once: every call feeds one `EngineLoop` (`raxdoc.engine.loop`), so pages of
concurrent batches share the engine's slots; pages are preprocessed only when the engine has room,
so float32 pixels stay bounded. Rows that already failed, and rows that are not pages, pass
through untouched; a page the processor rejects, or whose engine step raised, becomes that page's
error row. Batches arrive and leave in the wire form (`rows.decode_batch` / `encode_batch`).

The reader follows the checkpoint (`raxdoc.engine.readers.reader_kind`): our `Engine` for
`qwen3_5` configs, the transformers backend (`raxdoc.engine.hf_loading.load_hf_reader`) for any
other image-text-to-text checkpoint; both serve the same `EngineLoop`, greedy, same grammar.

Not here: the row and its wire form (`rows`), wiring (`graph`), the page pixel budget
(`ingest_stage.render_options`), parsing text (postprocess).
"""

from __future__ import annotations

import functools
from typing import Any

from raxdoc.pipeline.rows import RowKind, StageRow, decode_batch, encode_batch


class EngineStage:
    """Page rows -> the same rows with `text` and token counts; one engine per instance (per actor).

    Constructed by Ray once per actor (`fn_constructor_kwargs`), so the model loads once and every
    batch reuses it. The engine runs in an `EngineLoop` thread: calls from several threads at once
    (Ray runs several batches per actor) share its slots, so no batch waits for another to drain.
    A page the processor or the engine cannot handle becomes that page's error.
    """

    engine_paths: str | None = None  # what runs (`format_paths`), stamped on each page it reads

    def __init__(self, model: str, profile: Any, schema: str | None = None, constrained: bool = True,
                 device: str | None = None, trust_remote_code: bool = False,
                 reader_options: dict[str, Any] | None = None):
        from raxdoc.engine import Engine, SamplingParams
        from raxdoc.engine.loop import EngineLoop
        from raxdoc.engine.readers import reader_kind
        from raxdoc.engine.selfcheck import format_paths
        from raxdoc.model.loader import resolve
        from raxdoc.schemas.custom import resolve_schema
        from raxdoc.schemas.jsonschema import page_json_schema
        from raxdoc.schemas.prompt import build_prompt

        self.reader_kind = reader_kind(resolve(model))
        if self.reader_kind == "rax" and reader_options:  # `run.extract` refuses this before Ray starts
            raise ValueError(f"reader options {sorted(reader_options)} apply to the transformers reader only")
        if self.reader_kind == "rax":
            self.engine = Engine.from_pretrained(model, profile=profile, device=device)
            # The processor keeps the checkpoint's own pixel bounds: ingest already rendered each page
            # within the profile's budget (`ingest_stage.render_options`), the one place it is applied.
            self.processor = self.engine.processor
        else:
            from raxdoc.engine.hf_loading import load_hf_reader

            self.engine = load_hf_reader(model, profile=profile, device=device, trust_remote_code=trust_remote_code,
                                         family_overrides=reader_options)
            self.processor = self.engine.prompter  # (instruction, images) -> the prompt dict itself
        schema_cls = resolve_schema(schema)
        self.instruction = build_prompt(schema_cls, constrained=constrained)
        self.grammar = page_json_schema(schema_cls) if constrained else None
        self.params = SamplingParams(max_new_tokens=profile.max_new_tokens, temperature=0.0)
        # Compiled here, once: the loop thread would otherwise compile it inside its first step.
        if self.grammar is not None:
            self.engine.grammar(self.grammar)
        # What runs (reader, kernels, the self-check's verdict): into the run's manifest, via each page.
        self.engine_paths = format_paths({"reader": self.reader_kind, **getattr(self.engine, "paths", {})})
        self.loop = EngineLoop(self.engine)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from raxdoc.engine.loop import EngineLoopError

        rows = decode_batch(batch)
        waiting = []
        for row in rows:
            if row.kind is not RowKind.PAGE or row.failed:
                continue
            try:
                waiting.append((row, self.loop.submit(functools.partial(self._prompt, row), self.params,
                                                      self.grammar)))
            except EngineLoopError as exc:  # the loop is gone: this page's error, later ones alike
                row.error_type, row.error = _engine_error(exc)
        for row, future in waiting:
            try:
                res = future.result()
            except EngineLoopError as exc:  # a bug in the engine or the loop: rows, not a crash
                row.error_type, row.error = _engine_error(exc)
                continue
            except Exception as exc:  # the processor could not build this page's prompt
                row.error_type, row.error = getattr(exc, "error_type", None) or "preprocess_error", str(exc)
                continue
            row.text, row.finish_reason, row.t_engine = res.text, res.finish_reason, res.latency
            row.prompt_tokens, row.completion_tokens = res.prompt_tokens, res.completion_tokens
            row.engine_paths = self.engine_paths
            if not res.ok:
                row.error_type, row.error = "engine_error", f"{res.error_type}: {res.error}"
        for row in rows:
            row.pixels = b""  # the text is all later stages need; free the object store
        return encode_batch(rows)

    def _prompt(self, row: StageRow) -> dict[str, Any]:
        """A page's engine prompt; runs on the loop's preparer thread, when the engine has room."""
        inputs = self.processor(self.instruction, [row.image()])
        if isinstance(inputs, dict):  # the transformers backend's prompter builds the dict itself
            return inputs
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


def _engine_error(exc: BaseException) -> tuple[str, str]:
    cause = exc.__cause__ or exc
    return "engine_error", f"internal:{type(cause).__name__}: {exc}"


