"""E-invoices through the stages and the driver end without Ray: auto / verify / off, the columns, the errors.

The model is stood in for by fixed text on each page row; the Ray run is test_einvoice_pipeline.py.
"""

from __future__ import annotations

import json
import logging
import types

import numpy as np
import pytest

from raxdoc.ingest.options import RenderOptions
from raxdoc.pipeline import run
from raxdoc.pipeline.collector import ResultCollector
from raxdoc.pipeline.engine_stage import EngineStage
from raxdoc.pipeline.finish import FinishSettings
from raxdoc.pipeline.ingest_stage import IngestStage
from raxdoc.pipeline.rows import RowKind, decode_batch, encode_batch
from raxdoc.pipeline.store import LINE_ITEMS, OutputStore
from raxdoc.schemas import Invoice
from raxdoc.schemas.rows import documents_arrow_schema, line_items_arrow_schema
from raxdoc.testing.einvoice_cii import with_bad_number, write_cii
from raxdoc.testing.invoices import generate_invoice

OPTIONS = RenderOptions(max_pixels=200 * 200, min_pixels=64 * 64)
SETTINGS = FinishSettings(schema=Invoice, constrained=True, model="tiny", prompt_version="page-v1")
MODEL_TEXT = json.dumps({"invoice_number": "NOT-IT", "line_items": [{"description": "Item 0", "amount": "12,50"}]})


def exact(row: dict) -> dict:
    """A documents row (or expected values) as comparable Invoice fields, items without page_index."""
    return Invoice.model_validate(row).model_dump(exclude={"line_items": {"__all__": {"page_index"}}})


def _run(folder, mode: str, texts: dict[str, str] | None = None) -> tuple[dict, list, ResultCollector]:
    """Every file of `folder` through ingest, the wire form, the driver and Parquet; {name: row}, items."""
    store = OutputStore(str(folder.parent / f"out-{folder.name}-{mode}"))
    sources = sorted(str(p) for p in folder.iterdir())
    collector = ResultCollector(store, SETTINGS, documents_arrow_schema(Invoice), line_items_arrow_schema(Invoice),
                                sources, write_every=100)
    for source in sources:
        rows = decode_batch(encode_batch(list(IngestStage(OPTIONS, einvoice=mode).rows(source))))
        for row in rows:
            if row.kind is RowKind.PAGE and not row.failed:  # the model's turn
                row.text = (texts or {}).get(f"{source.rsplit('/', 1)[-1]}:{row.page_index}", MODEL_TEXT)
                row.t_engine, row.pixels = 0.5, b""
        for row in decode_batch(encode_batch(rows)):
            collector.add(row)
    collector.close()
    docs = store.read().to_pylist()
    return {d["source"].rsplit("/", 1)[-1]: d for d in docs}, store.read(LINE_ITEMS).to_pylist(), collector


@pytest.fixture(scope="module")
def auto(einvoice_corpus):
    folder, _ = einvoice_corpus
    return _run(folder, "auto")


def test_auto_takes_the_xml_exactly_and_sends_no_page(auto, einvoice_corpus):
    docs, items, collector = auto
    _, expected = einvoice_corpus
    for name, syntax, profile, pages in (("facturx.pdf", "CII", "EN16931", 2), ("xrechnung.xml", "UBL", "XRECHNUNG", 1),
                                         ("credit_note.xml", "CII", "BASIC", 1)):
        row = docs[name]
        assert exact(row) == exact(expected[name]), name
        assert (row["extraction"], row["einvoice_syntax"], row["einvoice_profile"]) == ("einvoice", syntax, profile)
        assert (row["status"], row["page_count"], row["pages_ok"], row["failed_pages"]) == ("ok", pages, pages, [])
        assert row["engine_s"] == 0.0 and row["model"] is None and row["check_einvoice_agreement"] is None
        assert row["check_lines_sum_subtotal"] is True and row["check_subtotal_tax_total"] is True
        assert row["einvoice_credit_note"] is (name == "credit_note.xml")
    assert docs["credit_note.xml"]["total"] > 0  # as the XML states it; einvoice_credit_note says what it is
    # The exploded items are the XML's too, keyed (doc_id, page 0, position).
    fx = docs["facturx.pdf"]
    fx_items = [i for i in items if i["doc_id"] == fx["doc_id"]]
    assert [(i["page_index"], i["item_index"]) for i in fx_items] == [(0, n) for n in range(len(fx["line_items"]))]
    # Only the ordinary PDFs' pages were model pages.
    assert collector.counts["pages"] == docs["plain.pdf"]["page_count"] + docs["broken_attachment.pdf"]["page_count"]
    assert collector.counts["einvoice"] == 3 and collector.progress["pages_done"] == collector.progress["pages_total"]


def test_auto_sends_the_others_to_the_model_and_says_why_for_a_broken_attachment(auto):
    docs, _, _ = auto
    plain, broken = docs["plain.pdf"], docs["broken_attachment.pdf"]
    for row in (plain, broken):
        assert row["extraction"] == "model" and row["einvoice_syntax"] is None and row["engine_s"] > 0
        assert row["invoice_number"] == "NOT-IT"
    assert not any(i["kind"] == "einvoice_invalid" for i in plain["issues"])
    (why,) = [i for i in broken["issues"] if i["kind"] == "einvoice_invalid"]
    assert "factur-x.xml" in why["message"] and "malformed XML" in why["message"]
    bad = docs["malformed.xml"]
    assert (bad["status"], bad["error_type"], bad["extraction"]) == ("error", "einvoice_invalid", None)
    assert "GrandTotalAmount" in bad["error"]


