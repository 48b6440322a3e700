"""Accuracy of an output folder against labelled truth: `evaluate(output, truth_dir) -> EvalReport`.

The scoring core behind `raxdoc eval OUTPUT TRUTH_DIR`, usable from Python and benchmarks:
per-field precision / recall, header accuracy and line-item F1 by maximum matching of items
(DocILE's line-item recognition, text variant). `values.py` says what counts as equal,
`truth.py` / `output.py` read the two sides, `match.py` pairs items, `score.py` counts,
`report.py` renders; `labels.py` reads single-file labels (CSV, JSON Lines, Parquet). Reads
files only: no model, no pipeline, no Ray.
"""

from raxdoc.eval.match import assignment, match_items
from raxdoc.eval.report import render, to_json
from raxdoc.eval.score import Counts, DocScore, EvalReport, ListScore, evaluate
from raxdoc.eval.values import EvalError, normalise_text

__all__ = ["Counts", "DocScore", "EvalError", "EvalReport", "ListScore", "assignment", "evaluate",
           "match_items", "normalise_text", "render", "to_json"]
