"""`raxdoc.extract` argument handling, without starting Ray (the dataset is a stand-in)."""

from pathlib import Path

import raxdoc
from raxdoc.pipeline import run


class _Dataset:
    def __init__(self, sources):
        self.sources = sources

    def iter_batches(self, **kw):
        return iter(())  # nothing comes back: every input must still get a ("lost") row


def test_path_objects_are_accepted_and_lost_inputs_get_rows(tmp_path, tiny_checkpoint, monkeypatch):
    built = {}
    monkeypatch.setattr(run, "init_ray", lambda address: False)
    monkeypatch.setattr(run, "build_dataset", lambda sources, *a: built.setdefault("ds", _Dataset(sources)))
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.pdf", "b.pdf"):
        (folder / name).write_bytes(b"%PDF-1.4\n")
    summary = raxdoc.extract(folder, tmp_path / "out", model=str(tiny_checkpoint), profile="cpu")
    assert [Path(s).name for s in built["ds"].sources] == ["a.pdf", "b.pdf"]
    assert (summary.documents, summary.error, summary.output) == (2, 2, str(tmp_path / "out"))
    from raxdoc.pipeline.store import OutputStore

    assert sorted(OutputStore(str(tmp_path / "out")).read().column("error_type").to_pylist()) == ["lost", "lost"]
