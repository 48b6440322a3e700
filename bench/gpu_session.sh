#!/usr/bin/env bash
# The GPU session in one script: each step fits one device call (10 minutes at most).
#
#   bash bench/gpu_session.sh STEP [STEP...]      STEP: session | selfcheck | tests | bench | cap | attn | grammar | cpu-tests | all
#
# Run from the repository root the device tool sends, with `carry: [".whl"]` (bench/fetch_wheels.sh
# fills .whl/ here first). Every step starts with `setup` (idempotent): check that CUDA is there,
# install the carried wheels into /tmp/site once, print versions, GPU and free memory, and check
# that everything imports. Each sub-step runs under `timeout`, inside one budget for the whole
# invocation (GPU_SESSION_BUDGET_S, default 560 s, under the device tool's 600 s per call), and
# prints one line `VERDICT <step>: ok|FAILED|TIMEOUT|SKIPPED (...)`; verdicts, logs and JSON
# results go to $OUT (the device tool's folder; ./out/gpu_session elsewhere).
#
#   selfcheck  the engine's start-up self-check on the random rax-4.5 checkpoint (fla, Triton, flash
#              prefill, decode kernel, CUDA graphs, overlap vs the plain-torch reference; RAXDOC_OPS
#              auto, so a failing path falls back): selfcheck-rax-4.5.json with the verdict, run first
#   tests      pytest -m gpu tests/model (auto ops), then RAXDOC_OPS=fla pytest -m gpu tests/engine
#              (both on the torch ops if fla will not import: setup says so, bench and cap skip)
#   bench      random rax-4.5 checkpoint (/tmp/ckpt, reused), bench/engine.py at the h100 settings
#              (512 pages x 512 tokens, transformers baseline on 64 pages), bench/model_forward.py
#   cap        bench/engine.py with the l4 and a10g profiles under --memory-cap-gib 22 (256 pages)
#   attn       the h100 run again with --decode-attention aten_flash (PyTorch's bundled flash
#              kernel reading the slot pool in place; opt-in), no baseline: compare with bench's
#              figure (the default on CUDA: our Triton kernel, triton_slots)
#   grammar    the h100 run constrained to the invoice page schema (the pipeline's mode: llguidance
#              masks every step; 256 pages, no baseline): what the mask cost does to pages/s
#   cpu-tests  pytest -m "not gpu" tests/model tests/engine as CI runs it (GPU and fla hidden), on
#              the GPU machine's Python 3.12 / torch 2.11 (a compatibility check; least urgent)
#   session    selfcheck bench cap: what the issue asks of a GPU, in priority order, in one device call
#              (a 15-minute device budget allows one full call and perhaps one short one)
#   all        all of the above in order, for a machine without the 10-minute limit
#              (set GPU_SESSION_BUDGET_S to match); on the device tool use one step per call.
#
# Not here: fetching wheels (bench/fetch_wheels.sh, on the CPU machine), copying results into
# bench/results/ (the session does that from $OUT).
set -uo pipefail  # no -e: a failed step must still leave its verdict and let the next one run

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 2
PY=${PYTHON:-python3}
OUT=${OUT:-$REPO/out/gpu_session}
WHEELS=${RAXDOC_WHEELS:-.whl}
SITE=${RAXDOC_SITE:-/tmp/site}
CKPT=${RAXDOC_CKPT:-/tmp/ckpt}
BUDGET=${GPU_SESSION_BUDGET_S:-560}
PAGES=${BENCH_PAGES:-512}
START=$SECONDS
mkdir -p "$OUT"

export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Compiled Triton kernels and fla's autotune results, shared by every process of this machine.
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-/tmp/triton-cache} FLA_CACHE_RESULTS=1

verdict() {  # verdict NAME STATUS DETAIL
  echo "VERDICT $1: $2 ($3)" | tee -a "$OUT/verdicts.txt"
}

left() { echo $((BUDGET - (SECONDS - START))); }

# bounded NAME MAX_S MIN_S LOG CMD...: run CMD under `timeout` for min(MAX_S, what the budget has
# left); skip it when less than MIN_S is left. Sets RC (124 on timeout) and TOOK (seconds).
bounded() {
  local name=$1 max=$2 min=$3 log=$4
  shift 4
  local budget limit t0
  budget=$(left)
  RC=125
  TOOK=0
  if [ "$budget" -lt "$min" ]; then
    verdict "$name" SKIPPED "${budget}s of the budget left, needs ${min}s"
    return 0
  fi
  limit=$((budget - 5 < max ? budget - 5 : max))
  echo "=== $name: $* (at most ${limit}s)" | tee -a "$OUT/$log"
  t0=$SECONDS
  timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$OUT/$log"
  RC=${PIPESTATUS[0]}
  TOOK=$((SECONDS - t0))
  if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
    verdict "$name" TIMEOUT "killed after ${limit}s; log $log"
  fi
}

