"""bench/provenance.py is the one place a benchmark takes its commit and writes its JSON."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from bench import provenance

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _head(*args):
    try:
        return subprocess.run(["git", "rev-parse", *args, "HEAD"], capture_output=True, text=True, check=True,
                              cwd=BENCH).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")


def test_commit_short_full_and_dirty():
    assert provenance.git_commit() == _head("--short")
    assert provenance.git_commit(short=False) == _head()
    with_flag = provenance.git_commit(short=False, dirty=("raxdoc", "bench"))
    assert with_flag == _head() + ("+dirty" if provenance.uncommitted(("raxdoc", "bench")) else "")
    assert provenance.uncommitted(("no/such/path",)) is False


def test_outside_a_checkout_the_commit_is_unknown(monkeypatch, tmp_path):
    monkeypatch.setattr(provenance, "ROOT", tmp_path)
    assert provenance.git_commit() == provenance.git_commit(short=False, dirty=(".",)) == "unknown"


def test_write_result_makes_folders_and_writes_indented_json(tmp_path, capsys):
    path = tmp_path / "a" / "b.json"
    provenance.write_result(str(path), {"commit": "x", "n": 1})
    assert json.loads(path.read_text()) == {"commit": "x", "n": 1} and path.read_text().endswith("}\n")
    assert str(path) in capsys.readouterr().out


def test_no_benchmark_asks_git_or_writes_its_json_itself():
    """One decision in one place: every other script goes through provenance."""
    for script in sorted(BENCH.glob("*.py")):
        if script.name == "provenance.py":
            continue
        text = script.read_text()
        assert '"git"' not in text, f"{script.name} runs git itself: use provenance.git_commit"
        assert not re.search(r"write_text\(json\.dumps", text), f"{script.name}: use provenance.write_result"
