"""How far a model's record agrees with an exact one (an e-invoice's): `compare_records(exact, model)`.

`--einvoice verify` runs the model on documents whose XML already gives the answer; this is the
comparison, so the run reports a live accuracy figure for the model on the user's own traffic.
Rules, decided here and nowhere else:
- Compared: every value the exact record HAS (a header field, or a field of a line item / tax row).
  A value the XML leaves out (MINIMUM has no lines or addresses) is not compared: the model may
  read it off the page, and that is no error. A model item that matches no exact item counts its
  values as compared and not agreeing (an invented line).
- Equal: `raxdoc.eval.values`'s keys (decimals numerically, dates as the day, strings after NFKC,
  casefold and whitespace collapsed), and the identifiers below compared without spaces, as
  printed ("DE89 3704 0044 ..." is the XML's "DE8937040044..."). A credit note's numbers compare by
  magnitude: the XML states them positive, the page may print them negative.
- Not compared: `unit` (the XML holds a UN/ECE Rec 20 code, "H87"; the page a word, "pcs").
- Items (line items, tax rows) are paired one to one by `raxdoc.eval.match.match_items` (the
  pairing that agrees on most fields, order ignored), as `raxdoc eval` pairs them.
- Each disagreement is an `einvoice_mismatch` issue: a header field, or an item (all its differing
  fields in one message), or an item only one side has; both values are in the message.

Not here: reading e-invoices (raxdoc.ingest), which record a row keeps (raxdoc.pipeline).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from raxdoc.eval.match import match_items
from raxdoc.eval.values import is_item_list, object_keys, scored_fields
from raxdoc.schemas.records import Issue

MISMATCH = "einvoice_mismatch"
# Printed in groups, stored compact: compared with every space removed.
COMPACT_FIELDS = frozenset({"iban", "bic", "vendor_tax_id", "customer_tax_id"})
NOT_COMPARED = frozenset({"unit"})


@dataclass(frozen=True)
class Agreement:
    agreed: int  # values of the exact record the model read the same
    compared: int  # values of the exact record, plus values of model items it does not have
    issues: tuple[Issue, ...] = ()

    @property
    def share(self) -> float | None:
        """agreed / compared; None when there was nothing to compare."""
        return self.agreed / self.compared if self.compared else None


def _keys(value: Mapping[str, Any], model: type[BaseModel], unsigned: bool,
          only: set[str] | None = None) -> dict[str, Any]:
    keys = object_keys(dict(value), model, strict=False, only=only)
    out = {}
    for name, key in keys.items():
        if name in NOT_COMPARED:
            continue
        if name in COMPACT_FIELDS and isinstance(key, str):
            key = key.replace(" ", "")
        elif unsigned and isinstance(key, Decimal):
            key = abs(key)
        out[name] = key
    return out


def _show(value: Any) -> str:
    return "nothing" if value is None else repr(str(value))


def _differences(exact: dict, model: dict, exact_keys: dict, model_keys: dict) -> list[str]:
    return [f"{name} {_show(model.get(name))} (e-invoice {_show(exact.get(name))})"
            for name, key in exact_keys.items() if key is not None and model_keys.get(name) != key]


def _label(item: Mapping[str, Any]) -> str:
    return next((repr(str(item[n])) for n in ("description", "rate", "amount") if item.get(n) is not None), "")


def compare_records(exact: BaseModel, model: BaseModel, *, credit_note: bool = False) -> Agreement:
    """How far `model` (the model's merged record) agrees with `exact` (the same schema);
    `credit_note`: numbers compare by magnitude."""
    schema = type(exact)
    fields = scored_fields(schema)
    lists = {n for n, k in fields.items() if is_item_list(k)}
    exact_v, model_v = exact.model_dump(mode="python"), model.model_dump(mode="python")
    agreed = compared = 0
    issues: list[Issue] = []
    exact_h, model_h = (_keys(v, schema, credit_note, only=set(fields) - lists) for v in (exact_v, model_v))
    for name, key in exact_h.items():
        if key is None:
            continue
        compared += 1
        if model_h.get(name) == key:
            agreed += 1
        else:
            issues.append(Issue(MISMATCH, name, f"model read {_show(model_v.get(name))}, "
                                                f"e-invoice {_show(exact_v.get(name))}"))
    for name in sorted(lists):
        item_model = fields[name].item.model  # type: ignore[union-attr]
        exact_items, model_items = exact_v.get(name) or [], model_v.get(name) or []
        exact_k = [_keys(i, item_model, credit_note) for i in exact_items]
        model_k = [_keys(i, item_model, credit_note) for i in model_items]
        paired = dict(match_items(exact_k, model_k))
        for i, keys in enumerate(exact_k):
            compared += sum(k is not None for k in keys.values())
            j = paired.get(i)
            if j is None:
                issues.append(Issue(MISMATCH, f"{name}[{i}]", f"the model read no item matching e-invoice item "
                                                              f"{i} {_label(exact_items[i])}".rstrip()))
                continue
            differ = _differences(exact_items[i], model_items[j], keys, model_k[j])
            agreed += sum(k is not None for k in keys.values()) - len(differ)
            if differ:
                issues.append(Issue(MISMATCH, f"{name}[{i}]", f"model item {j}: " + "; ".join(differ)))
        for j in sorted(set(range(len(model_k))) - set(paired.values())):
            values = sum(k is not None for k in model_k[j].values())
            if values:
                compared += values
                issues.append(Issue(MISMATCH, name, f"model item {j} {_label(model_items[j])} is not in the "
                                                    "e-invoice".replace("  ", " ")))
    return Agreement(agreed, compared, tuple(issues))
