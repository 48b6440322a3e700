"""The stand-in reader as a pipeline engine stage: `raxdoc.extract(..., engine_stage=standin_stage(...))`.

    stage = standin_stage(noise=0.1, seed=0, log_dir="injected/")
    raxdoc.extract(pdfs, "out/", model=any_folder, profile="cpu", engine_stage=stage)

`standin_stage(...)` returns a class with `EngineStage`'s constructor and call (Ray builds it
once per actor with model / profile / schema / constrained / device, and maps wire batches
through it), which reads no model: each page's text is `standin.read_page`'s JSON for that
page of the generated invoice, found by the source's file stem (`<stem>.json` in `truth_dir`,
by default beside the PDF). Each page draws from `page_rng(seed, stem, page)`, so the text
and the injected errors do not depend on how Ray batches the pages. Everything else goes
through the real pipeline: ingest renders the pages, the driver parses, checks, grounds and
writes them.

Every injected error is appended as one JSON line (`Injected` plus source, stem and seed) to
`log_dir/injected-<pid>-<n>.jsonl`: one file per stage instance, so actors (processes) never
interleave writes; threads of one actor take a lock. A batch Ray retries after an actor died
logs its pages again, so readers dedupe lines. A page whose truth is missing or unreadable
becomes that page's `engine_error`, as a page the real engine failed on.

The class is made inside a function; cloudpickle ships it to Ray's workers by value.
Not here: the page JSON and its errors (`standin.py`), the invoices (`invoices.py`), scoring
(`raxdoc.eval`, `bench/quality.py`).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from raxdoc.eval.output import source_stem  # the key eval finds labels by: the same here
from raxdoc.pipeline.rows import RowKind, StageRow, decode_batch, encode_batch
from raxdoc.testing.standin import ITEM_ERRORS, page_rng, read_page

LOG_GLOB = "injected-*.jsonl"  # the files a stage writes under log_dir
_instances = itertools.count()  # per process: two instances in one process get two files


def truth_path(source: str, truth_dir: str | Path | None) -> Path:
    """Where the truth of `source` lives: `truth_dir/<stem>.json`, else beside a local PDF."""
    if truth_dir is not None:
        return Path(truth_dir) / f"{source_stem(source)}.json"
    if "://" in source:
        raise ValueError(f"{source!r} is not a local file: give truth_dir to find its truth")
    return Path(source).with_suffix(".json")


def read_log(log_dir: str | Path) -> list[dict]:
    """Every injected error logged under `log_dir`, each once (a retried batch logs again)."""
    seen: dict[str, dict] = {}
    for path in sorted(Path(log_dir).glob(LOG_GLOB)):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                seen.setdefault(json.dumps(entry, sort_keys=True), entry)
    return list(seen.values())


def standin_stage(noise: float = 0.0, seed: int = 0, truth_dir: str | Path | None = None,
                  log_dir: str | Path | None = None, kinds: tuple[str, ...] = ITEM_ERRORS) -> type:
    """An engine-stage class that copies each page's printed values from its truth (see module doc)."""
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    kinds = tuple(kinds)
    if not kinds or not set(kinds) <= set(ITEM_ERRORS):
        raise ValueError(f"kinds must be a non-empty subset of {ITEM_ERRORS}, got {kinds}")
    truth_root = None if truth_dir is None else str(Path(truth_dir).resolve())
    log_root = None if log_dir is None else str(Path(log_dir).resolve())

    class StandinStage:
        """Page rows -> the same rows with the stand-in's text; no model, no engine."""

        NOISE, SEED, KINDS, TRUTH_DIR, LOG_DIR = noise, seed, kinds, truth_root, log_root

        def __init__(self, model: str, profile: Any, schema: str | None = None, constrained: bool = True,
                     device: str | None = None):
            from raxdoc.schemas.custom import resolve_schema
            from raxdoc.schemas.invoice import Invoice

            if resolve_schema(schema) is not Invoice:  # the truth holds Invoice's fields only
                raise ValueError(f"the stand-in reader writes Invoice pages, not {schema!r}")
            self.truths: dict[str, dict] = {}  # source -> truth, read once per actor
            self.lock = threading.Lock()  # Ray calls one actor from several threads at once
            self.log_path = None
            if self.LOG_DIR is not None:
                Path(self.LOG_DIR).mkdir(parents=True, exist_ok=True)
                self.log_path = Path(self.LOG_DIR) / f"injected-{os.getpid()}-{next(_instances)}.jsonl"

        def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
            rows = decode_batch(batch)
            lines = []
            for row in rows:
                if row.kind is RowKind.PAGE and not row.failed:
                    lines += self._read(row)
                row.pixels = b""  # as the real stage: later stages need only the text
            if lines and self.log_path is not None:
                with self.lock, open(self.log_path, "a", encoding="utf-8") as f:
                    f.write("".join(lines))
            return encode_batch(rows)

        def _read(self, row: StageRow) -> list[str]:
            """Fill one page row's text (or its engine_error); the log lines of its errors."""
            started = time.perf_counter()
            page, stem = row.page_index or 0, source_stem(row.source)
            try:
                truth = self._truth(row.source)
                if not 0 <= page < len(truth["pages"]):
                    raise ValueError(f"page {page} is not in its truth ({len(truth['pages'])} pages)")
                text, injected = read_page(truth, page, rng=page_rng(self.SEED, stem, page), noise=self.NOISE,
                                           kinds=self.KINDS)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                row.error_type, row.error = "engine_error", f"stand-in reader: {type(exc).__name__}: {exc}"
                return []
            row.text, row.finish_reason = text, "stop"
            row.prompt_tokens, row.completion_tokens = 0, 0  # no tokens: nothing was decoded
            row.t_engine = time.perf_counter() - started
            return [json.dumps({"source": row.source, "stem": stem, "seed": self.SEED, "noise": self.NOISE,
                                **e.to_dict()}, ensure_ascii=False) + "\n" for e in injected]

        def _truth(self, source: str) -> dict:
            if source not in self.truths:
                path = truth_path(source, self.TRUTH_DIR)
                self.truths[source] = json.loads(path.read_text(encoding="utf-8"))
            return self.truths[source]

        def close(self) -> None:
            """Nothing to free (the real stage stops its engine here)."""

    return StandinStage
