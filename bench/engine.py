"""Engine throughput on synthetic invoice pages, against transformers' generate in the same process.

    PYTHONPATH=. python bench/engine.py --preset tiny --pages 4 --max-new-tokens 16       # CPU, anywhere
    PYTHONPATH=. python bench/engine.py --preset rax-4.5 --pages 512 --max-new-tokens 512 \\
        --ckpt-dir /tmp/ckpt --out bench/results/engine-h100.json                          # H100

Prints a short table; with --out writes the JSON (device, torch, commit, date, command, every
figure). The logic lives in `bench.engine_run` (shared with `raxdoc bench`); this file only
parses arguments. See bench/README.md for the GPU runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.engine_run import run_engine_bench


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="rax-4.5", choices=("tiny", "rax-4.5"))
    ap.add_argument("--profile", default="auto", help="auto, cpu, l4, a10g, a100, h100")
    ap.add_argument("--pages", type=int, default=512)
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--memory-cap-gib", type=float, default=None,
                    help="cap this process's CUDA memory (set_per_process_memory_fraction)")
    ap.add_argument("--no-baseline", action="store_true", help="skip transformers' generate")
    ap.add_argument("--baseline-pages", type=int, default=None,
                    help="pages for the baseline (default: all, at most 64 on CUDA); pages/s are compared")
    ap.add_argument("--baseline-batch-size", type=int, default=None,
                    help="pages per generate() call (default: all baseline pages in one call)")
    ap.add_argument("--ckpt-dir", default=None, help="keep the random checkpoint here and reuse it")
    ap.add_argument("--warmup-pages", type=int, default=2)
    ap.add_argument("--unique-pages", type=int, default=16, help="distinct pages drawn, then repeated")
    ap.add_argument("--long-side", type=int, default=1288, help="page height in pixels")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--decode-attention", default=None,
                    choices=("auto", "gather", "flash_kvcache", "triton_slots", "aten_flash"),
                    help="full-attention decode kernel (default: RAXDOC_DECODE_ATTENTION, else auto)")
    ap.add_argument("--grammar", action="store_true",
                    help="constrain every page to the invoice page schema (the pipeline's mode); no baseline")
    ap.add_argument("--out", default=None, help="JSON result path")
    args = ap.parse_args(argv)
    return run_engine_bench(
        preset=args.preset, pages=args.pages, max_new_tokens=args.max_new_tokens, profile=args.profile,
        baseline=not args.no_baseline, baseline_pages=args.baseline_pages,
        baseline_batch_size=args.baseline_batch_size, memory_cap_gib=args.memory_cap_gib,
        ckpt_dir=args.ckpt_dir, out=Path(args.out) if args.out else None, warmup_pages=args.warmup_pages,
        unique_pages=args.unique_pages, long_side=args.long_side, device=args.device,
        decode_attention=args.decode_attention, grammar=args.grammar,
        command=" ".join(["python", *sys.argv]) if argv is None else None)


if __name__ == "__main__":
    main()
