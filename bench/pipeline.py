"""Pipeline overhead: the same pages through the bare engine and through the whole Ray pipeline.

    python bench/pipeline.py                       # tiny random model on CPU (runs anywhere)
    python bench/pipeline.py --preset rax-4.5 --profile h100 --docs 64 --pages-per-doc 2

Prints pages/s for (a) `Engine.generate` on pre-rendered pages in this process (model loaded
beforehand) and (b) `raxdoc.extract` on the PDFs they came from (ingest tasks, engine actor with
its model load, postprocess, Parquet) on an already started Ray, and their ratio: what Ray,
rendering and writing cost on top of the model. Ray's start is timed and reported on its own.
Medians of `--repeats` runs.
Writes bench/results/pipeline-<device>.json with device, commit, date and command.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.provenance import git_commit, write_result  # noqa: E402  (after the path: run as a script)


def make_corpus(folder: Path, docs: int, pages_per_doc: int) -> None:
    import pymupdf

    for d in range(docs):
        doc = pymupdf.open()
        for p in range(pages_per_doc):
            page = doc.new_page(width=612, height=792)
            page.insert_text((72, 72), f"INVOICE {d:04d}-{p}   Date 13.03.2026", fontsize=14)
            for i in range(20):
                page.insert_text((72, 110 + 16 * i), f"Item {i}  {i + 1} x 12,50 EUR  {12.5 * (i + 1):.2f}",
                                 fontsize=10)
        (folder / f"inv{d:04d}.pdf").write_bytes(doc.tobytes())


def bare_engine(ckpt: str, profile, folder: Path) -> tuple[float, int]:
    """(seconds, pages) for Engine.generate over every page, rendered beforehand (not timed)."""
    from raxdoc.pipeline.engine_stage import EngineStage
    from raxdoc.pipeline.ingest_stage import IngestStage, render_options
    from raxdoc.pipeline.rows import encode_batch

    stage = EngineStage(ckpt, profile, constrained=True)
    ingest = IngestStage(render_options(profile))  # the pages extract() renders for this profile
    rows = [r for f in sorted(folder.glob("*.pdf")) for r in ingest.rows(str(f))]
    started = time.perf_counter()
    stage(encode_batch(rows))
    return time.perf_counter() - started, len(rows)


def whole_pipeline(ckpt: str, profile, folder: Path) -> tuple[float, int]:
    import raxdoc

    out = Path(tempfile.mkdtemp(prefix="raxdoc-bench-out"))
    try:
        started = time.perf_counter()
        summary = raxdoc.extract([str(folder)], str(out), model=ckpt, profile=profile)
        return time.perf_counter() - started, summary.pages
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--ckpt", help="existing checkpoint folder (default: write a random one of --preset)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--pages-per-doc", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--max-pixels", type=int, default=512 * 512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from raxdoc.testing.presets import write_random_checkpoint
    from raxdoc.profiles import resolve_profile

    profile = resolve_profile(args.profile, max_new_tokens=args.max_new_tokens, max_pixels=args.max_pixels)
    work = Path(tempfile.mkdtemp(prefix="raxdoc-bench"))
    ckpt = args.ckpt or str(write_random_checkpoint(work / "ckpt", args.preset))
    corpus = work / "corpus"
    corpus.mkdir()
    make_corpus(corpus, args.docs, args.pages_per_doc)

    # Ray's own start (seconds, once per process) is timed apart from the runs: on a cluster it is
    # paid once per job, not per page. Each run still pays its actor's model load.
    from raxdoc.pipeline.graph import init_ray

    started = time.perf_counter()
    init_ray(None)
    ray_start_s = time.perf_counter() - started
    engine_s, pipe_s = [], []
    for _ in range(args.repeats):
        seconds, pages = bare_engine(ckpt, profile, corpus)
        engine_s.append(seconds)
        seconds, pipe_pages = whole_pipeline(ckpt, profile, corpus)
        pipe_s.append(seconds)
        assert pipe_pages == pages, (pipe_pages, pages)
    engine_rate = pages / statistics.median(engine_s)
    pipe_rate = pages / statistics.median(pipe_s)
    result = {
        "bench": "pipeline", "device": _device(), "commit": git_commit(short=False), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(["python", *sys.argv]), "preset": args.preset, "profile": profile.name,
        "pages": pages, "max_new_tokens": args.max_new_tokens, "repeats": args.repeats,
        "ray_start_seconds": round(ray_start_s, 2), "engine_seconds": engine_s, "pipeline_seconds": pipe_s,
        "engine_pages_per_s": round(engine_rate, 3), "pipeline_pages_per_s": round(pipe_rate, 3),
        "pipeline_over_engine": round(pipe_rate / engine_rate, 3),
    }
    print(f"pages {pages}   bare engine {engine_rate:.2f} pages/s   pipeline {pipe_rate:.2f} pages/s   "
          f"ratio {pipe_rate / engine_rate:.2f}  (medians of {args.repeats}; the pipeline's runs include its "
          f"actor's model load, rendering, postprocess and Parquet; Ray's start, {ray_start_s:.1f} s, is not in them)")
    out = args.out or Path(__file__).parent / "results" / f"pipeline-{_device_tag()}.json"
    write_result(out, result)
    shutil.rmtree(work, ignore_errors=True)


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _device_tag() -> str:
    import torch

    return torch.cuda.get_device_name(0).split()[-1].lower() if torch.cuda.is_available() else "cpu"


if __name__ == "__main__":
    main()
