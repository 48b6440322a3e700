"""Ops tests start from the default dispatch mode, whatever the shell set."""

import pytest


@pytest.fixture(autouse=True)
def _auto_backend(monkeypatch):
    """Each test starts from the default dispatch mode, whatever the shell set."""
    monkeypatch.delenv("RAXDOC_OPS", raising=False)
