"""`strip_thinking`: the one rule for `<think>` blocks, whichever reader wrote the text."""

import re
from pathlib import Path

import pytest

from raxdoc.postprocess import extract_json, strip_thinking
from raxdoc.postprocess.extract import Extracted


@pytest.mark.parametrize("raw, clean", [
    ("<think>a\nb</think>\n\n{\"x\": 1}", "{\"x\": 1}"),
    ("hi <think>x</think>there", "hi there"),
    ("reasoning here</think>\nanswer", "answer"),  # the prompt opened the block
    ("r1</think> A <think>r2</think> B", "A  B"),  # lone close before a closed block
    ("<THINK>shout</Think>answer", "answer"),
    ("answer<think>never closed", "answer"),
    ("<think>{\"x\": 1} is my draft", ""),  # unclosed: a draft is not an answer
    ("</think> A <think> B", "A "),
    ("plain", "plain"),
    ("", ""),
])
def test_strip_thinking(raw, clean):
    assert strip_thinking(raw) == clean


@pytest.mark.parametrize("constrained", [True, False])
def test_extract_json_applies_the_rule(constrained):
    got = extract_json('<think>{"a": 1}</think>{"b": 2}<think>{"c": 3', constrained=constrained)
    assert isinstance(got, Extracted) and got.value == {"b": 2}
    cut = extract_json('<think>{"a": 1} wait', constrained=constrained)
    assert cut.kind == "empty" and cut.raw_text == '<think>{"a": 1} wait'


def test_the_rule_is_defined_once():
    root = Path(__file__).resolve().parents[2] / "raxdoc"
    defining = sorted(str(f.relative_to(root)) for f in root.rglob("*.py")
                      if re.search(r"^def strip_(thinking|reasoning)\b", f.read_text(), re.MULTILINE))
    assert defining == ["postprocess/extract.py"]
