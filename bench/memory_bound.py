"""Page pixels in flight for one long document: Ray's object store and driver RSS over a run.

    python bench/memory_bound.py                    # a 1,000-page A4 PDF, fake engine at 0.12 s/page
    python bench/memory_bound.py --startup-seconds 60 --seconds-per-page 0.02   # a slow start (model load)
    python bench/memory_bound.py --unbounded --tag before   # without the pipeline's bound

Builds one PDF of `--pages` A4 pages (text and ruled lines, rendered by ingest at the cpu profile's
page budget: ~1.29 Mpixel, 3.9 MB of uint8 RGB a page), runs `raxdoc.extract` on it with the fake
engine stage (`raxdoc.testing.fake_stage`: slower than ingest, optionally slow to start as a model
load is, so ingest runs ahead and only backpressure keeps pages from piling up) on an already
started local Ray, and samples the object store (bytes used, bytes spilled) and the driver's RSS
every `--interval` s. Reports peaks, the peak
as pages (peak bytes / bytes of one page) against the pipeline's stated bound
(`raxdoc.pipeline.graph.pixel_bound_pages`), and pages/s; `--unbounded` runs without the bound.
Writes bench/results/memory-bound-cpu[-tag].json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.provenance import git_commit, write_result  # noqa: E402  (after the path: run as a script)


def make_pdf(path: Path, pages: int) -> None:
    """`pages` A4 pages: one drawn page (a header and 30 item lines), its content shared by every copy,
    so building 1,000 pages takes a second; each page still renders to full-size pixels."""
    import pymupdf

    one = pymupdf.open()
    page = one.new_page(width=595, height=842)  # A4 in points
    page.insert_text((60, 70), "INVOICE LONG-1", fontsize=14)
    for i in range(30):
        page.insert_text((60, 110 + 20 * i), f"Item {i}   1 x {i + 1},00 EUR   {i + 1},00", fontsize=10)
        page.draw_line((55, 114 + 20 * i), (540, 114 + 20 * i))
    doc = pymupdf.open()
    for _ in range(pages):
        doc.insert_pdf(one)
    doc.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--seconds-per-page", type=float, default=0.12)
    parser.add_argument("--startup-seconds", type=float, default=0.0,
                        help="the fake engine's start (a model load): ingest renders ahead meanwhile")
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--tag", default="")
    parser.add_argument("--unbounded", action="store_true",
                        help="skip graph.bound_pixels (the pipeline as it was before the bound): the 'before' figure")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import raxdoc
    from bench.sampler import Sampler
    from raxdoc.pipeline import graph
    from raxdoc.profiles import resolve_profile
    from raxdoc.testing.fake_stage import fake_stage
    from raxdoc.testing.presets import write_random_checkpoint

    work = Path(tempfile.mkdtemp(prefix="raxdoc-membound"))
    ckpt = str(write_random_checkpoint(work / "ckpt", "tiny"))  # extract checks it; the fake stage never loads it
    pdf = work / "long.pdf"
    make_pdf(pdf, args.pages)
    profile = resolve_profile("cpu")
    page_bytes = profile.max_pixels * 3
    graph.init_ray(None)
    bound_pages = graph.pixel_bound_pages(profile, engines=1)
    if args.unbounded:
        graph.bound_pixels = lambda *a, **k: None
    started = time.perf_counter()
    with Sampler(args.interval) as sampler:
        summary = raxdoc.extract(str(pdf), str(work / "out"), model=ckpt, profile=profile,
                                 engine_stage=fake_stage(args.seconds_per_page, startup_seconds=args.startup_seconds))
    seconds = time.perf_counter() - started
    assert summary.pages == args.pages and summary.ok + summary.partial == 1, summary
    result = {
        "bench": "memory_bound", "tag": args.tag, "commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(["python", *sys.argv]), "pages": args.pages,
        "seconds_per_page_engine": args.seconds_per_page, "engine_startup_seconds": args.startup_seconds,
        "unbounded": args.unbounded, "page_bytes": page_bytes,
        "peak_object_store_bytes": sampler.peak_store, "peak_object_store_pages": round(sampler.peak_store / page_bytes, 1),
        "spilled_bytes": sampler.spilled, "peak_driver_rss_bytes": sampler.peak_rss,
        "stated_bound_pages": bound_pages, "seconds": round(seconds, 1), "pages_per_s": round(args.pages / seconds, 2),
        "samples": [{k: s[k] for k in ("t", "store", "rss")} for s in sampler.samples[:: max(1, len(sampler.samples) // 200)]],
    }
    print(f"{args.pages} pages in {seconds:.1f} s ({result['pages_per_s']} pages/s); object store peak "
          f"{sampler.peak_store / 2**20:.0f} MiB = {result['peak_object_store_pages']} pages "
          f"(bound {bound_pages}), spilled {sampler.spilled / 2**20:.0f} MiB; driver RSS peak "
          f"{sampler.peak_rss / 2**20:.0f} MiB")
    out = args.out or Path(__file__).parent / "results" / f"memory-bound-cpu{'-' + args.tag if args.tag else ''}.json"
    write_result(out, result)
    shutil.rmtree(work, ignore_errors=True)



if __name__ == "__main__":
    main()
