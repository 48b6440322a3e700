"""`ray job submit` against a local `ray start --head` with token authentication (Ray 2.59+ default).

Starts a real head node with RAY_AUTH_MODE=token and its own token file, checks that a client with
a wrong token is refused, then submits jobs/extract_invoices.py with the right token and reads the
Parquet it wrote. Slow (a cluster start and a job, ~1 min); it runs in CI all the same.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))

pytestmark = pytest.mark.slow  # a second Ray cluster and a submitted job: minutes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    temp = tempfile.mkdtemp(prefix="rxj", dir="/tmp")  # short: Ray's unix socket paths have a length limit
    token = Path(temp) / "token"
    token.write_text("raxdoc-test-token-" + os.urandom(8).hex())
    # The job's `python` is whatever the head node's PATH finds: make it this interpreter, as an
    # activated virtualenv would.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    env.pop("RAY_ADDRESS", None)
    port, dashboard = _free_port(), _free_port()
    start = subprocess.run(
        [RAY, "start", "--head", f"--port={port}", f"--dashboard-port={dashboard}", "--include-dashboard=true",
         "--num-cpus=2", f"--temp-dir={temp}", "--disable-usage-stats"],
        env=env, capture_output=True, text=True, timeout=180)
    if start.returncode != 0:
        pytest.fail(f"ray start failed:\n{start.stdout}\n{start.stderr}")
    try:
        yield {"address": f"http://127.0.0.1:{dashboard}", "env": env}
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def _submit(cluster, *entrypoint, env=None, timeout=400):
    return subprocess.run(
        [RAY, "job", "submit", "--address", cluster["address"], "--working-dir", str(REPO),
         "--runtime-env", str(REPO / "jobs" / "runtime_env.yaml"), "--", *entrypoint],
        env=env or cluster["env"], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_wrong_token_is_refused(cluster):
    env = {**cluster["env"], "RAY_AUTH_TOKEN": "not-the-token"}
    result = _submit(cluster, "python", "-c", "print('should not run')", env=env, timeout=120)
    assert result.returncode != 0
    assert "token" in (result.stdout + result.stderr).lower()


def test_job_runs_the_pipeline_on_the_cluster(cluster, corpus, tiny_checkpoint, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("good.pdf", "encrypted.pdf"):
        shutil.copy(corpus[name], inputs / name)
    out = tmp_path / "out"
    result = _submit(cluster, "python", "jobs/extract_invoices.py", "--input", str(inputs), "--output", str(out),
                     "--model", str(tiny_checkpoint), "--profile", "cpu", "--max-new-tokens", "64",
                     "--max-pixels", "102400", "-q")
    log = result.stdout + result.stderr
    # The encrypted file makes the run exit 1 (some documents failed): the job reports FAILED.
    assert result.returncode != 0 and "failed" in log.lower(), log[-3000:]
    assert (out / "documents").is_dir(), log[-4000:]
    docs = pd.read_parquet(out / "documents")
    assert sorted(s.rsplit("/", 1)[-1] for s in docs["source"]) == ["encrypted.pdf", "good.pdf"]
    assert docs.set_index(docs["source"].str.rsplit("/", n=1).str[-1]).loc["encrypted.pdf", "error_type"] == \
        "encrypted_document"
