"""`raxdoc models`: the reader families as a table (what runs where, and with which defaults).

Reads `raxdoc.model.families` only: nothing is loaded. Not here: the table's data (families.py).
"""

from __future__ import annotations

from typing import Any


def models_rows() -> list[tuple[str, ...]]:
    """(family, models, model_type, runs on, defaults) per family, the generic reader last."""
    from raxdoc.model.families import FAMILIES, GENERIC

    rows = []
    for fam in (*FAMILIES.values(), GENERIC):
        runs = "raxdoc engine" if fam.runs == "rax" else "transformers" + (" (--trust-remote-code)"
                                                                          if fam.remote_code else "")
        defaults = []
        if fam.chat_template_kwargs:
            defaults.append("template " + ", ".join(f"{k}={v!r}" for k, v in fam.chat_template_kwargs.items()))
        if fam.sampling:
            defaults.append("when sampling: " + ", ".join(f"{k}={v}" for k, v in fam.sampling.items()))
        if fam.min_pixels or fam.max_pixels:
            defaults.append(f"pixels {fam.min_pixels}..{fam.max_pixels}")
        defaults.append(fam.note)
        rows.append((fam.name, fam.label, ", ".join(fam.model_types) or "any image-text-to-text", runs,
                     "; ".join(d for d in defaults if d)))
    return rows


def models_table() -> Any:
    from rich.table import Table

    table = Table(title="raxdoc readers (chosen by the checkpoint's config.json; extraction is greedy)")
    for column in ("family", "models", "model_type", "runs on", "defaults"):
        table.add_column(column)
    for row in models_rows():
        table.add_row(*row)
    return table
