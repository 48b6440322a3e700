"""`StageRow` and its wire form: None survives the trip through Ray's Arrow blocks and numpy batches."""

import math

import numpy as np
import pyarrow as pa
import pytest
from ray.data.block import BlockAccessor

from raxdoc.errors import EmptyDocument
from raxdoc.pipeline.rows import (
    SOURCE_ID_PREFIX, RowKind, StageRow, decode_batch, doc_error_row, encode_batch, from_wire, page_words, source_id,
    to_wire,
)


def _through_ray(columns_or_rows):
    """What the next stage receives: an Arrow block handed over as a numpy batch by Ray's own code."""
    table = (pa.Table.from_pylist(columns_or_rows) if isinstance(columns_or_rows, list)
             else pa.Table.from_pydict(columns_or_rows))
    return BlockAccessor.for_block(table).to_batch_format("numpy")


def _rows():
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    page = StageRow("d", "/in/a.pdf", RowKind.PAGE, page_index=0, page_count=2, file_page_count=5,
                    pixels=pixels.tobytes(), height=2, width=3, dpi=200.0, page_kind="digital",
                    words=((0.1, 0.2, 0.3, 0.25, "Total"), (0.5, 0.2, 0.6, 0.25, "1 234,56 €")),
                    meta={"format": "pdf", "repaired": False}, t_ingest=0.25)
    failed_page = StageRow("d", "/in/a.pdf", RowKind.PAGE, page_index=1, page_count=2, file_page_count=5,
                           error_type="page_too_large", error="over the limit")
    doc_error = doc_error_row("e", "/in/e.pdf", EmptyDocument("/in/e.pdf", "file is empty (0 bytes)"))
    skipped = StageRow("f", "/in/f.pdf", RowKind.SKIPPED)
    return [page, failed_page, doc_error, skipped]


def test_every_kind_round_trips_through_rays_batches_unchanged():
    rows = _rows()
    back = decode_batch(_through_ray(encode_batch(rows)))
    assert back == rows
    page, failed_page, doc_error, skipped = back
    assert page.page_kind == "digital" and page.error_type is None and page.text is None and not page.failed
    assert page.image().shape == (2, 3, 3) and page.image()[1, 2, 2] == 17
    assert failed_page.failed and failed_page.dpi is None and failed_page.meta == {}
    assert (doc_error.kind, doc_error.page_index, doc_error.error_type) == (RowKind.DOC_ERROR, None, "empty_document")
    assert skipped.kind is RowKind.SKIPPED and skipped.page_index is None


def test_wire_form_has_one_schema_and_no_nulls():
    wires = [to_wire(r) for r in _rows()]
    assert len({tuple(w) for w in wires}) == 1  # every row the same columns, in the same order
    assert all(v is not None for w in wires for v in w.values())
    # One Arrow schema for every kind: blocks of pages and blocks of errors concatenate.
    schemas = {pa.Table.from_pylist([w]).schema for w in wires}
    assert len(schemas) == 1, schemas
    assert [w["page_index"] for w in wires] == [0, 1, -1, -1]
    assert wires[0]["error_type"] == "" and wires[2]["kind"] == "doc_error"


def test_null_columns_that_arrive_as_nan_decode_to_none():
    # A column of nulls (an older producer, or a hand-made batch) reaches a stage as float NaN in
    # Ray's numpy batches; NaN is truthy and used to make every page of a good batch look failed.
    batch = _through_ray({"doc_id": ["d", "d"], "source": ["s", "s"], "kind": ["page", "page"],
                          "page_index": [0, 1], "error_type": [None, None], "error": [None, None],
                          "text": [None, "{}"], "dpi": [None, None], "t_engine": [None, 0.5]})
    assert batch["error_type"].dtype.kind == "f" and math.isnan(batch["error_type"][0])  # what Ray gives
    rows = decode_batch(batch)
    assert [(r.error_type, r.error, r.failed) for r in rows] == [(None, None, False)] * 2
    assert [r.text for r in rows] == [None, "{}"] and [r.t_engine for r in rows] == [0.0, 0.5]
    assert rows[0].dpi is None and rows[0].pixels == b""


def test_numpy_scalars_become_python_values():
    row = from_wire({"doc_id": np.str_("d"), "source": np.str_("s"), "kind": np.str_("page"),
                     "page_index": np.int64(3), "page_count": np.int64(4), "height": np.int32(2),
                     "t_ingest": np.float32(0.5), "pixels": np.bytes_(b"xyz")})
    assert (row.page_index, row.page_count, row.height, row.pixels) == (3, 4, 2, b"xyz")
    assert type(row.doc_id) is str and type(row.page_index) is int and type(row.t_ingest) is float


def test_an_empty_batch_keeps_its_columns():
    assert set(encode_batch([])) == set(to_wire(StageRow("d", "s")))
    assert decode_batch(encode_batch([])) == []


def test_source_ids_are_marked_and_stable():
    assert source_id("/in/x.pdf") == source_id("/in/x.pdf") != source_id("/in/y.pdf")
    assert source_id("/in/x.pdf").startswith(SOURCE_ID_PREFIX)


@pytest.mark.parametrize("exc, expected", [
    (EmptyDocument("/in/e.pdf", "no pages"), ("empty_document", "no pages")),
    (KeyError("bug"), ("internal:KeyError", "'bug'")),
])
def test_failures_keep_their_type_or_name_the_bug(exc, expected):
    row = StageRow("d", "s", page_index=0)
    row.fail(exc)
    assert (row.error_type, row.error) == expected and row.failed


def test_words_travel_as_one_string_and_pages_without_a_text_layer_as_an_empty_one():
    page, failed_page, *_ = _rows()
    wires = [to_wire(page), to_wire(failed_page)]
    assert isinstance(wires[0]["words"], str) and wires[1]["words"] == ""
    back = decode_batch(_through_ray(wires))
    assert back[0].words == page.words and back[1].words == ()


def test_page_words_are_normalised_to_the_page_and_clamped():
    words = [(100.0, 50.0, 300.0, 75.0, "Total"), (-2.0, 990.0, 1001.0, 1010.0, "edge")]
    assert page_words(words, 1000, 1000) == ((0.1, 0.05, 0.3, 0.075, "Total"), (0.0, 0.99, 1.0, 1.0, "edge"))
    assert page_words([], 1000, 1000) == () and page_words(words, 0, 0) == ()
