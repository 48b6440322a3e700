"""A document's id is computed once: `content_id` of its bytes, or the id the caller already has."""

import hashlib

import raxdoc.ingest.document as document
from raxdoc.ingest import read_document
from raxdoc.ingest.document import content_id


def test_content_id_is_the_sha256_of_the_bytes(build):
    data = build.text_pdf(["Invoice 7"])
    assert content_id(data) == hashlib.sha256(data).hexdigest() != content_id(data + b"\n")
    assert read_document(data).doc_id == content_id(data)


def test_a_given_doc_id_is_used_and_the_bytes_are_not_hashed_again(build, monkeypatch):
    data = build.text_pdf(["Invoice 7"])
    known = content_id(data)

    def no_hash(_data):
        raise AssertionError("read_document hashed bytes whose id it was given")

    monkeypatch.setattr(document, "content_id", no_hash)
    monkeypatch.setattr(hashlib, "sha256", no_hash)
    with read_document(data, doc_id=known) as doc:
        assert doc.doc_id == known and doc.page_count == 1
