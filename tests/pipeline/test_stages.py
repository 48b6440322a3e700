"""The Ray stages as plain callables: rows survive Ray's Arrow/numpy batches, and no input raises."""

import types

import numpy as np
import pyarrow as pa
import pymupdf
import pytest
from ray.data.block import BlockAccessor

from raxdoc.engine import SamplingParams
from raxdoc.engine.loop import EngineLoop
from raxdoc.ingest.options import RenderOptions
from raxdoc.pipeline.engine_stage import EngineStage
from raxdoc.pipeline.ingest_stage import IngestStage
from raxdoc.pipeline.rows import RowKind, decode_batch, from_wire, source_id
from tests.pipeline.fake_engine import FakeEngine

OPTIONS = RenderOptions(max_pixels=200 * 200, min_pixels=64 * 64)


def _pdf(tmp_path, name="a.pdf", pages=2):
    doc = pymupdf.open()
    for p in range(pages):
        doc.new_page(width=200, height=300).insert_text((20, 40), f"INVOICE {p}")
    path = tmp_path / name
    path.write_bytes(doc.tobytes())
    return str(path)


def _through_ray(rows):
    """What the next stage receives: rows (wire dicts, or a stage's column batch) as an Arrow block,
    handed over as a numpy batch by Ray's own code."""
    table = pa.Table.from_pydict(rows) if isinstance(rows, dict) else pa.Table.from_pylist(rows)
    return BlockAccessor.for_block(table).to_batch_format("numpy")


def _engine_stage(engine):
    stage = EngineStage.__new__(EngineStage)  # no model: the fake engine stands in for it
    stage.engine, stage.instruction, stage.grammar = engine, "extract", None
    stage.params = SamplingParams(max_new_tokens=4, temperature=0.0)
    stage.processor = lambda text, images: types.SimpleNamespace(
        input_ids=np.array([1, 2, 3]), pixel_values=np.zeros((4, 8)), image_grid_thw=np.array([[1, 2, 2]]))
    stage.loop = EngineLoop(engine)
    return stage


def test_error_free_pages_reach_the_engine_after_rays_batching(tmp_path):
    # All-null error columns used to arrive as float NaN (truthy): every page looked failed.
    rows = list(IngestStage(OPTIONS)({"source": _pdf(tmp_path)}))
    engine = FakeEngine()
    stage = _engine_stage(engine)
    out = decode_batch(_through_ray(stage(_through_ray(rows))))
    stage.close()
    assert len(engine.prompts) == 2 and engine.closed
    assert [(r.page_index, r.error_type, r.text) for r in out] == [(0, None, "page 1"), (1, None, "page 1")]


def test_page_words_are_normalised_at_ingest_and_survive_the_engine_stage(tmp_path):
    rows = list(IngestStage(OPTIONS)({"source": _pdf(tmp_path)}))
    stage = _engine_stage(FakeEngine())
    out = decode_batch(_through_ray(stage(_through_ray(rows))))
    stage.close()
    assert [[w[4] for w in r.words] for r in out] == [["INVOICE", "0"], ["INVOICE", "1"]]
    x0, y0, x1, y1, _ = out[0].words[0]
    # "INVOICE" on the baseline y = 40 pt of a 200 x 300 pt page, from x = 20 pt: a tenth across.
    assert 0.09 < x0 < 0.11 < x1 < 0.6 and 0.09 < y0 < y1 < 0.16 and out[0].pixels == b""


def test_engine_that_raises_fails_its_rows_not_the_batch(tmp_path):
    rows = list(IngestStage(OPTIONS)({"source": _pdf(tmp_path, pages=3)}))
    engine = FakeEngine(max_num_seqs=4)
    engine.fail_steps = set(range(10))  # every step raises, whichever pages it holds
    stage = _engine_stage(engine)
    out = decode_batch(stage(_through_ray(rows)))
    stage.close()
    assert [r.error_type for r in out] == ["engine_error"] * 3
    assert all("TypeError" in r.error and r.pixels == b"" for r in out)


