"""bench/soak.py at tiny scale (20 documents), so the script cannot rot: it runs, and its figures add up."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_soak_runs_at_tiny_scale(tmp_path):
    out = tmp_path / "soak.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--docs", "20", "--write-every", "8",
                           "--checkpoints", "2", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=580)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["documents"] == 20 and result["documents_per_s"] > 0
    assert result["line_items"] == 40  # the fake stage's two items a page, each written once
    points = result["checkpoints"]
    assert [p["documents_done"] for p in points][-1] == 20 and len(points) >= 2
    # 20 documents written 8 at a time (3 parts a table), compacted into one as the run closed.
    assert points[-1]["documents_parts"] == 1 and points[-1]["line_items_parts"] == 1
    assert all(p["driver_rss_mib"] > 0 for p in points)
