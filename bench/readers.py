"""Our engine beside the transformers backend: pages/s on the same pages and the same checkpoint.

The checkpoint is a random qwen3_5 one (`tiny` preset on CPU; `--preset rax-4.5` for full size on
a GPU). Our engine runs it natively (`Engine.from_pretrained`); the transformers backend
(`raxdoc.engine.hf_loading.load_hf_reader`) runs it through transformers'
`Qwen3_5ForConditionalGeneration`, exactly as it runs EXAONE or ERNIE. Both get the same pages,
the same instruction, greedy decoding and a fixed output length (`ignore_eos`: every page costs
the same tokens), optionally under the invoice grammar. Each reader: one warm-up pass, then
`--runs` timed passes; the figure is the median pages/s.

    .venv/bin/python -m bench.readers --out bench/results/readers-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.pages import invoice_page
from bench.provenance import write_result


def _timed(generate, prompts: list[dict], runs: int) -> dict[str, Any]:
    generate(prompts[:2])  # warm-up: first-call allocations, grammar compile
    seconds = []
    for _ in range(runs):
        t = time.perf_counter()
        results = generate(prompts)
        seconds.append(time.perf_counter() - t)
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    med = statistics.median(seconds)
    # Shared CPUs: the best run says what the reader can do, the median what it did here.
    return {"seconds": [round(s, 3) for s in seconds], "median_s": round(med, 3),
            "pages_per_s": round(len(prompts) / med, 3), "best_pages_per_s": round(len(prompts) / min(seconds), 3),
            "completion_tokens": sum(r.completion_tokens for r in results)}


def run(preset: str, pages: int, max_new_tokens: int, runs: int, long_side: int, batch: int, grammar: bool,
        ckpt_dir: str | None) -> dict[str, Any]:
    if not torch.cuda.is_available():
        sys.modules.setdefault("fla", None)  # transformers' Qwen3.5 must take its torch fallback on CPU
    from bench.workload import ensure_checkpoint
    from raxdoc.engine import Engine, SamplingParams
    from raxdoc.engine.hf_loading import load_hf_reader
    from raxdoc.profiles import resolve_profile
    from raxdoc.schemas.invoice import Invoice
    from raxdoc.schemas.jsonschema import page_json_schema
    from raxdoc.schemas.prompt import build_prompt

    device = "cuda" if torch.cuda.is_available() else "cpu"
    ckpt = ensure_checkpoint(preset, ckpt_dir or tempfile.mkdtemp(prefix="raxdoc-readers-"))
    profile = resolve_profile("cpu" if device == "cpu" else "auto", max_num_seqs=batch)
    instruction = build_prompt(Invoice, constrained=grammar)
    schema = page_json_schema(Invoice) if grammar else None
    params = SamplingParams(max_new_tokens=max_new_tokens, ignore_eos=not grammar)
    images = [invoice_page(i, long_side=long_side) for i in range(pages)]
    out: dict[str, Any] = {}

    engine = Engine.from_pretrained(str(ckpt), profile=profile, device=device)
    prompts = []
    for image in images:
        inputs = engine.processor(instruction, [image])
        prompts.append({"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values,
                        "image_grid_thw": inputs.image_grid_thw})
    g = engine.grammar(schema) if grammar else None
    out["raxdoc_engine"] = _timed(lambda ps: engine.generate(ps, params, g), prompts, runs)
    out["prompt_tokens_per_page"] = len(prompts[0]["input_ids"])
    engine.close()
    del engine

    reader = load_hf_reader(str(ckpt), profile=profile, device=device)
    hf_prompts = [reader.prompter(instruction, [image]) for image in images]
    g = reader.grammar(schema) if grammar else None
    out["transformers_backend"] = _timed(lambda ps: reader.generate(ps, params, g), hf_prompts, runs)
    out["transformers_batch"] = reader.max_batch
    reader.close()
    out["speedup"] = round(out["raxdoc_engine"]["pages_per_s"] / out["transformers_backend"]["pages_per_s"], 2)
    out["speedup_best"] = round(out["raxdoc_engine"]["best_pages_per_s"]
                                / out["transformers_backend"]["best_pages_per_s"], 2)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--long-side", type=int, default=448, help="page pixels on the long side")
    ap.add_argument("--batch", type=int, default=4, help="max_num_seqs for both readers")
    ap.add_argument("--grammar", action="store_true", help="constrain pages to the invoice schema")
    ap.add_argument("--ckpt-dir", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    load_before = os.getloadavg()[0]
    figures = run(args.preset, args.pages, args.max_new_tokens, args.runs, args.long_side, args.batch,
                  args.grammar, args.ckpt_dir)
    report = {"bench": "readers", "command": " ".join(["python -m bench.readers", *(argv or sys.argv[1:])]),
              "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu",
              "torch_threads": torch.get_num_threads(), "preset": args.preset, "pages": args.pages,
              "max_new_tokens": args.max_new_tokens, "runs": args.runs, "long_side": args.long_side,
              "batch": args.batch, "grammar": args.grammar,
              "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)], **figures}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        write_result(args.out, report)


if __name__ == "__main__":
    main()