def test_rows_that_are_not_pages_or_already_failed_pass_the_engine_untouched(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"")
    rows = [*IngestStage(OPTIONS)({"source": str(bad)}), *IngestStage(OPTIONS)({"source": _pdf(tmp_path)})]
    engine = FakeEngine()
    stage = _engine_stage(engine)
    out = decode_batch(stage(_through_ray(rows)))
    stage.close()
    assert [(r.kind, r.error_type, r.text) for r in out] == [
        (RowKind.DOC_ERROR, "empty_document", None), (RowKind.PAGE, None, "page 1"), (RowKind.PAGE, None, "page 1")]
    assert len(engine.prompts) == 2


def test_unexpected_read_and_render_errors_become_rows(tmp_path, monkeypatch):
    import raxdoc.ingest.sources as sources

    path = _pdf(tmp_path, pages=3)

    def boom(ref):
        raise KeyError("driver bug")  # not an OSError: read_source_bytes lets it through

    monkeypatch.setattr(sources, "read_source_bytes", boom)
    (row,) = map(from_wire, IngestStage(OPTIONS)({"source": path}))
    assert (row.doc_id, row.kind, row.error_type) == (source_id(path), RowKind.DOC_ERROR, "internal:KeyError")
    monkeypatch.undo()

    from raxdoc.ingest.document import Document

    real_page = Document.page

    def flaky(self, index):
        if index == 1:
            raise MemoryError("renderer ran out")
        return real_page(self, index)

    monkeypatch.setattr(Document, "page", flaky)
    rows = list(IngestStage(OPTIONS).rows(path))
    assert [(r.page_index, r.error_type) for r in rows] == [(0, None), (1, "internal:MemoryError"), (2, None)]
    assert rows[0].page_count == 3 and rows[0].image().shape == (rows[0].height, rows[0].width, 3)


def test_pages_are_yielded_as_they_are_rendered(tmp_path, monkeypatch):
    # A long document's pixels must not all be held at once: the first page comes out before the
    # second is rendered.
    from raxdoc.ingest.document import Document

    rendered = []
    real_page = Document.page
    monkeypatch.setattr(Document, "page", lambda self, i: rendered.append(i) or real_page(self, i))
    rows = IngestStage(OPTIONS)({"source": _pdf(tmp_path, pages=3)})
    first = from_wire(next(rows))
    assert first.page_index == 0 and rendered == [0] and first.t_ingest > 0
    assert [from_wire(r).page_index for r in rows] == [1, 2] and rendered == [0, 1, 2]


@pytest.mark.parametrize("data, error_type", [(b"", "empty_document"), (b"%PDF-1.4\nnonsense", None)])
def test_bad_bytes_are_one_typed_row(tmp_path, data, error_type):
    path = tmp_path / "bad.pdf"
    path.write_bytes(data)
    rows = list(IngestStage(OPTIONS).rows(str(path)))
    assert len(rows) == 1 and rows[0].kind is RowKind.DOC_ERROR and rows[0].error_type
    if error_type:
        assert rows[0].error_type == error_type


def test_a_document_a_previous_run_wrote_is_one_skip_row(tmp_path):
    from raxdoc.ingest.document import content_id

    path = _pdf(tmp_path)
    with open(path, "rb") as f:
        done = content_id(f.read())
    (row,) = IngestStage(OPTIONS, done_ids=[done]).rows(path)
    assert (row.kind, row.doc_id, row.page_index) == (RowKind.SKIPPED, done, None)


def test_the_bytes_are_hashed_once_per_document(tmp_path, monkeypatch):
    import hashlib

    path = _pdf(tmp_path, pages=2)
    with open(path, "rb") as f:
        data = f.read()
    hashed, real = [], hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda b=b"", **kw: hashed.append(bytes(b) == data) or real(b, **kw))
    rows = list(IngestStage(OPTIONS).rows(path))
    assert [r.page_index for r in rows] == [0, 1] and rows[0].doc_id == real(data).hexdigest()
    assert hashed.count(True) == 1, hashed


def test_render_options_size_pages_to_the_profile():
    from raxdoc.pipeline.ingest_stage import render_options
    from raxdoc.profiles import resolve_profile

    profile = resolve_profile("cpu", max_pixels=300 * 300, min_pixels=64 * 64)
    options = render_options(profile, max_pages=2)
    assert (options.max_pixels, options.min_pixels, options.max_pages) == (300 * 300, 64 * 64, 2)
    assert render_options(profile, dpi=72.0).dpi == 72.0 and render_options(profile).dpi > 0
