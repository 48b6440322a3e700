"""raxdoc: bulk invoice PDFs to validated line items in Parquet, with Rax 4.5 on Ray.

`raxdoc.extract(inputs, output, ...)` runs the whole job (see `raxdoc.pipeline.extract`); the
stages are importable on their own: `raxdoc.ingest`, `raxdoc.engine`, `raxdoc.postprocess`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def extract(inputs: Any, output: str, **kwargs: Any):
    """Extract every document in `inputs` into `output`; see `raxdoc.pipeline.extract` for options."""
    from raxdoc.pipeline import extract as _extract

    return _extract(inputs, output, **kwargs)
