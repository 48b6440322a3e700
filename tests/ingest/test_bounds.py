"""Memory stays bounded: a 200 x 200 inch page never allocates its full-DPI pixmap.

Measured in a fresh process (peak RSS is per process): at the default 200 dpi that page
would be 40,000 x 40,000 px, 4.8 GB of RGB; clamped to the default 12 MP it is ~36 MB.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import resource, pymupdf
    from raxdoc.ingest import read_document
    doc = pymupdf.open()
    page = doc.new_page(width=14400, height=14400)
    page.insert_text((72, 72), "Poster-sized invoice", fontsize=400)
    pdf = doc.tobytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    page = read_document(pdf).page(0)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(page.pixels.shape[0], page.pixels.shape[1], round(page.dpi, 3), before, after)
    """
)


def test_giant_page_renders_within_the_pixel_budget_and_bounded_memory():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, timeout=120
    )
    assert out.returncode == 0, out.stderr
    h, w, dpi, before_kib, after_kib = out.stdout.split()
    assert int(h) * int(w) <= 12_000_000 and int(h) == int(w)
    assert float(dpi) == float(w) * 72 / 14400
    # Pixmap (36 MB) + array copy (36 MB) + slack; the full-DPI pixmap would be 4,800 MB.
    assert (int(after_kib) - int(before_kib)) / 1024 < 400
