"""The package's layout rules, checked on the source: layers import only what DESIGN.md allows,
every module says what it holds, files stay small, and a plain install imports every module.

Imports are read with `ast` (lazy ones inside functions included), so a rule cannot be dodged
by importing late.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "raxdoc"
MAX_LINES = 300

# Packages a layer must never import (prefix match on the dotted name), whatever the depth.
FORBIDDEN = {
    "raxdoc.model": ("raxdoc.engine", "raxdoc.pipeline", "raxdoc.ingest", "raxdoc.postprocess", "raxdoc.schemas",
                     "raxdoc.profiles", "ray", "pymupdf", "fitz"),
    "raxdoc.engine": ("raxdoc.pipeline", "raxdoc.ingest", "raxdoc.postprocess", "ray", "pymupdf", "fitz"),
    "raxdoc.schemas": ("torch", "raxdoc.model", "raxdoc.engine", "raxdoc.pipeline", "raxdoc.ingest",
                       "raxdoc.postprocess", "ray"),
    "raxdoc.postprocess": ("torch", "raxdoc.model", "raxdoc.engine", "raxdoc.pipeline", "raxdoc.ingest", "ray"),
    "raxdoc.ingest": ("torch", "raxdoc.model", "raxdoc.engine", "raxdoc.pipeline", "raxdoc.postprocess", "ray"),
    "raxdoc.eval": ("torch", "raxdoc.model", "raxdoc.engine", "raxdoc.pipeline", "raxdoc.ingest", "ray"),
    "raxdoc.settings": ("raxdoc.", "torch", "ray"),
    "raxdoc.errors": ("raxdoc.", "torch", "ray"),
}
# Test and benchmark code, and the test-only dependencies: nothing the product runs may import them.
# One exception: `raxdoc bench` is the thin entry into bench/ of a source checkout (cli.py says so).
ALLOWED = {"raxdoc.cli": ("bench.engine_run",),
           # The transformers reader (other model families): transformers is its `readers` extra, lazily imported.
           **{m: ("transformers",) for m in ("raxdoc.engine.hf_loading", "raxdoc.engine.hf_reader",
                                             "raxdoc.model.hf_checks")}}
TEST_ONLY = ("raxdoc.testing", "bench", "tests", "transformers", "pytest", "hypothesis", "pandas", "polars",
             "duckdb", "pypdfium2", "facturx")


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path))
    return out


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _hits(imported: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(i for i in imported for p in prefixes
                  if i == p.rstrip(".") or i.startswith(p if p.endswith(".") else p + "."))


MODULES = _modules()


def test_the_rules_see_the_package():
    names = {n for n, _ in MODULES}
    assert {"raxdoc.model.rax", "raxdoc.engine.engine", "raxdoc.pipeline.run", "raxdoc.settings"} <= names


@pytest.mark.parametrize("name,path", MODULES, ids=[n for n, _ in MODULES])
def test_layer_imports(name, path):
    imported = _imports(path)
    for layer, banned in FORBIDDEN.items():
        if name == layer or name.startswith(layer + "."):
            assert not _hits(imported, banned), f"{name} imports {_hits(imported, banned)}"
    if not (name == "raxdoc.testing" or name.startswith("raxdoc.testing.")):
        hits = [h for h in _hits(imported, TEST_ONLY) if not h.startswith(ALLOWED.get(name, ("\0",)))]
        assert not hits, f"{name} imports test-only {hits}"


@pytest.mark.parametrize("name,path", MODULES, ids=[n for n, _ in MODULES])
def test_module_is_small_and_says_what_it_holds(name, path):
    text = path.read_text()
    lines = text.count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES})"
    doc = ast.get_docstring(ast.parse(text))
    if path.name != "__main__.py":
        assert doc and len(doc.split()) >= 5, f"{path.relative_to(ROOT)} needs a docstring saying what it holds"


def test_every_module_imports_without_test_dependencies():
    """What `pip install .` (no test extra) gives: transformers and the test tools absent, no GPU
    packages; every module must still import (transformers-only code imports it when called).
    CI also runs the same script in a venv holding only a plain install."""
    blocked = ["transformers", "pytest", "hypothesis", "pandas", "polars", "duckdb", "pypdfium2", "fla",
               "flash_attn", "triton", "bench", "facturx", "rapidocr"]
    out = subprocess.run([sys.executable, str(ROOT / ".ci" / "plain_install_check.py"), *blocked],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    # Every module but raxdoc itself and __main__ (importing it runs the CLI).
    assert out.stdout.split()[0] == str(len(MODULES) - 2), out.stdout


def test_ci_runs_the_plain_install_check():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q ." in ci and "plain_install_check.py" in ci