# The last pytest summary line of a log ("3 failed, 40 passed, 2 skipped in 95.1s").
pytest_summary() {
  grep -E "[0-9]+ (passed|failed|error|errors|skipped|deselected)|no tests ran" "$OUT/$1" | tail -n 1 |
    tr -d '=' | sed 's/^ *//;s/ *$//'
}

pytest_step() {  # pytest_step NAME MAX_S LOG ENV... -- PYTEST ARGS...
  local name=$1 max=$2 log=$3
  shift 3
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  bounded "$name" "$max" 60 "$log" env "${envs[@]}" "$PY" -m pytest -q -p no:cacheprovider "${PYTEST_TIMEOUT[@]}" "$@"
  [ "$RC" -eq 125 ] && return 0
  if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then return 0; fi
  local summary
  summary=$(pytest_summary "$log")
  if [ "$RC" -eq 0 ]; then verdict "$name" ok "$summary; ${TOOK}s"
  else verdict "$name" FAILED "rc $RC: ${summary:-no summary}; ${TOOK}s; log $log"; fi
}

# One line from a bench/engine.py JSON: pages/s, speedup, code paths, targets.
engine_summary() {
  "$PY" - "$1" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
e, run = r["engine"], r.get("runner") or {}
base = r.get("baseline") or {}
parts = [f"{e['pages_per_s']} pages/s", f"decode {e['decode_tok_s']} tok/s", f"MFU {e['mfu']}",
         f"peak {e['peak_memory_gib']} GiB", f"{e['max_pages_in_flight']} in flight",
         f"ops {run.get('ops')}", f"attention {run.get('decode_attention')}",
         f"graphs {run.get('graphs_captured')}" if run.get("cuda_graphs") else f"graphs OFF {run.get('graph_error')}"]
if base:
    parts.append(f"baseline {base.get('pages_per_s', base.get('error'))} pages/s, speedup {r.get('speedup')}")
if r.get("engine_paths"):
    parts.append(f"self-check {r['engine_paths'].get('self_check')}")
if r.get("targets"):
    parts.append("targets " + ", ".join(f"{k}: {'ok' if v else 'MISSED'}" for k, v in r["targets"].items()))
print("; ".join(str(p) for p in parts))
PYEOF
}

