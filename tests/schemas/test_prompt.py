import json

from raxdoc.schemas.prompt import PROMPT_VERSION, build_prompt, prompt_version
from raxdoc.schemas import Invoice, page_json_schema
from tests.schemas.sample_schema import Receipt


def test_constrained_prompt_is_short_and_names_every_model_field():
    text = build_prompt(Invoice, constrained=True)
    # ~150-190 tokens: no Qwen tokenizer here, so bound the characters (about 4 per token).
    assert len(text) < 800
    for name in ("invoice_number", "total", "line_items", "unit_price", "tax_breakdown"):
        assert name in text
    assert "page_index" not in text  # internal: never asked of the model
    assert "{" in text and "properties" not in text  # field names, not the JSON Schema


def test_unconstrained_prompt_embeds_the_compact_json_schema():
    text = build_prompt(Invoice, constrained=False)
    embedded = json.loads(text[text.index("{"):])
    assert embedded["required"] == ["line_items"]
    assert set(embedded["properties"]) == set(page_json_schema(Invoice)["properties"])
    assert ": " not in text[text.index("{"):]  # compact separators


def test_custom_schema_prompt_uses_its_names():
    text = build_prompt(Receipt, constrained=True)
    assert "receipt" in text and '"lines"' in text and "purchased_on" in text
    assert "invoice" not in text


def test_prompt_version_changes_with_the_schema():
    v_invoice, v_receipt = prompt_version(Invoice), prompt_version(Receipt)
    assert v_invoice.startswith(PROMPT_VERSION + "+Invoice.")
    assert v_receipt.startswith(PROMPT_VERSION + "+Receipt.")
    assert v_invoice == prompt_version(Invoice)  # deterministic
