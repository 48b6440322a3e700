"""Soak: many small documents through the whole pipeline; driver RSS and Parquet parts against documents done.

    python bench/soak.py                       # 5,000 one-page PDFs, fake engine stage
    python bench/soak.py --docs 20 --out /tmp/soak.json

Generates `--docs` distinct one-page PDFs, runs `raxdoc.extract` on the folder with the fake engine
stage (`raxdoc.testing.fake_stage`: no model, a fixed page with two line items) on an already started
local Ray, and at every fifth of the documents (and at the end) records the driver's RSS, the
`documents/` and `line_items/` part counts and the elapsed time, from the run's own progress
callback (with the driver's count of Python objects and of Ray object references, to tell whose
memory grows). The run's close merges the small parts (`OutputStore.compact`), so the last
checkpoint shows the compacted count. Prints them, documents/s, and the RSS growth from the first checkpoint to the last
(flat means the driver keeps no per-document state beyond small bookkeeping).
Writes bench/results/soak-cpu.json (or `--out`).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.provenance import git_commit, write_result  # noqa: E402  (after the path: run as a script)


def make_corpus(folder: Path, docs: int) -> None:
    import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    for d in range(docs):
        doc = pymupdf.open()
        page = doc.new_page(width=300, height=200)
        page.insert_text((20, 40), f"INVOICE SOAK-{d:06d}", fontsize=12)  # distinct bytes: distinct doc_ids
        page.insert_text((20, 70), f"Item 1   1 x {d % 97 + 1},00 EUR", fontsize=9)
        (folder / f"soak{d:06d}.pdf").write_bytes(doc.tobytes())


def count_parts(out: Path, table: str) -> int:
    return len(list((out / table).glob("*.parquet")))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--seconds-per-page", type=float, default=0.0)
    parser.add_argument("--write-every", type=int, default=64)
    parser.add_argument("--checkpoints", type=int, default=5, help="RSS / parts recorded this many times")
    parser.add_argument("--unbounded", action="store_true", help="skip graph.bound_pixels (Ray Data's defaults)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    import psutil

    import raxdoc
    from raxdoc.pipeline.graph import init_ray
    from raxdoc.testing.fake_stage import fake_stage
    from raxdoc.testing.presets import write_random_checkpoint

    work = Path(tempfile.mkdtemp(prefix="raxdoc-soak"))
    ckpt = str(write_random_checkpoint(work / "ckpt", "tiny"))  # extract checks it; the fake stage never loads it
    make_corpus(work / "in", args.docs)
    out = work / "out"
    proc = psutil.Process()
    step = max(1, args.docs // args.checkpoints)
    points: list[dict] = []
    started = [0.0]

    def checkpoint(done: int) -> None:
        points.append({"documents_done": done, "seconds": round(time.perf_counter() - started[0], 1),
                       "driver_rss_mib": round(proc.memory_info().rss / 2**20, 1),
                       # Python-level objects vs Ray's references the driver holds: which one grows with RSS
                       "python_objects": len(gc.get_objects()), "ray_refs_held": _refs_held(),
                       "documents_parts": count_parts(out, "documents"),
                       "line_items_parts": count_parts(out, "line_items")})

    def on_progress(progress: dict) -> None:
        if progress["documents_done"] >= step * (len(points) + 1):
            checkpoint(progress["documents_done"])

    init_ray(None)
    if args.unbounded:
        from raxdoc.pipeline import graph

        graph.bound_pixels = lambda *a, **k: None
    started[0] = time.perf_counter()
    summary = raxdoc.extract(str(work / "in"), str(out), model=ckpt, profile="cpu", max_pixels=256 * 256,
                             write_every=args.write_every, engine_stage=fake_stage(args.seconds_per_page),
                             on_progress=on_progress)
    seconds = time.perf_counter() - started[0]
    checkpoint(summary.documents)
    assert summary.ok + summary.partial == args.docs, summary
    first, last = points[0], points[-1]
    result = {
        "bench": "soak", "commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(["python", *sys.argv]), "documents": args.docs, "write_every": args.write_every,
        "unbounded": args.unbounded,
        "seconds": round(seconds, 1), "documents_per_s": round(args.docs / seconds, 2),
        "line_items": summary.line_items,
        "rss_growth_mib": round(last["driver_rss_mib"] - first["driver_rss_mib"], 1), "checkpoints": points,
    }
    for p in points:
        print(f"{p['documents_done']:>7} docs  {p['seconds']:>7.1f} s  RSS {p['driver_rss_mib']:>7.1f} MiB  "
              f"parts {p['documents_parts']} documents / {p['line_items_parts']} line_items  "
              f"objects {p['python_objects']} ray refs {p['ray_refs_held']}")
    print(f"{args.docs} documents in {seconds:.1f} s ({result['documents_per_s']} docs/s); driver RSS "
          f"{first['driver_rss_mib']} -> {last['driver_rss_mib']} MiB")
    path = args.out or Path(__file__).parent / "results" / "soak-cpu.json"
    write_result(path, result)
    shutil.rmtree(work, ignore_errors=True)
    return result


def _refs_held() -> int | None:
    """ObjectRefs the driver's core worker still counts (Ray-internal API: None if it moved)."""
    try:
        import ray

        return len(ray._private.worker.global_worker.core_worker.get_all_reference_counts())
    except Exception:  # a benchmark figure only: a Ray that renamed it reports none
        return None



if __name__ == "__main__":
    main()