bench_step() {  # bench_step NAME MAX_S MIN_S LOG JSON ARGS...: bench/engine.py, verdict from its JSON
  local name=$1 max=$2 min=$3 log=$4 json=$5
  shift 5
  rm -f "$json"
  bounded "$name" "$max" "$min" "$log" env RAXDOC_OPS=fla "$PY" bench/engine.py --preset rax-4.5 \
    --max-new-tokens 512 --ckpt-dir "$CKPT" --out "$json" "$@"
  [ "$RC" -eq 125 ] && return 0
  local summary=""
  [ -f "$json" ] && summary=$(engine_summary "$json" 2>&1)
  if [ "$RC" -eq 0 ]; then verdict "$name" ok "$summary; ${TOOK}s"
  elif [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
    [ -n "$summary" ] && verdict "$name" PARTIAL "engine figures kept: $summary"
  else verdict "$name" FAILED "rc $RC; ${summary:+$summary; }${TOOK}s; log $log"; fi
}

setup() {
  if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)" >/dev/null 2>&1; then
    verdict setup FAILED "no CUDA device for $PY (no torch, or no GPU): these steps run on the GPU machine"
    exit 2
  fi
  local wheels=("$WHEELS"/*.whl)
  if [ ! -e "${wheels[0]}" ]; then
    verdict setup FAILED "no wheels in $WHEELS/: run bash bench/fetch_wheels.sh on the CPU machine and carry .whl"
    exit 2
  fi
  local stamp
  stamp=$(for w in "${wheels[@]}"; do printf '%s %s\n' "$w" "$(stat -c %s "$w")"; done | cksum)
  if [ "$(cat "$SITE/.raxdoc-wheels" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$SITE"
    if ! timeout 180 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "${wheels[@]}" 2>&1 | tee -a "$OUT/setup.log"; then
      verdict setup FAILED "pip install of $WHEELS/ into $SITE failed; log setup.log"
      exit 2
    fi
    echo "$stamp" >"$SITE/.raxdoc-wheels"
  fi
  export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
  PYTEST_TIMEOUT=()  # per-test limit when pytest-timeout is there: one hang must not eat the step
  if "$PY" -c "import pytest_timeout" 2>/dev/null; then PYTEST_TIMEOUT=(--timeout=240); fi
  if ! timeout 180 "$PY" - "$SITE" <<'PYEOF' 2>&1 | tee -a "$OUT/setup.log"; then
import importlib, importlib.metadata as md, platform, subprocess, sys

import torch

site = sys.argv[1]
free, total = torch.cuda.mem_get_info()
print(f"python {platform.python_version()} | torch {torch.__version__} (cuda {torch.version.cuda}) | "
      f"GPU {torch.cuda.get_device_name()} {free / 2**30:.1f} of {total / 2**30:.1f} GiB free")
for name in ("triton", "fla-core", "flash-linear-attention", "transformers", "tokenizers", "safetensors",
             "huggingface-hub", "llguidance", "pydantic", "regex", "numpy", "pytest", "flash-attn"):
    try:
        print(f"  {name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"  {name} -")
try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.used,memory.total",
                          "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    print("  nvidia-smi:", smi.stdout.strip() or smi.stderr.strip())
except (OSError, subprocess.SubprocessError) as e:
    print("  nvidia-smi:", e)
import transformers

if not transformers.__file__.startswith(site):
    sys.exit(f"transformers comes from {transformers.__file__}, not the carried wheel in {site}")
from transformers import Qwen3_5ForConditionalGeneration  # noqa: F401  the baseline and the parity oracle
for module in ("llguidance", "pydantic", "raxdoc.model", "raxdoc.engine", "raxdoc.schemas.prompt", "raxdoc.schemas"):
    importlib.import_module(module)
print("imports ok: transformers", transformers.__version__)
PYEOF
    verdict setup FAILED "an import or version check failed; log setup.log"
    exit 2
  fi
  # fla apart: without it the GPU tests still say much (on the torch ops), the benchmarks nothing.
  FLA_OK=1
  if ! timeout 120 "$PY" - <<'PYEOF' 2>&1 | tee -a "$OUT/setup.log"; then
import sys

import torch

for module in ("fla.ops.gated_delta_rule", "fla.modules.causal_conv1d", "fla.modules.norm.fused_norm_gate"):
    __import__(module)
from raxdoc.model.ops import use_fla

if not use_fla(torch.empty(1, device="cuda")):
    sys.exit("raxdoc's ops would not use fla on CUDA")
print("fla ok: raxdoc.model.ops will use it")
PYEOF
    FLA_OK=0
    verdict setup/fla FAILED "fla does not import or would not be used (log setup.log): tests run on the torch ops, benchmarks are skipped"
  fi
  verdict setup ok "wheels in $SITE; $(left)s of the budget left"
}

need_fla() {  # need_fla NAME: skip a benchmark when fla is unusable (the torch ops would take hours)
  [ "$FLA_OK" -eq 1 ] && return 0
  verdict "$1" SKIPPED "fla unusable, see setup/fla"
  return 1
}

step_tests() {
  local model_ops=auto engine_ops=fla
  if [ "$FLA_OK" -ne 1 ]; then model_ops=torch engine_ops=torch; fi
  pytest_step tests/gpu-model 270 tests.log "RAXDOC_OPS=$model_ops" -- -m gpu tests/model --maxfail=5
  pytest_step "tests/gpu-engine-$engine_ops" 270 tests.log "RAXDOC_OPS=$engine_ops" -- -m gpu tests/engine --maxfail=5
}

step_ckpt() {  # step_ckpt LOG: the random rax-4.5 checkpoint, written once per machine (~4.5 GB)
  bounded ckpt 300 120 "$1" "$PY" -c \
    "from bench.workload import ensure_checkpoint as e; print('checkpoint', e('rax-4.5', '$CKPT'))"
  [ "$RC" -eq 125 ] && return 0
  if [ "$RC" -eq 0 ]; then verdict ckpt ok "$(du -sh "$CKPT/rax-4.5-random" | cut -f1) in ${TOOK}s"
  elif [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ]; then verdict ckpt FAILED "rc $RC; log $1"; fi
}

step_bench() {
  need_fla bench || return 0
  step_ckpt bench.log
  bench_step bench/engine-h100 420 240 bench.log "$OUT/engine-h100-rax-4.5.json" \
    --profile h100 --pages "$PAGES" --baseline-pages 64
  bounded bench/model-forward 150 90 bench.log env RAXDOC_OPS=fla "$PY" bench/model_forward.py --out "$OUT"
  [ "$RC" -eq 125 ] && return 0
  if [ "$RC" -eq 0 ]; then
    verdict bench/model-forward ok "$(grep -E '^rax-4.5 on' "$OUT/bench.log" | tail -n 1); ${TOOK}s"
  elif [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ]; then verdict bench/model-forward FAILED "rc $RC; log bench.log"; fi
}

step_selfcheck() {
  step_ckpt selfcheck.log
  local json="$OUT/selfcheck-rax-4.5.json"
  rm -f "$json"
  bounded selfcheck 240 90 selfcheck.log env RAXDOC_OPS=auto "$PY" bench/selfcheck.py --ckpt-dir "$CKPT" \
    --profile h100 --out "$json"
  [ "$RC" -eq 125 ] && return 0
  if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then return 0; fi
  local summary=""
  [ -f "$json" ] && summary=$("$PY" - "$json" <<'PYEOF' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['verdict']}; paths " + ", ".join(f"{k} {v}" for k, v in r["paths"].items() if k != "self_check"))
PYEOF
)
  if [ "$RC" -eq 0 ]; then verdict selfcheck ok "${summary}; ${TOOK}s"
  else verdict selfcheck FAILED "rc $RC: ${summary:-no verdict}; log selfcheck.log"; fi
}

step_cap() {
  need_fla cap || return 0
  step_ckpt cap.log
  for profile in l4 a10g; do
    # One process per profile: a memory cap cannot be lifted once set.
    bench_step "cap/$profile" 240 150 cap.log "$OUT/engine-$profile-cap22-rax-4.5.json" \
      --profile "$profile" --memory-cap-gib 22 --pages $((PAGES / 2)) --no-baseline
  done
}

step_attn() {
  need_fla attn || return 0
  step_ckpt attn.log
  bench_step attn/engine-h100-aten-flash 300 180 attn.log "$OUT/engine-h100-aten-flash-rax-4.5.json" \
    --profile h100 --pages "$PAGES" --no-baseline --decode-attention aten_flash
}

step_grammar() {
  need_fla grammar || return 0
  step_ckpt grammar.log
  bench_step grammar/engine-h100-grammar 300 180 grammar.log "$OUT/engine-h100-grammar-rax-4.5.json" \
    --profile h100 --pages $((PAGES / 2)) --no-baseline --grammar
}

step_cpu_tests() {
  # As CI runs it: no GPU, no fla (with fla importable transformers binds Qwen3.5 to CUDA-only
  # kernels and the CPU parity tests cannot run); only Python, torch and triton differ from CI.
  pytest_step cpu-tests 300 cpu-tests.log RAXDOC_OPS=auto CUDA_VISIBLE_DEVICES= RAXDOC_TEST_HIDE_FLA=1 -- \
    -m "not gpu" tests/model tests/engine --maxfail=10
}

# The device tool brings back 8 files a call: past that, the logs travel as one logs.tar.gz
# (verdicts.txt and the JSON results stay loose, where the session copies them from).
bundle_logs() {
  local files logs
  files=$(find "$OUT" -maxdepth 1 -type f | wc -l)
  [ "$files" -le 8 ] && return 0
  logs=$(cd "$OUT" && ls -- *.log 2>/dev/null)
  [ -z "$logs" ] && return 0
  # shellcheck disable=SC2086  # names from ls, letters and dots only
  (cd "$OUT" && tar -czf logs.tar.gz $logs && rm -f $logs) &&
    echo "--- $files files in $OUT, more than the device tool brings back: the logs are in logs.tar.gz"
}

main() {
  if [ $# -eq 0 ]; then
    awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"  # the header above
    exit 2
  fi
  local steps=() arg s
  for arg in "$@"; do
    case $arg in
      selfcheck | tests | bench | cap | attn | grammar | cpu-tests) steps+=("$arg") ;;
      session) steps+=(selfcheck bench cap) ;;
      all) steps+=(selfcheck tests bench cap attn grammar cpu-tests) ;;
      *) echo "unknown step '$arg' (session, selfcheck, tests, bench, cap, attn, grammar, cpu-tests, all)" >&2; exit 2 ;;
    esac
  done
  rm -f "$OUT"/*.log "$OUT/verdicts.txt"  # this invocation's logs only (the device's $OUT starts empty)
  setup
  for s in "${steps[@]}"; do
    case $s in
      selfcheck) step_selfcheck ;;
      tests) step_tests ;;
      bench) step_bench ;;
      cap) step_cap ;;
      attn) step_attn ;;
      grammar) step_grammar ;;
      cpu-tests) step_cpu_tests ;;
    esac
  done
  echo "--- verdicts (also in $OUT/verdicts.txt), $((SECONDS - START))s in all:"
  cat "$OUT/verdicts.txt"
  bundle_logs
  ! grep -qE ": (FAILED|TIMEOUT|PARTIAL)" "$OUT/verdicts.txt"
}

# Sourced (tests/test_gpu_session.py), only the functions are defined.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
