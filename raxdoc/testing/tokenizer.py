"""A small byte-level BPE tokenizer with Rax's special tokens, for random checkpoints.

Real Rax 4.5 ships a 248k-token Qwen tokenizer we cannot download here. Tests and benchmarks need a
tokenizer that behaves like it where it matters: byte-level BPE (any text round-trips), ChatML and
vision special tokens at the same offsets from the end of the vocabulary as the real one (so
`<|image_pad|>` is 248056 in the full-size preset), and merges learnt on invoice-like text so JSON
output takes a realistic number of tokens. Training is deterministic: the corpus is generated here.

Not here: using a tokenizer (processor.py), writing the checkpoint (presets.py).
"""

from __future__ import annotations

import json
import random

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

# Offsets from the end of the vocabulary, as in Qwen3.5's tokenizer (248320 - 276 = 248044, ...).
_SPECIALS: list[tuple[str, int, bool]] = [
    ("<|endoftext|>", 276, True),
    ("<|im_start|>", 275, True),
    ("<|im_end|>", 274, True),
    ("<|object_ref_start|>", 273, True),
    ("<|object_ref_end|>", 272, True),
    ("<|box_start|>", 271, True),
    ("<|box_end|>", 270, True),
    ("<|quad_start|>", 269, True),
    ("<|quad_end|>", 268, True),
    ("<|vision_start|>", 267, True),
    ("<|vision_end|>", 266, True),
    ("<|vision_pad|>", 265, True),
    ("<|image_pad|>", 264, True),
    ("<|video_pad|>", 263, True),
    # Qwen3 keeps the think markers as added but not special tokens: they decode as text.
    ("<think>", 252, False),
    ("</think>", 251, False),
]
_RESERVED = 276
# Qwen's pre-tokenizer split (digits one by one, letters with their marks); transformers'
# Qwen3.5 tokenizer applies exactly this, so ours must too for ids to agree.
_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
_MAX_BASE_VOCAB = 8192


def special_token_ids(vocab_size: int) -> dict[str, int]:
    """Ids of the special tokens in a vocabulary of `vocab_size`."""
    if vocab_size < _RESERVED + 256 + 64:
        raise ValueError(f"vocab_size {vocab_size} too small: need room for 256 bytes, merges and {_RESERVED} specials")
    return {text: vocab_size - offset for text, offset, _ in _SPECIALS}


def build_tokenizer(vocab_size: int, *, seed: int = 0) -> Tokenizer:
    """A byte-level BPE whose merges fill at most `vocab_size - 276` ids, specials at the top."""
    base_size = min(vocab_size - _RESERVED, _MAX_BASE_VOCAB)
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=base_size,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer=trainer)

    # Place the specials at their fixed ids: put them in the model's vocabulary under those ids and
    # declare them as added tokens with the same ids, which is how HF tokenizer.json files hold them.
    data = json.loads(tok.to_str())
    ids = special_token_ids(vocab_size)
    vocab = data["model"]["vocab"]
    for text, _, _ in _SPECIALS:
        vocab[text] = ids[text]
    data["added_tokens"] = [
        {
            "id": ids[text],
            "content": text,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": special,
        }
        for text, _, special in _SPECIALS
    ]
    return Tokenizer.from_str(json.dumps(data))


_WORDS = (
    "invoice number date due total subtotal tax vat amount quantity qty unit price description item "
    "product code discount currency vendor customer address iban bic payment terms net gross rate line "
    "consulting services hours licence software support shipping handling office supplies paper toner "
    "cable adapter monitor keyboard mouse chair desk maintenance hosting domain fee travel hotel meal"
).split()
_KEYS = (
    "invoice_number issue_date due_date vendor_name customer_name currency subtotal tax_total total "
    "amount_due line_items description quantity unit unit_price amount tax_rate product_code page_index"
).split()


def _corpus(seed: int) -> list[str]:
    """Invoice-like prose, numbers in several locales, and JSON records with the schema's keys."""
    rng = random.Random(seed)
    lines: list[str] = []
    for _ in range(3000):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 9)))
        amount = rng.uniform(0, 20000)
        styles = [f"{amount:,.2f}", f"{amount:.2f}", f"{amount:,.2f}".replace(",", " ").replace(".", ",")]
        lines.append(f"{words.capitalize()} {rng.choice(styles)} EUR {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026")
        record = {k: rng.choice([words[:20], round(amount, 2), rng.randint(1, 99), None]) for k in rng.sample(_KEYS, 6)}
        lines.append(json.dumps(record))
        lines.append(json.dumps({"line_items": [record]}, indent=rng.choice([None, 2])))
    return lines
