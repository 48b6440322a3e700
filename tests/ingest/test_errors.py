"""Typed errors: stable names, fields kept through pickling (Ray ships them between processes)."""

from __future__ import annotations

import pickle

import pytest

from raxdoc import errors
from raxdoc.errors import ERROR_TYPES, PageError, PageTooLarge, RaxdocError


def test_every_error_type_is_unique_and_registered():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, RaxdocError)]
    assert len(classes) == len(ERROR_TYPES) >= 9
    assert {c.error_type for c in classes} == set(ERROR_TYPES)
    assert all(ERROR_TYPES[c.error_type] is c for c in classes)


@pytest.mark.parametrize("cls", [c for c in ERROR_TYPES.values() if not issubclass(c, PageError)])
def test_document_errors_pickle_with_their_fields(cls):
    err = pickle.loads(pickle.dumps(cls("s3://b/inv.pdf", "it broke")))
    assert type(err) is cls and err.source == "s3://b/inv.pdf" and err.message == "it broke"
    assert str(err) == "s3://b/inv.pdf: it broke"


@pytest.mark.parametrize("cls", [PageError, PageTooLarge])
def test_page_errors_keep_their_page_index(cls):
    err = pickle.loads(pickle.dumps(cls("inv.pdf", "bad page", 7)))
    assert type(err) is cls and err.page_index == 7 and err.message == "bad page"
    assert str(err) == "inv.pdf page 7: bad page" and "page_index=7" in repr(err)


def test_errors_become_row_records():
    from raxdoc.errors import EncryptedDocument

    assert EncryptedDocument("a.pdf", "needs a password").to_record() == {
        "source": "a.pdf",
        "error_type": "encrypted_document",
        "error": "needs a password",
    }
    assert PageTooLarge("a.pdf", "too big", 3).to_record() == {
        "source": "a.pdf",
        "error_type": "page_too_large",
        "error": "too big",
        "page_index": 3,
    }
