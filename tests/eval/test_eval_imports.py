"""raxdoc.eval reads Parquet and JSON only: importing it starts no model, pipeline or Ray."""

import subprocess
import sys


def test_eval_imports_no_model_pipeline_or_ray():
    code = ("import sys, raxdoc.eval; "
            "print(' '.join(m for m in ('torch', 'ray', 'fitz', 'pymupdf', 'raxdoc.pipeline', 'raxdoc.engine', "
            "'raxdoc.model', 'raxdoc.ingest', 'raxdoc.postprocess') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
