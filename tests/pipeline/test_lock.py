"""The output folder's run lock: a second run (another process) is refused and touches nothing;
a lock left by a killed run is taken over; the best-effort lock on fsspec folders."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from raxdoc.cli import app
from raxdoc.pipeline.lock import LOCK_NAME, STALE_S, OutputLocked
from raxdoc.pipeline.store import OutputStore

# A run holding the lock, mid-write: an in-progress file that a second run's cleanup must not touch.
HOLDER = """
import sys
from raxdoc.pipeline.store import OutputStore
store = OutputStore(sys.argv[1], lock=True)
open(sys.argv[1] + "/documents/part-x.parquet.1234abcd.inprogress", "wb").write(b"PAR1 half")
print("ready", flush=True)
sys.stdin.read()
store.close()
"""


@pytest.fixture
def holder(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc, out
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def test_a_second_process_is_refused_and_touches_nothing(holder, tmp_path, tiny_checkpoint):
    proc, out = holder
    half = out / "documents" / "part-x.parquet.1234abcd.inprogress"
    with pytest.raises(OutputLocked) as caught:
        OutputStore(str(out), lock=True)
    message = str(caught.value)
    assert f"another raxdoc run (pid {proc.pid} on {socket.gethostname()}, since " in message
    assert f"is writing into {out}; wait for it or choose another -o" in message
    assert half.exists()  # the other run's in-progress file survived our start
    OutputStore(str(out))  # a reader (no lock) leaves it alone too
    assert half.exists()
    pdf = tmp_path / "in" / "a.pdf"
    pdf.parent.mkdir()
    pdf.write_bytes(b"%PDF-1.4\n")
    result = CliRunner().invoke(app, ["extract", str(pdf.parent), "-o", str(out), "--model", str(tiny_checkpoint),
                                      "--profile", "cpu", "-q"])
    assert result.exit_code == 2, result.output
    assert f"pid {proc.pid}" in " ".join(result.output.split()) and half.exists()
    proc.communicate("", timeout=30)  # the first run ends and lets go
    assert proc.returncode == 0 and not (out / LOCK_NAME).exists()
    OutputStore(str(out), lock=True).close()
    assert not half.exists()  # no run holds the folder now: a leftover is cleaned


def test_a_lock_left_by_a_killed_run_is_taken_over_with_a_warning(holder, caplog):
    proc, out = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == proc.pid  # left behind, but no longer held
    store = OutputStore(str(out), lock=True)
    try:
        assert f"no longer running (pid {proc.pid} on" in caplog.text
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == os.getpid()
    finally:
        store.close()
    assert not (out / LOCK_NAME).exists()


def test_one_process_cannot_hold_a_folder_twice(tmp_path):
    first = OutputStore(str(tmp_path), lock=True)
    with pytest.raises(OutputLocked, match=f"pid {os.getpid()}"):
        OutputStore(str(tmp_path), lock=True)
    first.close()
    OutputStore(str(tmp_path), lock=True).close()
    assert OutputStore(str(tmp_path)).lock is None  # readers take no lock


def test_fsspec_lock_is_best_effort_with_heartbeat_and_takeover(caplog):
    import fsspec

    root = f"memory://raxdoc-lock-{time.time_ns()}"
    first = OutputStore(root, lock=True)
    with pytest.raises(OutputLocked, match=f"pid {os.getpid()} on {socket.gethostname()}"):
        OutputStore(root, lock=True)
    first.close()
    fs = fsspec.filesystem("memory")
    path = root.removeprefix("memory://") + "/" + LOCK_NAME
    assert not fs.exists(path)

    def left(**holder):
        with fs.open(path, "wb") as f:
            f.write(json.dumps({"pid": 1, "since": "earlier", "heartbeat": time.time(), **holder}).encode())

    left(host="elsewhere")  # a live run on another machine
    with pytest.raises(OutputLocked, match="pid 1 on elsewhere, since earlier"):
        OutputStore(root, lock=True)
    left(host="elsewhere", heartbeat=time.time() - STALE_S - 1)  # silent for too long: killed
    OutputStore(root, lock=True).close()
    assert "has not written for over" in caplog.text
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left(host=socket.gethostname(), pid=int(dead.stdout))  # a dead pid on this host
    OutputStore(root, lock=True).close()
    assert "is no longer running" in caplog.text
