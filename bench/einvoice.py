"""E-invoice documents per second per core through ingest: the CPU cost of the `einvoice=auto` route.

    PYTHONPATH=. python bench/einvoice.py                       # 60 documents, writes bench/results/einvoice-cpu.json
    PYTHONPATH=. python bench/einvoice.py --docs 200 --repeat 5

Three kinds of input, each timed through `IngestStage.rows` (what a Ray ingest task runs: read the
bytes, hash them, find and read the XML, build the e-invoice row) on one process, one core:
- Factur-X PDFs (generated invoices with their EN16931 CII embedded by the factur-x library);
- the same CII as standalone XML files;
- UBL (XRechnung) XML files.
Beside them, for scale, the same PDFs with `einvoice=off` rendered to page rows (what the model route
costs ingest before any GPU time). Medians of `--repeat` passes over the corpus; the corpus is
written first and is not timed.

Not here: the pipeline's Ray overhead (bench/pipeline.py), the readers' correctness (tests/ingest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.pipeline import _device
from bench.provenance import git_commit, write_result
from raxdoc.pipeline.ingest_stage import IngestStage, render_options
from raxdoc.profiles import PROFILES
from raxdoc.testing.einvoice_cii import embed, write_cii
from raxdoc.testing.einvoice_ubl import ubl_from_truth
from raxdoc.testing.invoices import LOCALES, generate_invoice


def make_corpus(folder: Path, docs: int) -> dict[str, list[str]]:
    """Write `docs` invoices as Factur-X PDF, plain CII XML and UBL XML; -> paths per kind."""
    kinds: dict[str, list[str]] = {"facturx_pdf": [], "cii_xml": [], "ubl_xml": []}
    for i in range(docs):
        inv = generate_invoice(i, locale=LOCALES[i % len(LOCALES)])
        cii = write_cii(inv.truth, "EN16931").xml
        for kind, name, data in (("facturx_pdf", f"fx-{i:04d}.pdf", embed(inv.pdf, cii)),
                                 ("cii_xml", f"cii-{i:04d}.xml", cii),
                                 ("ubl_xml", f"ubl-{i:04d}.xml", ubl_from_truth(inv.truth).xml)):
            path = folder / name
            path.write_bytes(data)
            kinds[kind].append(str(path))
    return kinds


def time_pass(stage: IngestStage, sources: list[str], expect_kind: str | None) -> float:
    """Seconds for one pass of `stage` over `sources`; checks every document took the expected route."""
    started = time.perf_counter()
    for source in sources:
        rows = list(stage.rows(source))
        if expect_kind is not None and [r.kind.value for r in rows] != [expect_kind]:
            raise SystemExit(f"{source}: expected one {expect_kind} row, got {[r.kind.value for r in rows]}")
        if expect_kind is None and any(r.failed for r in rows):
            raise SystemExit(f"{source}: a page failed to render: {[r.error for r in rows if r.failed]}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "einvoice-cpu.json")
    args = ap.parse_args(argv)
    options = render_options(PROFILES["cpu"])
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_corpus(Path(tmp), args.docs)
        runs = [("facturx_pdf", "auto", "einvoice"), ("cii_xml", "auto", "einvoice"),
                ("ubl_xml", "auto", "einvoice"), ("facturx_pdf", "off", None)]
        for kind, mode, expect in runs:
            stage = IngestStage(options, einvoice=mode)
            time_pass(stage, corpus[kind][:2], expect)  # warm-up: imports, lxml and MuPDF caches
            seconds = [time_pass(stage, corpus[kind], expect) for _ in range(args.repeat)]
            median = statistics.median(seconds)
            name = f"{kind}_{'einvoice' if mode == 'auto' else 'rendered_pages'}"
            figures[name] = {"documents": len(corpus[kind]), "median_s": round(median, 4),
                             "docs_per_s_per_core": round(len(corpus[kind]) / median, 1),
                             "ms_per_doc": round(1000 * median / len(corpus[kind]), 2)}
            print(f"{name:32s} {figures[name]['docs_per_s_per_core']:8.1f} docs/s/core "
                  f"({figures[name]['ms_per_doc']:.2f} ms a document)")
    result = {"benchmark": "einvoice-ingest", "device": _device(), "commit": git_commit(short=False),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "command": shlex.join(["python", *sys.argv]), "repeat": args.repeat, "figures": figures}
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
