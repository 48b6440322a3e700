"""Host cost of one decode step's grammar masks, with Qwen3.5's real tokenizer, per batch and thread count.

The engine fills every constrained row's llguidance mask once per decode step (`MaskFiller`, on a
worker thread while the device computes). This replays valid invoice JSON (bench/grammar.py's
schema and generator, tokenised by the real Qwen3.5 tokenizer, logits 248,320 wide) through B
matchers at staggered positions and times each step's batched fill, for B = 64 and 256 and 1, 2,
4 threads and the count `grammar.mask_threads` picks for this host.

    PYTHONPATH=. python bench/mask_cost.py [--batch 64 256] [--threads 1 2 4] [--out bench/results/mask-cost-cpu.json]

Not a test: figures depend on the machine and its load (the JSON records both).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shlex
import statistics
import sys
import time

from bench.grammar import Invoice, pct, random_invoice, replay_batched
from bench.provenance import git_commit, write_result
from raxdoc.engine.grammar import Grammar, MaskFiller, build_ll_tokenizer, host_cpus, mask_threads
from raxdoc.testing.qwen_tokenizer import build_qwen_tokenizer

LOGITS_VOCAB = 248320


def measure(grammar: Grammar, docs: list[list[int]], batch: int, threads: int) -> dict:
    filler = MaskFiller(LOGITS_VOCAB, batch, num_threads=threads)
    try:
        per_step, per_row = replay_batched(docs, batch, grammar.matcher, filler.fill, lambda m, t: m.accept(t))
    finally:
        filler.close()
    return {"threads": threads, "steps": len(per_step), "median_ms": round(statistics.median(per_step) / 1e3, 3),
            "p90_ms": round(pct(per_step, 0.9) / 1e3, 3), "p99_ms": round(pct(per_step, 0.99) / 1e3, 3),
            "us_per_row": round(statistics.median(per_row), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--docs", type=int, default=32)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    t0 = time.perf_counter()
    tok = build_qwen_tokenizer()
    t_tok = time.perf_counter() - t0
    ll_tok = build_ll_tokenizer(tok, LOGITS_VOCAB, [tok.token_to_id("<|im_end|>")])
    grammar = Grammar.from_pydantic(Invoice, ll_tok)
    rng = random.Random(7)
    docs = [tok.encode(random_invoice(rng).model_dump_json(), add_special_tokens=False).ids for _ in range(args.docs)]
    print(f"Qwen3.5 tokenizer ({tok.get_vocab_size()} ids) loaded in {t_tok:.1f} s; {len(docs)} invoices, "
          f"mean {statistics.mean(map(len, docs)):.0f} tokens; host {host_cpus()} cpus", flush=True)
    rows = []
    for batch in args.batch:
        chosen = mask_threads(batch)
        for threads in sorted(set(args.threads) | {chosen}):
            r = {"batch": batch, **measure(grammar, docs, batch, threads), "rule_choice": threads == chosen}
            rows.append(r)
            print(f"B={batch:4d} threads={threads}: median {r['median_ms']:.2f} ms/step, p90 {r['p90_ms']:.2f}, "
                  f"{r['us_per_row']:.1f} us/row{'  <- mask_threads' if r['rule_choice'] else ''}", flush=True)
    if args.out:
        report = {
            "benchmark": "raxdoc-mask-cost/1",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(shlex.quote(a) for a in sys.argv), "commit": git_commit(short=False),
            "device": f"cpu ({platform.processor() or platform.machine()})", "host_cpus": host_cpus(),
            "host_load_average": [round(x, 2) for x in os.getloadavg()],
            "tokenizer": f"Qwen3.5 (qwen-tokenizer, {tok.get_vocab_size()} ids)", "logits_vocab": LOGITS_VOCAB,
            "schema": "bench/grammar.py Invoice", "docs": len(docs),
            "doc_tokens_mean": round(statistics.mean(map(len, docs)), 1),
            "rule": "mask_threads(B) = clamp(ceil(B / 32), 1, min(8, cpus // 2))",
            "rows": rows,
        }
        write_result(args.out, report)


if __name__ == "__main__":
    main()
