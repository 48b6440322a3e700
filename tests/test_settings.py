"""`raxdoc.settings`: the one reader of every `RAXDOC_*` switch, checked values, read at each call."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from raxdoc import settings
from raxdoc.settings import SettingError

PACKAGE = Path(__file__).resolve().parents[1] / "raxdoc"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in (settings.OPS_ENV, settings.DECODE_ATTENTION_ENV, settings.OVERLAP_DECODE_ENV,
                 settings.PREFILL_ATTENTION_ENV):
        monkeypatch.delenv(name, raising=False)


def test_defaults_when_unset():
    assert settings.ops_mode() == "auto" and not settings.reference_ops()
    assert settings.decode_attention() == "auto" and settings.prefill_attention() == "auto"
    assert settings.overlap_decode() is None


def test_values_are_read_at_each_call_and_normalised(monkeypatch):
    monkeypatch.setenv("RAXDOC_OPS", " Torch ")
    assert settings.ops_mode() == "torch" and settings.reference_ops()
    monkeypatch.setenv("RAXDOC_OPS", "fla")
    assert settings.ops_mode() == "fla" and not settings.reference_ops()
    monkeypatch.setenv("RAXDOC_DECODE_ATTENTION", "aten_flash")
    monkeypatch.setenv("RAXDOC_PREFILL_ATTENTION", "SDPA")
    assert (settings.decode_attention(), settings.prefill_attention()) == ("aten_flash", "sdpa")
    for value, want in (("on", True), ("1", True), ("off", False), ("no", False)):
        monkeypatch.setenv("RAXDOC_OVERLAP_DECODE", value)
        assert settings.overlap_decode() is want


@pytest.mark.parametrize("name, reader", [
    ("RAXDOC_OPS", settings.ops_mode),
    ("RAXDOC_DECODE_ATTENTION", settings.decode_attention),
    ("RAXDOC_PREFILL_ATTENTION", settings.prefill_attention),
    ("RAXDOC_OVERLAP_DECODE", settings.overlap_decode),
])
def test_unknown_values_are_errors_naming_the_switch(monkeypatch, name, reader):
    monkeypatch.setenv(name, "paged")
    with pytest.raises(SettingError, match=name):
        reader()


def _code_strings(path: Path) -> list[str]:
    """String constants of a module's code: docstrings left out, f-string parts included."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_module_but_settings_names_a_switch():
    """A `RAXDOC_*` name in code outside `settings.py` is a second reader (or a constant for one)."""
    offenders = {str(path.relative_to(PACKAGE.parent)): hits for path in sorted(PACKAGE.rglob("*.py"))
                 if path.name != "settings.py"
                 and (hits := [s for s in _code_strings(path) if "RAXDOC_" in s])}
    assert offenders == {}
    assert any("RAXDOC_OPS" in s for s in _code_strings(PACKAGE / "settings.py"))  # the scan sees them


def test_engine_config_reads_overlap_through_settings(monkeypatch):
    from raxdoc.engine import EngineConfig

    monkeypatch.setenv("RAXDOC_OVERLAP_DECODE", "off")
    assert EngineConfig().wants_overlap("cuda") is False
    monkeypatch.setenv("RAXDOC_OVERLAP_DECODE", "on")
    assert EngineConfig().wants_overlap("cpu") is True
    assert EngineConfig(overlap_decode=False).wants_overlap("cpu") is False  # the config wins
    monkeypatch.delenv("RAXDOC_OVERLAP_DECODE")
    assert EngineConfig().wants_overlap("cuda") is True and EngineConfig().wants_overlap("cpu") is False
