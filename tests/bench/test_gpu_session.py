"""bench/gpu_session.sh on a CPU machine: its orchestration, with a fake `python3` standing in for the
GPU machine's (CUDA there or not, pytest outcomes, benchmark JSONs, hangs).

What this proves: no CUDA fails fast with a clear verdict; each step calls the right commands
with the right settings (RAXDOC_OPS, profiles, memory cap, pages); pytest and benchmark outcomes
become one verdict line each; a hang is cut by `timeout` and a short budget skips a step rather
than overrunning the device call; the files a call brings back stay within the device tool's 8.
The real GPU run is the next session's; these tests never touch CUDA.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "gpu_session.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils timeout")

# Stands in for the GPU machine's python3. Every call is logged as "RAXDOC_OPS | args".
FAKE_PYTHON = r"""#!/usr/bin/env bash
echo "${RAXDOC_OPS:-unset} | $*" >> "$FAKE_LOG"
case "$1" in
  -c)
    case "$2" in
      *cuda.is_available*) exit "${FAKE_CUDA_RC:-0}" ;;
      *pytest_timeout*) exit 0 ;;
      *ensure_checkpoint*) mkdir -p "$RAXDOC_CKPT/rax-4.5-random"; echo checkpoint; exit 0 ;;
    esac ;;
  -m)
    case "$2" in
      pip) exit 0 ;;
      pytest)
        echo "${RAXDOC_TEST_HIDE_FLA:-} ${CUDA_VISIBLE_DEVICES-unset} | $*" >> "$FAKE_LOG.env"
        if [[ " $* " == *" tests/engine "* && " $* " != *" tests/model "* ]]; then
          echo "1 failed, 6 passed, 1 skipped in 3.21s"; exit 1
        fi
        echo "41 passed, 2 skipped in 95.10s"; exit 0 ;;
    esac ;;
  -)
    if [[ "${2:-}" == *.json ]]; then exec "$REAL_PYTHON" - "$2"; fi  # the real summary code
    cat > /dev/null
    if [ $# -eq 1 ]; then exit "${FAKE_FLA_RC:-0}"; fi  # the fla check takes no argument
    echo "imports ok"; exit 0 ;;
  bench/engine.py)
    sleep "${FAKE_ENGINE_SLEEP:-0}"
    out=""; prev=""
    for a in "$@"; do [ "$prev" = "--out" ] && out=$a; prev=$a; done
    cp "$FAKE_REPORT" "$out"; echo "engine table"; exit 0 ;;
  bench/selfcheck.py)
    out=""; prev=""
    for a in "$@"; do [ "$prev" = "--out" ] && out=$a; prev=$a; done
    echo '{"verdict": "'"${FAKE_SELFCHECK_VERDICT:-passed (max rel logit error 0.01)}"'", "paths": {"cuda_graphs": "on", "self_check": "x"}}' > "$out"
    exit "${FAKE_SELFCHECK_RC:-0}" ;;
  bench/model_forward.py)
    out=""; prev=""
    for a in "$@"; do [ "$prev" = "--out" ] && out=$a; prev=$a; done
    echo '{}' > "$out/model_forward-rax-4.5-stamp.json"
    echo "rax-4.5 on FakeGPU (bfloat16, ops fla): 1490 tokens (1240 visual) in 40.0 ms"; exit 0 ;;
