"""Scoring an output folder against labels: `evaluate(output, truth_dir) -> EvalReport`.

Per field, each (document, field) place where the label or the prediction has a value counts
once: predicted and equal is a true positive; predicted and different is a false positive and
a false negative; a labelled value not predicted is a false negative; a value predicted where
the label has none is a false positive. Item lists (`line_items`, `tax_breakdown`) are first
matched one to one (`match.py`); matched pairs are counted field by field as above, and every
field of an unmatched true item is a false negative, of an unmatched predicted item a false
positive. Line-item F1 is over all item fields together (DocILE's LIR, text variant). An item the
reader split in two pairs once (with the half sharing more values); the other half is an extra
item, its values false positives.

Header accuracy is the share of header places (label or prediction has a value; both empty
is left out, else empty fields would inflate it) where the prediction equals the label.

A label names its document by stem (`inv-7`) or file name (`inv-7.pdf`, folders dropped): a
file name that is an output row's source's name finds that row, anything else is taken as a
stem. A labelled document with no output row scores as all missed and is listed in `missing`; an
output row with no label is listed in `unlabelled` and not scored. An `error` row is scored as
it is (no values): it is there, it just found nothing.

Not here: equality rules (`values.py`), file reading (`truth.py`, `output.py`), rendering
(`report.py`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raxdoc.eval.labels import document_name
from raxdoc.eval.match import match_items
from raxdoc.eval.output import OutputDoc, load_output, printable, source_path
from raxdoc.eval.truth import load_truth
from raxdoc.eval.values import DocKeys, EvalError, is_item_list, scored_fields
from raxdoc.schemas.custom import resolve_schema
from raxdoc.schemas.fields import items_field

MISSING = "missing"  # the status a labelled document with no output row is reported with


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None  # None: undefined (nothing predicted, or nothing labelled)


@dataclass
class Counts:
    """True / false positives and false negatives of one field (or a sum of fields)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    places: int = 0  # (document, field) places where the label or the prediction has a value

    def add(self, truth: Any, predicted: Any) -> None:
        """Count one place: comparison keys from `values.py`, None for no value."""
        if truth is None and predicted is None:
            return
        self.places += 1
        if truth == predicted:
            self.tp += 1
            return
        self.fp += predicted is not None
        self.fn += truth is not None

    def __iadd__(self, other: Counts) -> Counts:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        self.places += other.places
        return self

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        # 2TP / (2TP + FP + FN): the harmonic mean of P and R, defined whenever either side has a value.
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def accuracy(self) -> float | None:
        return _ratio(self.tp, self.places)


def total(counts: dict[str, Counts]) -> Counts:
    out = Counts()
    for c in counts.values():
        out += c
    return out


@dataclass
class ListScore:
    """One item list over all documents: per-field counts and item tallies."""

    fields: dict[str, Counts]
    true_items: int = 0
    predicted_items: int = 0
    matched_items: int = 0  # pairs agreeing on at least one field

    @property
    def total(self) -> Counts:
        return total(self.fields)


@dataclass
class DocScore:
    """One labelled document's figures (for finding the documents that score worst)."""

    stem: str
    source: str | None  # None when the output has no row for it
    status: str  # the row's status, or MISSING
    header: Counts
    lists: dict[str, Counts]


@dataclass
class EvalReport:
    """Everything `raxdoc eval` prints and writes; see the module docstring for the definitions."""

    schema: str  # the schema's class name
    items_field: str  # which list is "line items"
    header: dict[str, Counts]
    lists: dict[str, ListScore]
    documents: list[DocScore]
    missing: list[str]  # labelled stems with no output row (scored as all missed)
    unlabelled: list[str]  # output stems with no label (not scored)
    statuses: dict[str, int] = field(default_factory=dict)  # labelled documents by output status
    ignored_columns: list[str] = field(default_factory=list)  # label-file columns that name no field

    @property
    def header_accuracy(self) -> float | None:
        return total(self.header).accuracy

    @property
    def line_items(self) -> Counts:
        return self.lists[self.items_field].total

    @property
    def line_item_f1(self) -> float | None:
        return self.line_items.f1


