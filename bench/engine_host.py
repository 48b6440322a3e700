"""Host time per decode step: what the GPU would sit idle through, measured without a GPU.

The engine's step is: schedule, build sampling tensors, launch the forward, wait for the grammar
masks (filled on worker threads while the forward runs), sample, read the ids (the one sync), then
append tokens, advance grammars and check stops. On a GPU the forward and the sampler run on the
device; everything else is host work, and the parts before the launch and after the sync are time
the GPU has nothing to do. This bench runs the real `Engine` on a runner that returns ready logits
instantly and splits each step into: mask wait (hidden behind the forward on a GPU when shorter
than it), sampler (device work on a GPU; here on the CPU at a small vocabulary) and the rest —
the serial host cost per step that an overlapped scheduler would hide.

    PYTHONPATH=. python bench/engine_host.py [--batch 1 64 256] [--tokens 128] [--vocab 32000]

The grammar is the real invoice page schema (`raxdoc.schemas.jsonschema.page_json_schema`) through
llguidance; the tokenizer is bench/grammar.py's BPE trained on invoice-like JSON. Figures depend
on the host and its load (printed): quote medians, compare on one machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grammar import train_tokenizer  # noqa: E402  (bench/grammar.py)
from provenance import git_commit, write_result  # noqa: E402  (bench/provenance.py)

from raxdoc.engine import Engine, EngineConfig, SamplingParams  # noqa: E402
from raxdoc.schemas import Invoice  # noqa: E402
from raxdoc.schemas.jsonschema import page_json_schema  # noqa: E402


class InstantRunner:
    """Ready logits for any batch: the forward costs nothing, so the step is all host work."""

    max_model_len, decode_ahead, needs_vision_after_prefill = None, False, False

    def __init__(self, vocab_size: int, num_slots: int, seed: int = 0) -> None:
        self.vocab_size, self.num_slots, self.device = vocab_size, num_slots, torch.device("cpu")
        self.logits = torch.randn(num_slots, vocab_size, generator=torch.Generator().manual_seed(seed))

    def prefill(self, seqs):
        return self.logits[: len(seqs)]

    def decode(self, seqs, next_tokens=None):
        return self.logits[: len(seqs)]


class Timed:
    """Wraps a callable and sums the seconds spent in it."""

    def __init__(self, fn) -> None:
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t


def run(tokenizer, batch: int, tokens: int, constrained: bool) -> dict[str, float]:
    engine = Engine(InstantRunner(tokenizer.get_vocab_size(), batch), tokenizer,
                    EngineConfig(max_num_seqs=batch, max_model_len=4096, prefill_token_budget=1 << 20,
                                 vit_token_budget=1 << 20, grammar_close_reserve=0))
    grammar = engine.grammar(page_json_schema(Invoice)) if constrained else None
    sampler = engine.sampler = Timed(engine.sampler)
    # `_sample` waits for the step's masks, then calls the sampler: the difference is the mask wait.
    masked = engine._sample = Timed(engine._sample)
    params = SamplingParams(max_new_tokens=tokens, ignore_eos=True, temperature=0.0)
    prompt = {"input_ids": list(range(10, 200))}
    for _ in range(batch):
        engine.add_request(prompt, params, grammar=grammar)
    engine.step()  # the prefill step
    sampler.seconds = masked.seconds = 0.0
    per_step, steps, start = [], 0, time.perf_counter()
    while engine.has_unfinished():
        t = time.perf_counter()
        engine.step()
        per_step.append(time.perf_counter() - t)
        steps += 1
    wall = time.perf_counter() - start
    engine.close()
    waits = masked.seconds - sampler.seconds
    rest = wall - masked.seconds
    return {"steps": steps, "step_ms": 1e3 * wall / steps, "step_ms_median": 1e3 * statistics.median(per_step),
            "mask_wait_ms": 1e3 * waits / steps, "sampler_ms": 1e3 * sampler.seconds / steps,
            "rest_ms": 1e3 * rest / steps, "rest_us_per_seq": 1e6 * rest / steps / batch}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 64, 256])
    ap.add_argument("--tokens", type=int, default=128, help="decode steps per sequence")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--tokenizer-cache", default="/tmp/raxdoc-bench-tokenizer.json")
    ap.add_argument("--out", default=None, help="JSON result path")
    args = ap.parse_args()
    from tokenizers import Tokenizer

    if os.path.exists(args.tokenizer_cache):
        tok = Tokenizer.from_file(args.tokenizer_cache)
    else:
        tok = train_tokenizer(args.vocab)
        tok.save(args.tokenizer_cache)
    print(f"host: {os.cpu_count()} cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"torch threads {torch.get_num_threads()}; vocab {tok.get_vocab_size()}")
    print("per decode step, means (median step in brackets):")
    print(f"{'batch':>5} {'grammar':>7} {'step ms':>16} {'mask wait':>9} {'sampler':>8} {'rest ms':>8} "
          f"{'rest us/seq':>11}")
    rows = []
    for batch in args.batch:
        for constrained in (False, True):
            r = run(tok, batch, args.tokens, constrained)
            rows.append({"batch": batch, "grammar": constrained, **{k: round(v, 3) for k, v in r.items()}})
            step = f"{r['step_ms']:.2f} ({r['step_ms_median']:.2f})"
            print(f"{batch:>5} {'on' if constrained else 'off':>7} {step:>16} "
                  f"{r['mask_wait_ms']:>9.2f} {r['sampler_ms']:>8.2f} {r['rest_ms']:>8.2f} "
                  f"{r['rest_us_per_seq']:>11.1f}")

    if args.out:
        report = {
            "benchmark": "raxdoc-engine-host/1",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(shlex.quote(a) for a in sys.argv), "commit": git_commit(short=False),
            "device": f"cpu ({os.cpu_count()} cores)", "host_load_average": [round(x, 2) for x in os.getloadavg()],
            "torch": torch.__version__, "vocab": tok.get_vocab_size(), "tokens_per_sequence": args.tokens,
            "meaning": "ms per decode step: mask_wait = waiting for grammar masks (hidden behind the forward on a "
                       "GPU when shorter), sampler = the sampler on CPU (device work on a GPU), rest = serial host "
                       "work a GPU idles through unless decode is overlapped",
            "rows": rows,
        }
        write_result(args.out, report)


if __name__ == "__main__":
    main()