esac
echo "fake python: unexpected call $*" >&2
exit 99
"""

REPORT = {
    "engine": {"pages_per_s": 27.5, "decode_tok_s": 41000.0, "mfu": 0.31, "peak_memory_gib": 30.2,
               "max_pages_in_flight": 256},
    "runner": {"ops": "fla", "decode_attention": "gather", "cuda_graphs": True, "graphs_captured": 3,
               "graph_error": None},
    "baseline": {"pages_per_s": 1.2}, "speedup": 22.9,
    "targets": {"max_new_tokens == 512": True, "pages_per_s >= 25": True, "speedup >= 20": True},
}


@pytest.fixture
def fake(tmp_path):
    """(run, log): `run(*steps, **env)` runs the script against the fake python in a scratch repo."""
    (tmp_path / "bin").mkdir()
    py = tmp_path / "bin" / "python3"
    py.write_text(FAKE_PYTHON)
    py.chmod(py.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    (tmp_path / "whl").mkdir()  # the script refuses to run without carried wheels
    (tmp_path / "whl" / "fake-0-py3-none-any.whl").write_bytes(b"")
    log = tmp_path / "calls.log"

    def run(*steps: str, **env: str) -> subprocess.CompletedProcess:
        full = {**os.environ, "PYTHON": str(py), "OUT": str(tmp_path / "out"), "FAKE_LOG": str(log),
                "RAXDOC_SITE": str(tmp_path / "site"), "RAXDOC_CKPT": str(tmp_path / "ckpt"),
                "RAXDOC_WHEELS": str(tmp_path / "whl"),
                "FAKE_REPORT": str(tmp_path / "report.json"), "REAL_PYTHON": sys.executable, **env}
        full.pop("RAXDOC_OPS", None)
        return subprocess.run(["bash", str(SCRIPT), *steps], capture_output=True, text=True, env=full,
                              timeout=120)

    return run, log, tmp_path / "out"


def verdicts(out: Path) -> dict[str, str]:
    lines = (out / "verdicts.txt").read_text().splitlines()
    return {line.split(":")[0].removeprefix("VERDICT "): line.split(":", 1)[1].strip() for line in lines}


def test_no_cuda_fails_fast_with_a_clear_verdict(fake):
    run, log, out = fake
    result = run("tests", FAKE_CUDA_RC="3")
    assert result.returncode == 2
    assert "VERDICT setup: FAILED (no CUDA device" in result.stdout
    assert "pytest" not in log.read_text()  # nothing else was attempted


def test_missing_wheels_fail_fast_naming_the_fetch_script(fake, tmp_path):
    run, log, out = fake
    result = run("bench", RAXDOC_WHEELS=str(tmp_path / "nothing"))
    assert result.returncode == 2 and "bench/fetch_wheels.sh" in result.stdout
    assert "bench/engine.py" not in log.read_text()


def test_steps_run_the_right_commands_and_each_gets_one_verdict(fake):
    run, log, out = fake
    result = run("tests", "bench", "cap")
    v = verdicts(out)
    assert result.returncode == 1, result.stdout + result.stderr  # the engine tests "failed"
    assert v["setup"].startswith("ok")
    assert v["tests/gpu-model"].startswith("ok (41 passed, 2 skipped in 95.10s; ")  # then the step's seconds
    assert v["tests/gpu-engine-fla"].startswith("FAILED (rc 1: 1 failed, 6 passed, 1 skipped")
    assert v["ckpt"].startswith("ok")
    assert v["bench/engine-h100"].startswith("ok (27.5 pages/s; decode 41000.0 tok/s")
    assert "ops fla; attention gather; graphs 3" in v["bench/engine-h100"]
    assert "targets max_new_tokens == 512: ok, pages_per_s >= 25: ok, speedup >= 20: ok" in v["bench/engine-h100"]
    assert v["bench/model-forward"].startswith("ok (rax-4.5 on FakeGPU")
    assert v["cap/l4"].startswith("ok") and v["cap/a10g"].startswith("ok")

    calls = log.read_text().splitlines()
    assert "auto | -m pytest -q -p no:cacheprovider --timeout=240 -m gpu tests/model --maxfail=5" in calls
    assert "fla | -m pytest -q -p no:cacheprovider --timeout=240 -m gpu tests/engine --maxfail=5" in calls
    run("cpu-tests")
    [cpu] = [c for c in log.read_text().splitlines() if "not gpu" in c]
    assert cpu.startswith("auto | -m pytest") and "tests/model tests/engine" in cpu
    envs = Path(f"{log}.env").read_text().splitlines()
    assert [e.split(" | ")[0] for e in envs] == [" unset", " unset", "1 "]  # only cpu-tests hides GPU and fla
    engine = [c for c in calls if "bench/engine.py" in c]
    assert len(engine) == 3 and all(c.startswith("fla | ") for c in engine)  # never a silent torch fallback
    assert "--profile h100 --pages 512 --baseline-pages 64" in engine[0]
    assert "--max-new-tokens 512" in engine[0] and "--no-baseline" not in engine[0]
    for c, profile in zip(engine[1:], ("l4", "a10g")):
        assert f"--profile {profile} --memory-cap-gib 22 --pages 256 --no-baseline" in c
    assert json.loads((out / "engine-h100-rax-4.5.json").read_text()) == REPORT


def test_one_call_brings_back_at_most_eight_files(fake):
    run, _, out = fake
    for steps in (["session"], ["tests"], ["attn", "grammar", "cpu-tests"]):  # the calls bench/README plans
        shutil.rmtree(out, ignore_errors=True)  # the device empties $OUT before each call
        run(*steps)
        files = [p for p in out.rglob("*") if p.is_file()]
        assert len(files) <= 8, (steps, sorted(p.name for p in files))
        assert (out / "verdicts.txt").is_file()


def test_session_runs_selfcheck_then_bench_then_cap_and_keeps_every_result_loose(fake):
    """`session` is the one call a 15-minute device budget affords: the issue's figures, first things first."""
    run, log, out = fake
    run("session")
    calls = [c.split(" | ", 1)[1] for c in log.read_text().splitlines()]
    scripts = [c.split()[0] for c in calls if c.startswith("bench/")]
    assert scripts == ["bench/selfcheck.py", "bench/engine.py", "bench/model_forward.py",
                       "bench/engine.py", "bench/engine.py"]
    assert sum("ensure_checkpoint" in c for c in calls) == 3  # each step makes sure; the first one writes
    names = sorted(p.name for p in out.iterdir())
    assert names == ["engine-a10g-cap22-rax-4.5.json", "engine-h100-rax-4.5.json", "engine-l4-cap22-rax-4.5.json",
                     "logs.tar.gz", "model_forward-rax-4.5-stamp.json", "selfcheck-rax-4.5.json", "verdicts.txt"]
    import tarfile
    with tarfile.open(out / "logs.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["bench.log", "cap.log", "selfcheck.log", "setup.log"]
    assert sorted(verdicts(out)) == ["bench/engine-h100", "bench/model-forward", "cap/a10g", "cap/l4", "ckpt",
                                     "selfcheck", "setup"]


def test_attn_step_reruns_h100_with_the_bundled_flash_kernel(fake):
    run, log, out = fake
    result = run("attn")
    assert result.returncode == 0, result.stdout
    assert verdicts(out)["attn/engine-h100-aten-flash"].startswith("ok (27.5 pages/s")
    [call] = [c for c in log.read_text().splitlines() if "bench/engine.py" in c]
    assert "--profile h100 --pages 512 --no-baseline --decode-attention aten_flash" in call


def test_grammar_step_runs_h100_constrained_to_the_page_schema(fake):
    run, log, out = fake
    result = run("grammar")
    assert result.returncode == 0, result.stdout
    assert verdicts(out)["grammar/engine-h100-grammar"].startswith("ok (")
    [call] = [c for c in log.read_text().splitlines() if "bench/engine.py" in c]
    assert "--profile h100 --pages 256 --no-baseline --grammar" in call
    assert call.startswith("fla |")  # never the torch ops silently


def test_a_hang_is_cut_and_a_short_budget_skips_rather_than_overruns(fake, tmp_path):
    """Sourced, the script only defines its functions: drive `bounded` with a tiny limit."""
    out = tmp_path / "out2"
    script = (f'source "{SCRIPT}"; START=$SECONDS; BUDGET=30; '
              'bounded hang 1 1 h.log sleep 20; echo "rc=$RC"; '
              'BUDGET=0; bounded late 100 50 h.log true; echo "rc=$RC"')
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "OUT": str(out)})
    assert "VERDICT hang: TIMEOUT (killed after 1s" in result.stdout
    assert "rc=124" in result.stdout
    assert "VERDICT late: SKIPPED" in result.stdout and "rc=125" in result.stdout


