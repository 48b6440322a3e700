"""The pipeline: the stages wired into one run on Ray, and the driver end that writes Parquet.

    from raxdoc.pipeline import extract
    summary = extract(["invoices/"], "out/", model="raxcore-dev/Rax-4.5", profile="auto")

Modules, in the order a page travels:
- `rows`: the typed row between the stages (`StageRow`, its named kinds) and its Arrow wire form;
- `ingest_stage`, `engine_stage`: the stages as plain callables (usable without Ray);
- `graph`: the Ray Data graph (ingest tasks, engine actor pool) and starting Ray;
- `assemble`, `finish`, `collector`: the driver end (regroup pages, parse, one row per input);
- `einvoice`: the driver end of documents whose values are their own e-invoice XML's;
- `store`: the output folder (atomic Parquet parts, resume);
- `run`: `extract()`, the whole job.

Not here: what the stages compute (raxdoc.ingest, raxdoc.engine, raxdoc.postprocess).
"""

from raxdoc.pipeline.run import ExtractSummary, NoGPUError, RunFailed, extract

__all__ = ["ExtractSummary", "NoGPUError", "RunFailed", "extract"]
