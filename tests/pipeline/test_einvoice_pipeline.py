"""E-invoices end to end on a local Ray with the tiny random model: a folder mixing a Factur-X PDF,
UBL and CII XML files, ordinary PDFs and broken inputs, in auto (the API) and verify (the CLI) modes.

Two runs only (each costs tens of seconds on 2 cores); `off` and the finer rules are covered without
Ray in test_einvoice_stages.py.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import raxdoc
from raxdoc.cli import app
from raxdoc.profiles import resolve_profile
from tests.pipeline.test_einvoice_stages import exact

PROFILE = resolve_profile("cpu", max_num_seqs=4, max_new_tokens=48, max_pixels=320 * 320, max_model_len=1024)
EINVOICES = ("facturx.pdf", "xrechnung.xml", "credit_note.xml")
MODEL_ROUTE = ("plain.pdf", "broken_attachment.pdf")


def _rows(out) -> dict[str, dict]:
    return {d["source"].rsplit("/", 1)[-1]: d for d in pq.read_table(out / "documents").to_pylist()}


@pytest.fixture(scope="module")
def auto(einvoice_corpus, tiny_checkpoint, tmp_path_factory):
    folder, _ = einvoice_corpus
    out = tmp_path_factory.mktemp("einvoice-auto")
    summary = raxdoc.extract([str(folder)], str(out), model=str(tiny_checkpoint), profile=PROFILE)
    return summary, _rows(out)


@pytest.fixture(scope="module")
def verify(einvoice_corpus, tiny_checkpoint, tmp_path_factory):
    folder, _ = einvoice_corpus
    out = tmp_path_factory.mktemp("einvoice-verify")
    result = CliRunner().invoke(app, ["extract", str(folder), "-o", str(out), "--model", str(tiny_checkpoint),
                                      "--profile", "cpu", "--max-num-seqs", "4", "--max-new-tokens", "48",
                                      "--max-pixels", str(320 * 320), "--einvoice", "verify", "-q"])
    return result, _rows(out)


def test_auto_einvoices_are_exact_with_no_engine_time_and_the_rest_go_to_the_model(auto, einvoice_corpus):
    summary, docs = auto
    _, expected = einvoice_corpus
    assert set(docs) == set(expected) and summary.documents == len(expected)
    for name in EINVOICES:
        row = docs[name]
        assert exact(row) == exact(expected[name]), name
        assert (row["extraction"], row["status"], row["engine_s"]) == ("einvoice", "ok", 0.0), name
    for name in MODEL_ROUTE:
        row = docs[name]
        assert row["extraction"] == "model" and row["engine_s"] > 0, name
        assert row["pages_ok"] + len(row["failed_pages"]) == row["page_count"] == 1
    assert any(i["kind"] == "einvoice_invalid" for i in docs["broken_attachment.pdf"]["issues"])
    assert (docs["malformed.xml"]["status"], docs["malformed.xml"]["error_type"]) == ("error", "einvoice_invalid")
    # Only the two ordinary PDFs' pages reached the engine.
    assert summary.pages == 2 and summary.einvoice_documents == 3 and summary.einvoice_agreement is None


def test_verify_keeps_exact_values_reports_the_random_model_and_prints_the_figure(verify, einvoice_corpus):
    result, docs = verify
    _, expected = einvoice_corpus
    assert result.exit_code == 1, result.output  # malformed.xml is an error row: "look"
    row = docs["facturx.pdf"]
    assert exact(row) == exact(expected["facturx.pdf"])
    assert row["extraction"] == "einvoice" and row["status"] == "ok" and row["engine_s"] > 0
    # A random model reads next to nothing right: its disagreements are issues and the check says how far.
    assert any(i["kind"] == "einvoice_mismatch" for i in row["issues"])
    assert row["check_einvoice_disagreed"] > 0 and 0 <= row["check_einvoice_agreement"] < 1
    assert docs["xrechnung.xml"]["extraction"] == "einvoice" and docs["xrechnung.xml"]["engine_s"] == 0.0
    text = " ".join(result.output.split())
    assert "documents from e-invoice XML" in text and "model agrees with e-invoices" in text
    total = row["check_einvoice_agreed"] + row["check_einvoice_disagreed"]
    assert f"of {total} values (1 document)" in text
