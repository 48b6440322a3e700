"""Ingest throughput: raxdoc (PyMuPDF) vs pdftoppm (poppler) vs pypdfium2, one core, same files, same DPI.

    python bench/ingest.py [--pages 8] [--repeats 5] [--out bench/results/ingest-cpu.json]

Builds its own corpus in a temporary folder: JPEG scans placed at 200 and 300 dpi (letter,
as scanners write them) and dense born-digital text pages. Each tool renders every page of
each file at that file's native DPI (200, 300, and 200 for the digital file) to RGB:

- raxdoc: `read_document(path).pages()`: sniff, hash, classify, render, copy to numpy, and
  extract the word boxes (more work than the others do).
- pypdfium2: `page.render(scale=dpi/72, rev_byteorder=True).to_numpy()`, copied.
- pdftoppm: `pdftoppm -r DPI` writing PPM files to a temporary folder in /dev/shm (it can
  only write files; that encoding is part of its figure, plus one process start per
  file). Skipped, and said so, when not installed.

The process (and pdftoppm, through its affinity) is pinned to one CPU. After one warm-up,
each (tool, file) is timed `--repeats` times; the medians of pages per wall second and
pages per CPU second are reported (the second is steadier on a shared machine). Library
imports are outside the timing (pymupdf 2.x spends ~1.4 s importing pymupdf.layout once
per process; Ray workers pay it once). Writes JSON
with device, commit, date, command and figures. Timings only: the tests check correctness.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pymupdf
import pypdfium2
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.provenance import git_commit, write_result  # noqa: E402
from raxdoc.ingest import PageImage, read_document  # noqa: E402

LETTER = (612.0, 792.0)
INVOICE_LINE = "{:>4}  Widget type {:<3} assembly, stainless, 40 mm      {:>3} x {:>8.2f} EUR = {:>10.2f} EUR"


def make_scan_pdf(path: Path, pages: int, dpi: int, seed: int) -> None:
    """JPEG 'scans': paper-grey noise with dark text-like bars, placed to fill a letter page."""
    rng = np.random.default_rng(seed)
    w, h = round(LETTER[0] * dpi / 72), round(LETTER[1] * dpi / 72)
    doc = pymupdf.open()
    for _ in range(pages):
        img = rng.normal(235, 4, (h, w)).clip(0, 255).astype(np.uint8)  # (H, W) paper grain
        for y in range(h // 10, h - h // 10, max(h // 60, 4)):
            x0 = int(rng.integers(w // 12, w // 4))
            img[y : y + max(h // 200, 2), x0 : x0 + int(rng.integers(w // 4, w // 2))] = 30
        rgb = np.repeat(img[..., None], 3, axis=2)  # (H, W, 3)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=85, dpi=(72, 72))
        page = doc.new_page(width=LETTER[0], height=LETTER[1])
        page.insert_image(page.rect, stream=buf.getvalue())
    doc.save(path)


def make_digital_pdf(path: Path, pages: int) -> None:
    """Dense born-digital invoice pages: ~55 lines of text each, plus a few rules."""
    doc = pymupdf.open()
    for p in range(pages):
        page = doc.new_page(width=LETTER[0], height=LETTER[1])
        page.insert_text((54, 60), f"INVOICE 2024-{p:04d}    Acme Components GmbH", fontsize=14)
        for i in range(55):
            qty, price = (i * 7) % 50 + 1, 3.5 + i * 1.25
            page.insert_text((36, 90 + 12.5 * i), INVOICE_LINE.format(i + 1, i, qty, price, qty * price), fontsize=8)
            if i % 5 == 0:
                page.draw_line((36, 92 + 12.5 * i), (576, 92 + 12.5 * i), width=0.3)
    doc.save(path)


def run_raxdoc(path: Path, dpi: int) -> tuple[int, tuple[int, ...]]:
    shape: tuple[int, ...] = ()
    count = 0
    with read_document(path, dpi=dpi, max_pixels=50_000_000) as doc:
        for page in doc.pages():
            assert isinstance(page, PageImage), page
            shape, count = page.pixels.shape, count + 1
    return count, shape


def run_pdfium(path: Path, dpi: int) -> tuple[int, tuple[int, ...]]:
    pdf = pypdfium2.PdfDocument(str(path))
    shape: tuple[int, ...] = ()
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            bitmap = page.render(scale=dpi / 72, rev_byteorder=True)
            pixels = bitmap.to_numpy().copy()  # owned array, as raxdoc returns
            shape = pixels.shape
            bitmap.close()
            page.close()
        return len(pdf), shape
    finally:
        pdf.close()


def run_pdftoppm(path: Path, dpi: int, cpu: int) -> tuple[int, tuple[int, ...]]:
    # RAM-backed output where there is one: time the renderer, not the disk.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="pdftoppm-", dir=shm) as out:
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), str(path), f"{out}/p"],
            check=True,
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
        )
        files = sorted(Path(out).iterdir())
        with Image.open(files[0]) as first:
            shape = (first.height, first.width, len(first.getbands()))
        return len(files), shape


def _cpu_seconds() -> float:
    """CPU time of this process plus its finished children (pdftoppm runs as a child)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn, *args) -> tuple[float, float, int, tuple[int, ...]]:
    """(wall s, CPU s, pages, page shape) of one run."""
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    pages, shape = fn(*args)
    return time.perf_counter() - start, _cpu_seconds() - cpu_start, pages, shape


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def poppler_version() -> str | None:
    if shutil.which("pdftoppm") is None:
        return None
    out = subprocess.run(["pdftoppm", "-v"], capture_output=True, text=True)
    return (out.stderr or out.stdout).splitlines()[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6, help="pages per corpus file")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per (tool, file), after one warm-up")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the first allowed)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest-cpu.json")
    args = parser.parse_args()

    commit = git_commit(short=False, dirty=("raxdoc", "bench/ingest.py"))  # before measuring: the code that ran, not what is there at the end
    load_before = os.getloadavg()
    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    poppler = poppler_version()
    if poppler is None:
        print("pdftoppm not found (apt-get install poppler-utils): skipping it", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="raxdoc-bench-") as tmp:
        corpus = {
            "scan-200dpi": (Path(tmp) / "scan200.pdf", 200),
            "scan-300dpi": (Path(tmp) / "scan300.pdf", 300),
            "digital": (Path(tmp) / "digital.pdf", 200),
        }
        make_scan_pdf(corpus["scan-200dpi"][0], args.pages, 200, seed=1)
        make_scan_pdf(corpus["scan-300dpi"][0], args.pages, 300, seed=2)
        make_digital_pdf(corpus["digital"][0], args.pages)

        tools = {"raxdoc": run_raxdoc, "pypdfium2": run_pdfium}
        if poppler is not None:
            tools["pdftoppm"] = lambda path, dpi: run_pdftoppm(path, dpi, cpu)
        figures: dict[str, dict[str, dict]] = {}
        for name, (path, dpi) in corpus.items():
            figures[name] = {}
            for tool, fn in tools.items():
                fn(path, dpi)  # warm-up: page cache, font loading, lazy imports
                runs = [timed(fn, path, dpi) for _ in range(args.repeats)]
                pages, shape = runs[0][2], runs[0][3]
                rates = [pages / wall for wall, _, _, _ in runs]
                cpu_rates = [pages / cpu for _, cpu, _, _ in runs]
                figures[name][tool] = {
                    "pages_per_s_median": round(statistics.median(rates), 2),
                    "pages_per_s_runs": [round(r, 2) for r in rates],
                    "ms_per_page_median": round(1000 / statistics.median(rates), 1),
                    # Per CPU-second: steadier than wall time when the machine is shared.
                    "pages_per_cpu_s_median": round(statistics.median(cpu_rates), 2),
                    "cpu_ms_per_page_median": round(1000 / statistics.median(cpu_rates), 1),
                    "pages": pages,
                    "dpi": dpi,
                    "page_shape": list(shape),
                    "file_bytes": path.stat().st_size,
                }
                print(
                    f"{name:12s} {tool:10s} {statistics.median(rates):8.2f} pages/s (wall)"
                    f" {statistics.median(cpu_rates):8.2f} pages/CPU-s  shape={tuple(shape)}",
                    flush=True,
                )

    result = {
        "benchmark": "ingest-cpu",
        "device": {"cpu": cpu_model(), "pinned_cpu": cpu, "cpus_on_machine": os.cpu_count(), "platform": platform.platform()},
        "commit": commit,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "versions": {
            "python": platform.python_version(),
            "pymupdf": pymupdf.__version__,
            "mupdf": pymupdf.mupdf_version if hasattr(pymupdf, "mupdf_version") else pymupdf.VersionFitz,
            "pypdfium2": str(getattr(pypdfium2, "PYPDFIUM_INFO", "")) or "unknown",
            "pdfium": str(getattr(pypdfium2, "PDFIUM_INFO", "")) or "unknown",
            "poppler": poppler,
        },
        "settings": {"pages_per_file": args.pages, "repeats": args.repeats, "statistic": "median"},
        # 1-minute load average before and after: other processes on a shared machine skew figures.
        "load_average": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "figures": figures,
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