def score_list(truth: list[dict], predicted: list[dict], into: ListScore) -> Counts:
    """Match one document's items and add their field counts to `into`; returns the doc's counts."""
    pairs = match_items(truth, predicted)
    doc = {name: Counts() for name in into.fields}
    paired_t, paired_p = {i for i, _ in pairs}, {j for _, j in pairs}
    compared = [(truth[i], predicted[j]) for i, j in pairs]
    compared += [(t, {}) for i, t in enumerate(truth) if i not in paired_t]
    compared += [({}, p) for j, p in enumerate(predicted) if j not in paired_p]
    for t, p in compared:
        for name, counts in doc.items():
            counts.add(t.get(name), p.get(name))
    for name, counts in doc.items():
        into.fields[name] += counts
    into.true_items += len(truth)
    into.predicted_items += len(predicted)
    into.matched_items += len(pairs)
    return total(doc)


def evaluate(output: str | Path, truth_dir: str | Path, *, schema=None) -> EvalReport:
    """Score `output` (a `raxdoc extract` folder) against the labels in `truth_dir`.

    `schema` is the class or "module:Class" the output was extracted with (default `Invoice`).
    Raises `EvalError` on usage errors (missing folder, no documents, unreadable labels) and
    `SchemaError` on a bad schema.
    """
    for what, name in (("OUTPUT", output), ("LABELS", truth_dir)):
        if not str(name).strip():  # "" is "." to the filesystem: never what was meant
            raise EvalError(f"{what} is empty (an unset variable?)")
    schema_cls = resolve_schema(schema)
    fields = scored_fields(schema_cls)
    header_names = [n for n, k in fields.items() if not is_item_list(k)]
    item_fields = {n: scored_fields(k.item.model) for n, k in fields.items() if is_item_list(k)}
    loaded = load_truth(truth_dir, schema_cls)
    predicted = load_output(output, schema_cls)
    truth = resolve_keys(loaded.labels, predicted)

    header = {name: Counts() for name in header_names}
    lists = {name: ListScore({f: Counts() for f in sub}) for name, sub in item_fields.items()}
    nothing = DocKeys({}, {})
    documents = []
    for stem, label in truth.items():
        row = predicted.get(stem)
        keys = row.keys if row is not None else nothing
        doc_header = Counts()
        for name in header_names:
            one = Counts()
            one.add(label.header.get(name), keys.header.get(name))
            header[name] += one
            doc_header += one
        doc_lists = {name: score_list(label.lists.get(name, []), keys.lists.get(name, []), lists[name])
                     for name in lists}
        documents.append(DocScore(printable(stem), row.source if row else None,
                                  (row.status or "") if row else MISSING, doc_header, doc_lists))
    return EvalReport(
        schema=schema_cls.__name__, items_field=items_field(schema_cls), header=header, lists=lists,
        documents=documents, missing=sorted(printable(s) for s in truth if s not in predicted),
        unlabelled=sorted(printable(s) for s in predicted if s not in truth),
        statuses=dict(Counter(d.status for d in documents)), ignored_columns=list(loaded.ignored),
    )


def resolve_keys(labels: dict[str, DocKeys], predicted: dict[str, OutputDoc]) -> dict[str, DocKeys]:
    """`labels` keyed by the output's stems: a label's key that is an output source's file name
    becomes that row's stem; any other key is a stem already (EvalError if two labels meet)."""
    by_name = {document_name(source_path(row.source)): stem for stem, row in predicted.items()}
    out: dict[str, DocKeys] = {}
    given: dict[str, str] = {}
    for key, keys in labels.items():
        stem = key if key in predicted else by_name.get(key, key)
        if stem in out:
            raise EvalError(f"two labels name one document: {printable(given[stem])!r} and {printable(key)!r} "
                            f"(both {printable(stem)!r}); keep one")
        out[stem], given[stem] = keys, key
    return out