def test_verify_keeps_the_xml_values_and_reports_where_the_model_differs(einvoice_corpus):
    folder, expected = einvoice_corpus
    want = expected["facturx.pdf"]
    model_says = {**want, "total": str(want["total"] + 1), "issue_date": str(want["issue_date"])}
    model_says = json.loads(json.dumps(model_says, default=str))
    docs, _, collector = _run(folder, "verify", {"facturx.pdf:0": json.dumps(model_says),
                                                 "facturx.pdf:1": '{"line_items": []}'})
    row = docs["facturx.pdf"]
    assert exact(row) == exact(want)
    assert row["extraction"] == "einvoice" and row["model"] == "tiny" and row["engine_s"] == pytest.approx(1.0)
    mismatches = {i["field"]: i["message"] for i in row["issues"] if i["kind"] == "einvoice_mismatch"}
    assert set(mismatches) == {"total"} and str(want["total"]) in mismatches["total"]
    assert row["check_einvoice_disagreed"] == 1 and row["check_einvoice_agreed"] > 50
    assert 0.9 < row["check_einvoice_agreement"] < 1
    # An XML file has no pages to verify: taken as in auto. The run's figure pools the verified documents.
    assert docs["xrechnung.xml"]["check_einvoice_agreement"] is None
    assert collector.counts["einvoice_verified"] == 1 and collector.counts["einvoice"] == 3
    assert collector.counts["einvoice_agreed"] == row["check_einvoice_agreed"]
    assert collector.counts["einvoice_compared"] == row["check_einvoice_agreed"] + 1


def test_off_ignores_the_xml(einvoice_corpus):
    folder, _ = einvoice_corpus
    docs, _, collector = _run(folder, "off")
    assert docs["facturx.pdf"]["extraction"] == "model" and docs["facturx.pdf"]["invoice_number"] == "NOT-IT"
    for name in ("xrechnung.xml", "credit_note.xml", "malformed.xml"):
        assert (docs[name]["status"], docs[name]["error_type"]) == ("error", "unsupported_format"), name
    assert not any(i["kind"] == "einvoice_invalid" for i in docs["broken_attachment.pdf"]["issues"])
    assert collector.counts["einvoice"] == 0


def test_totals_that_do_not_add_up_are_reported_by_the_checks(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sample = write_cii(generate_invoice(3).truth, "EN16931")
    (folder / "wrong.xml").write_bytes(with_bad_number(sample.xml, "GrandTotalAmount", "1.00"))
    docs, _, _ = _run(folder, "auto")
    row = docs["wrong.xml"]
    assert row["extraction"] == "einvoice" and str(row["total"]) == "1.000000"
    assert (row["status"], row["error_type"], row["check_subtotal_tax_total"]) == ("partial", "check_failed", False)


def test_einvoice_rows_pass_the_engine_stage_untouched(einvoice_corpus):
    from raxdoc.engine.loop import EngineLoop
    from tests.pipeline.fake_engine import FakeEngine

    folder, _ = einvoice_corpus
    rows = [*IngestStage(OPTIONS, einvoice="auto").rows(str(folder / "xrechnung.xml")),
            *IngestStage(OPTIONS, einvoice="verify").rows(str(folder / "facturx.pdf"))]
    stage = EngineStage.__new__(EngineStage)
    engine = FakeEngine()
    stage.engine, stage.instruction, stage.grammar, stage.params = engine, "x", None, None
    stage.processor = lambda text, images: types.SimpleNamespace(input_ids=np.array([1, 2]), pixel_values=None,
                                                                 image_grid_thw=None)
    stage.loop = EngineLoop(engine)
    out = decode_batch(stage(encode_batch(rows)))
    stage.close()
    assert [r.kind for r in out] == [RowKind.EINVOICE, RowKind.PAGE, RowKind.PAGE]
    assert out[0].einvoice == rows[0].einvoice and out[1].einvoice == rows[1].einvoice is not None
    assert out[2].einvoice is None and len(engine.prompts) == 2


def test_a_custom_schema_does_not_look_for_einvoices(tmp_path, tiny_checkpoint, monkeypatch, caplog):
    seen = {}

    class NoBatches:
        def iter_batches(self, **kw):
            return iter(())

    def build(*args):
        seen["einvoice"] = args[-1]
        return NoBatches()

    monkeypatch.setattr(run, "init_ray", lambda address: False)
    monkeypatch.setattr(run, "build_dataset", build)
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n")
    with caplog.at_level(logging.WARNING, logger="raxdoc"):
        run.extract([str(tmp_path / "a.pdf")], str(tmp_path / "out"), model=str(tiny_checkpoint), profile="cpu",
                    schema="tests.schemas.sample_schema:Receipt")
    assert seen["einvoice"] == "off" and "not looked for" in caplog.text
    with pytest.raises(ValueError, match="einvoice must be one of"):
        run.extract([str(tmp_path / "a.pdf")], str(tmp_path / "out"), model=str(tiny_checkpoint), profile="cpu",
                    einvoice="maybe")
