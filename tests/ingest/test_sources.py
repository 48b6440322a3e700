"""Sources: directories, globs, fsspec URLs, missing paths; stable order, no duplicates; doc_id."""

from __future__ import annotations

import hashlib
import uuid

import fsspec
import pytest

from raxdoc.errors import SourceNotFound, SourceUnreadable
from raxdoc.ingest import SourceRef, iter_sources, read_document


@pytest.fixture
def tree(tmp_path, build):
    pdf = build.text_pdf(["x"], width=50, height=50)
    for rel in ["b.pdf", "a.PDF", "sub/c.pdf", "sub/deeper/d.png", ".hidden.pdf", ".git/e.pdf", "notes.txt"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pdf if rel.lower().endswith("pdf") else b"not a document")
    return tmp_path


def test_directory_is_walked_recursively_sorted_and_skips_hidden(tree):
    refs = list(iter_sources(tree))
    rel = [r.url[len(str(tree)) + 1 :] for r in refs]
    assert rel == ["a.PDF", "b.pdf", "notes.txt", "sub/c.pdf", "sub/deeper/d.png"]
    assert all(r.error is None for r in refs)


def test_hidden_file_named_explicitly_is_kept(tree):
    [ref] = iter_sources(tree / ".hidden.pdf")
    assert ref.error is None and ref.url.endswith(".hidden.pdf")


def test_glob_and_duplicates(tree):
    refs = list(iter_sources([str(tree / "**" / "*.pdf"), tree / "b.pdf", str(tree / "sub" / ".." / "b.pdf")]))
    rel = [r.url[len(str(tree)) + 1 :] for r in refs]
    assert rel == ["b.pdf", "sub/c.pdf"]  # case-sensitive glob; b.pdf once; hidden skipped


def test_missing_path_and_empty_glob_are_error_refs_not_crashes(tree):
    refs = list(iter_sources([tree / "nope.pdf", str(tree / "*.tiff"), tree / "b.pdf"]))
    errors = {type(r.error) for r in refs if r.error is not None}
    assert errors == {SourceNotFound} and len(refs) == 3
    missing = next(r for r in refs if r.url.endswith("nope.pdf"))
    with pytest.raises(SourceNotFound) as info:
        read_document(missing)
    assert info.value.error_type == "source_not_found"


def test_order_is_stable_whatever_the_input_order(tree):
    inputs = [tree / "sub", tree / "b.pdf", tree / "a.PDF"]
    assert list(iter_sources(inputs)) == list(iter_sources(reversed(inputs)))


def test_memory_url_directory_and_glob(build):
    root = f"memory://raxdoc-{uuid.uuid4().hex}"
    fs = fsspec.filesystem("memory")
    pdf = build.text_pdf(["remote"], width=200, height=100)
    fs.pipe(f"{root}/2024/inv-2.pdf", pdf)
    fs.pipe(f"{root}/2024/inv-1.pdf", pdf)
    fs.pipe(f"{root}/2023/old.pdf", pdf)
    urls = [r.url for r in iter_sources(root)]
    assert urls == [f"memory:///{root[9:]}/{p}" for p in ["2023/old.pdf", "2024/inv-1.pdf", "2024/inv-2.pdf"]]
    assert [r.url for r in iter_sources(f"{root}/2024/*.pdf")] == urls[1:]
    doc = read_document(SourceRef(urls[1]))
    assert doc.source == urls[1] and doc.doc_id == hashlib.sha256(pdf).hexdigest()
    assert doc.page(0).words[0].text == "remote"


def test_unknown_protocol_is_an_unreadable_ref():
    [ref] = iter_sources("nosuchproto://bucket/x.pdf")
    assert isinstance(ref.error, SourceUnreadable)
    with pytest.raises(SourceUnreadable):
        read_document(ref)


def test_reading_a_directory_directly_is_a_typed_error(tree):
    with pytest.raises(SourceUnreadable, match="directory"):
        read_document(tree / "sub")


def test_doc_id_is_sha256_of_the_bytes_wherever_they_come_from(tree):
    data = (tree / "b.pdf").read_bytes()
    expected = hashlib.sha256(data).hexdigest()
    assert read_document(tree / "b.pdf").doc_id == expected
    assert read_document(str(tree / "a.PDF")).doc_id == expected  # same bytes, same id
    assert read_document(data).doc_id == expected
    assert read_document(f"file://{tree / 'b.pdf'}").source == str(tree / "b.pdf")


def test_refs_pickle_with_their_errors_and_documents_do_not(tree):
    import pickle

    refs = list(iter_sources([tree / "b.pdf", tree / "missing.pdf"]))
    back = pickle.loads(pickle.dumps(refs))
    assert back == refs and isinstance(back[1].error, SourceNotFound) and back[1].error.source == refs[1].error.source
    with read_document(back[0]) as doc:
        with pytest.raises(TypeError, match="SourceRef"):
            pickle.dumps(doc)


def test_home_directory_is_expanded(tree, monkeypatch):
    monkeypatch.setenv("HOME", str(tree))
    assert [r.url for r in iter_sources("~/sub/c.pdf")] == [str(tree / "sub" / "c.pdf")]
    assert read_document("~/b.pdf").source == str(tree / "b.pdf")
