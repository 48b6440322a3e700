"""`raxdoc extract` stopped by SIGTERM: it stops as on Ctrl-C (one line saying what is kept and how to
resume, exit 143), with no C++ stack frames or Ray core-worker log lines, and the rerun completes.

One Ray-starting subprocess run stopped mid-way, then its rerun: ~2 minutes on a loaded CPU machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pyarrow.parquet as pq
import pytest

from raxdoc.cli import EXIT_TERMINATED

RAY_NOISE = ("*** SIGTERM received", "@ 0x", "core_worker.cc", "logging.cc", "Traceback")


def _extract(inputs, out, model):
    cmd = [sys.executable, "-c", "from raxdoc.cli import main; main()", "extract", str(inputs), "-o", str(out),
           "--model", str(model), "--profile", "cpu", "--max-new-tokens", "8", "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_the_run(proc, timeout: float = 240) -> list[str]:
    """stderr lines until the run has built its Ray dataset (Ray is up: `build_dataset` warns that
    the engine runs on CPU); fails if the process ends or the time runs out first."""
    lines: list[str] = []
    done = threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if "no GPU in this Ray cluster" in line:
                done.set()
                return
        done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(timeout) or proc.poll() is not None:
        pytest.fail(f"the run did not start within {timeout:.0f} s: {''.join(lines)}")
    return lines


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigterm_stops_like_ctrl_c_and_the_rerun_completes(tmp_path, tiny_checkpoint):
    from raxdoc.testing.invoices import generate_invoice

    inputs = tmp_path / "in"
    inputs.mkdir()
    for seed in range(4):
        (inputs / f"inv-{seed}.pdf").write_bytes(generate_invoice(seed, pages=1).pdf)
    out = tmp_path / "out"

    proc = _extract(inputs, out, tiny_checkpoint)
    try:
        before = _wait_for_the_run(proc)
        time.sleep(2)  # into the run: the engine actor is starting
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=180)
        err = "".join(before) + err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_TERMINATED, err
    assert "terminated" in err and "run the same command again to resume" in err, err
    assert not [n for n in RAY_NOISE if n in err], err

    rerun = _extract(inputs, out, tiny_checkpoint)
    _, err = rerun.communicate(timeout=400)
    assert rerun.returncode in (0, 1), err  # a random checkpoint's pages may fail to parse: exit 1
    assert not [n for n in RAY_NOISE if n in err], err
    sources = pq.read_table(out / "documents", columns=["source"]).column("source").to_pylist()
    assert sorted(os.path.basename(s) for s in sources) == [f"inv-{i}.pdf" for i in range(4)]
