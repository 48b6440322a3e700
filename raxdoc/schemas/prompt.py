"""The per-page instruction prompt and its version string.

Two forms. Constrained decoding (the grammar already holds the JSON Schema):
a short instruction plus the field names, about 150 tokens for `Invoice`.
Unconstrained: the same instruction plus the compact JSON Schema. Either way
the model copies values as printed; `raxdoc.postprocess` normalises them.
`prompt_version(schema)` is stored next to every output so results from
different prompts or schemas are never mixed silently. Chat templating and
image tokens are the model package's job, not this module's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from pydantic import BaseModel

from raxdoc.schemas.fields import FieldKind, items_field, model_fields_of
from raxdoc.schemas.invoice import Invoice
from raxdoc.schemas.jsonschema import page_json_schema

# Bump when the instruction wording changes.
PROMPT_VERSION = "page-v1"

_INSTRUCTION = (
    "Extract this page's {noun} data as one JSON object. "
    "Copy values exactly as printed (numbers, dates, currencies in the page's format). "
    "Include only fields shown on this page; never guess. "
    'List every {item} on this page in order in "{items}", also one cut off at the page edge.'
)


def _noun(schema: type[BaseModel]) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", schema.__name__).lower()


def _names(kinds: Mapping[str, FieldKind]) -> str:
    parts = []
    for name, kind in kinds.items():
        if kind.internal:
            continue
        if kind.kind == "list" and kind.item is not None and kind.item.model is not None:
            inner = _names(model_fields_of(kind.item.model))
            parts.append(f"{name}[]: {{{inner}}}")
        elif kind.kind == "object" and kind.model is not None:
            parts.append(f"{name}: {{{_names(model_fields_of(kind.model))}}}")
        else:
            parts.append(name)
    return ", ".join(parts)


def build_prompt(schema: type[BaseModel] = Invoice, *, constrained: bool) -> str:
    """The instruction text for one page of a document of `schema`."""
    items = items_field(schema)
    item_noun = items.rstrip("s").replace("_", " ") if items.endswith("s") else "item"
    head = _INSTRUCTION.format(noun=_noun(schema), item=item_noun, items=items)
    if constrained:
        return f"{head}\nFields: {_names(model_fields_of(schema))}."
    # Without the null alternatives: the prompt says "leave out", validation accepts null anyway.
    spec = page_json_schema(schema, descriptions=True, nullable=False)
    compact = json.dumps(spec, separators=(",", ":"),
                         ensure_ascii=False)
    return f"{head}\nReply with only the JSON object, matching this JSON Schema:\n{compact}"


def prompt_version(schema: type[BaseModel] = Invoice) -> str:
    """PROMPT_VERSION plus the schema's name and a hash of its JSON Schema."""
    digest = hashlib.sha256(json.dumps(page_json_schema(schema, descriptions=True),
                                       sort_keys=True).encode()).hexdigest()[:10]
    return f"{PROMPT_VERSION}+{schema.__name__}.{digest}"
