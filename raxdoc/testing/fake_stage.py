"""A model-free engine stage for pipeline benchmarks and tests: `raxdoc.extract(..., engine_stage=fake_stage())`.

`fake_stage(seconds_per_page, items_per_page, startup_seconds)` returns a class with `EngineStage`'s
constructor and call that reads no model: it takes `startup_seconds` to start (as a model load does)
and each page takes `seconds_per_page` (a slow engine: ingest runs ahead, so backpressure matters) and its text is a fixed invoice page with `items_per_page` line items, so the
driver parses, checks and writes real rows and a doubled page would show as doubled line items.
Pixels are dropped from the rows it returns, as the real stage drops them.

The class is made inside a function; cloudpickle ships it to Ray's workers by value.
Not here: a reader that copies a generated invoice's values (`standin_stage`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from raxdoc.pipeline.rows import RowKind, decode_batch, encode_batch


def page_text(page_index: int, items: int) -> str:
    """The JSON a reader would write for one page: `items` line items whose amounts add up."""
    lines = [{"description": f"Item {page_index}-{i}", "quantity": "1", "unit_price": f"{i + 1}.00",
              "amount": f"{i + 1}.00"} for i in range(items)]
    return json.dumps({"invoice_number": "FAKE-1", "currency": "EUR", "line_items": lines})


def fake_stage(seconds_per_page: float = 0.0, items_per_page: int = 2, startup_seconds: float = 0.0) -> type:
    """An engine-stage class that sleeps `seconds_per_page` a page and writes a fixed page (module doc)."""
    if min(seconds_per_page, items_per_page, startup_seconds) < 0:
        raise ValueError("seconds_per_page, items_per_page and startup_seconds must be >= 0")

    class FakeStage:
        """Page rows -> the same rows with a fixed page's text, after a sleep; no model."""

        SECONDS, ITEMS, STARTUP = seconds_per_page, items_per_page, startup_seconds

        def __init__(self, model: str, profile: Any, schema: str | None = None, constrained: bool = True,
                     device: str | None = None):
            time.sleep(self.STARTUP)

        def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
            rows = decode_batch(batch)
            for row in rows:
                if row.kind is RowKind.PAGE and not row.failed:
                    time.sleep(self.SECONDS)
                    row.text, row.finish_reason = page_text(row.page_index or 0, self.ITEMS), "stop"
                    row.prompt_tokens, row.completion_tokens, row.t_engine = 0, 0, self.SECONDS
                row.pixels = b""
            return encode_batch(rows)

        def close(self) -> None:
            """Nothing to free."""

    return FakeStage