def test_unusable_fla_runs_the_gpu_tests_on_the_torch_ops_and_skips_the_benchmarks(fake):
    run, log, out = fake
    result = run("tests", "bench", FAKE_FLA_RC="1")
    v = verdicts(out)
    assert result.returncode == 1
    assert v["setup/fla"].startswith("FAILED") and v["setup"].startswith("ok")
    assert v["bench"].startswith("SKIPPED (fla unusable")
    calls = log.read_text().splitlines()
    assert any(c.startswith("torch | -m pytest") and "tests/engine" in c for c in calls)
    assert not any("bench/engine.py" in c for c in calls)


@pytest.mark.parametrize("rc, verdict, expected", [
    ("0", "passed (max rel logit error 0.01)", "ok (passed (max rel logit error 0.01); paths cuda_graphs on"),
    ("1", "fell back: cuda_graphs -> eager", "FAILED (rc 1: fell back: cuda_graphs -> eager; paths cuda_graphs on"),
])
def test_selfcheck_step_writes_its_verdict(fake, rc, verdict, expected):
    run, log, out = fake
    run("selfcheck", FAKE_SELFCHECK_RC=rc, FAKE_SELFCHECK_VERDICT=verdict)
    assert verdicts(out)["selfcheck"].startswith(expected)
    assert "auto | bench/selfcheck.py" in log.read_text()  # RAXDOC_OPS=auto: a failing path may fall back
    assert json.loads((out / "selfcheck-rax-4.5.json").read_text())["verdict"] == verdict
