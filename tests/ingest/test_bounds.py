"""Memory stays bounded: a giant page never allocates its full-DPI pixmap, and a long file
is rendered one page at a time without growing.

Measured in one fresh process (peak RSS is per process). At the default 200 dpi a
200 x 200 inch page would be 40,000 x 40,000 px, 4.8 GB of RGB; clamped to the default
12 MP it is ~36 MB. A 1,000-page file rendered page by page must not accumulate pages.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, resource, pymupdf
    from raxdoc.ingest import PageImage, read_document

    def peak_kib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    giant = pymupdf.open()
    giant.new_page(width=14400, height=14400).insert_text((72, 72), "Poster-sized invoice", fontsize=400)
    giant_pdf = giant.tobytes()
    long = pymupdf.open()
    for i in range(1000):
        long.new_page(width=612, height=792).insert_text((72, 72), f"Invoice page {i} total 99.00")
    long_pdf = long.tobytes()
    del giant, long

    start = peak_kib()
    page = read_document(giant_pdf).page(0)
    after_giant = peak_kib()
    h, w = page.pixels.shape[:2]
    dpi = page.dpi
    del page
    with read_document(long_pdf, dpi=30) as doc:
        first = next(doc.pages())  # warm MuPDF's font and resource caches
        ok = sum(isinstance(p, PageImage) and p.words[2].text == str(p.page_index) for p in doc.pages())
        count = doc.page_count
    after_long = peak_kib()
    print(json.dumps(dict(h=h, w=w, dpi=dpi, giant_mib=(after_giant - start) / 1024,
                          long_ok=ok, long_count=count, long_mib=(after_long - after_giant) / 1024)))
    """
)


@pytest.fixture(scope="module")
def measured() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_giant_page_renders_within_the_pixel_budget_and_bounded_memory(measured):
    h, w = measured["h"], measured["w"]
    assert h * w <= 12_000_000 and h == w
    assert measured["dpi"] == w * 72 / 14400
    # Pixmap (36 MB) + array copy (36 MB) + slack; the full-DPI pixmap would be 4,800 MB.
    assert measured["giant_mib"] < 400


def test_thousand_page_file_renders_every_page_without_growing(measured):
    assert measured["long_count"] == 1000 and measured["long_ok"] == 1000
    # Holding all 1,000 pages (at 30 dpi, 0.26 MB each) would add ~260 MB.
    assert measured["long_mib"] < 60
