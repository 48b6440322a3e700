"""`raxdoc.extract` called carelessly: every bad argument is a TypeError/ValueError naming it, raised
before Ray starts and before anything is written (no Ray in this file)."""

import os
import socket
from pathlib import Path

import pytest

import raxdoc
from raxdoc.pipeline import run


class _Nothing:
    def iter_batches(self, **kw):
        return iter(())


@pytest.fixture
def no_ray(monkeypatch, tmp_path):
    """Ray never starts; the graph is a dataset that returns nothing; returns the sources it was given."""
    seen = []
    monkeypatch.setattr(run, "init_ray", lambda address: False)

    def fake_build(sources, *args, **kwargs):
        seen.append(list(sources))
        return _Nothing()

    monkeypatch.setattr(run, "build_dataset", fake_build)
    monkeypatch.chdir(tmp_path)  # a run that falls back to "." would write here: checked below
    return seen


@pytest.fixture
def pdf(tmp_path):
    path = tmp_path / "in" / "a.pdf"
    path.parent.mkdir()
    path.write_bytes(b"%PDF-1.4\n")
    return path


BAD = [
    ({"inputs": None}, TypeError, "inputs must be a path"),
    ({"inputs": 5}, TypeError, "inputs must be a path"),
    ({"inputs": [None]}, TypeError, "each input must be a path"),
    ({"inputs": ""}, ValueError, "input name is empty"),
    ({"inputs": ["  "]}, ValueError, "input name is empty"),
    ({"output": None}, TypeError, "output must be a path"),
    ({"output": ""}, ValueError, "output is empty"),
    ({"output": 3}, TypeError, "output must be a path"),
    ({"output": "OUT/a::b"}, ValueError, "must not hold '::'"),
    ({"output": "nosuch://b/x"}, ValueError, "cannot write to nosuch://b/x: Protocol not known"),
    ({"model": None}, TypeError, "model must be a path"),
    ({"profile": None}, TypeError, "profile must be a name"),
    ({"profile": {"name": "cpu"}}, TypeError, "profile must be a name"),
    ({"max_pagez": 3}, TypeError, r"unknown keyword argument\(s\) \['max_pagez'\]"),
    ({"dpi": float("nan")}, ValueError, "dpi must be a finite number"),
    ({"dpi": float("inf")}, ValueError, "dpi must be a finite number"),
    ({"dpi": "200"}, TypeError, "dpi must be a number"),
    ({"max_pages": 0}, ValueError, "max_pages must be a positive integer"),
    ({"max_pages": 1.5}, TypeError, "max_pages must be a positive integer"),
    ({"engines": 0}, ValueError, "engines must be a positive integer"),
    ({"engines": "2"}, TypeError, "engines must be a positive integer"),
    ({"write_every": 0}, ValueError, "write_every must be a positive integer"),
    ({"write_every": None}, TypeError, "write_every must be a positive integer;"),
    ({"constrained": "no"}, TypeError, "constrained must be True or False"),
    ({"overwrite": 1}, TypeError, "overwrite must be True or False"),
    ({"cuda_graphs": "no"}, ValueError, "cuda_graphs must be True or False"),
    ({"gpu_memory_utilization": "0.5"}, ValueError, "gpu_memory_utilization"),
    ({"max_new_tokens": float("nan")}, ValueError, "max_new_tokens must be a positive integer"),
    ({"on_progress": 3}, TypeError, "on_progress must be a callable"),
    ({"address": 5}, TypeError, "address must be a str"),
    ({"address": "nonsense:port"}, ValueError, "must look like HOST:PORT"),
    ({"address": "nohost.invalid"}, ValueError, "cannot reach the Ray cluster at nohost.invalid"),  # port 6379
    ({"device": "tpu:0"}, ValueError, "not a torch device"),
]


@pytest.mark.parametrize("kwargs,error,match", BAD, ids=[next(iter(k)) + "=" + repr(v) for k, _, _ in BAD
                                                        for v in k.values()])
def test_a_bad_argument_is_a_typed_error_before_anything_runs(no_ray, pdf, tiny_checkpoint, tmp_path, kwargs,
                                                              error, match):
    call = {"inputs": [pdf.parent], "output": tmp_path / "out", "model": tiny_checkpoint, "profile": "cpu", **kwargs}
    if isinstance(call["output"], str):
        call["output"] = call["output"].replace("OUT", str(tmp_path))
    with pytest.raises(error, match=match):
        raxdoc.extract(call.pop("inputs"), call.pop("output"), **call)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"] and no_ray == []  # nothing written, no graph


@pytest.mark.parametrize("name,value", [("RAXDOC_OPS", "bogus"), ("RAXDOC_DECODE_ATTENTION", "fast"),
                                        ("RAXDOC_PREFILL_ATTENTION", "x"), ("RAXDOC_OVERLAP_DECODE", "maybe")])
def test_a_bad_environment_switch_names_its_variable_before_anything_runs(no_ray, pdf, tiny_checkpoint, tmp_path,
                                                                          monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name}='{value}'"):
        raxdoc.extract(pdf.parent, tmp_path / "out", model=tiny_checkpoint, profile="cpu")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_cluster_is_refused_at_once(no_ray, pdf, tiny_checkpoint, tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        raxdoc.extract(pdf.parent, tmp_path / "out", model=tiny_checkpoint, profile="cpu",
                       address=f"127.0.0.1:{port}")
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")  # the same through the environment
    with pytest.raises(ValueError, match="cannot reach the Ray cluster"):
        raxdoc.extract(pdf.parent, tmp_path / "out", model=tiny_checkpoint, profile="cpu")


def test_every_form_of_one_input_names_the_same_file(no_ray, pdf, tiny_checkpoint, tmp_path):
    from raxdoc.profiles import resolve_profile

    forms = [pdf, str(pdf), os.fsencode(pdf), (p for p in [pdf]), [pdf, pdf.relative_to(tmp_path), str(pdf)],
             pdf.parent, [str(tmp_path / "in" / "*.pdf")]]
    for i, inputs in enumerate(forms):
        summary = raxdoc.extract(inputs, tmp_path / f"out{i}", model=Path(tiny_checkpoint),
                                 profile=resolve_profile("cpu"), max_new_tokens=8)
        assert summary.documents == 1 and no_ray[-1] == [str(pdf)], (i, no_ray[-1])


def test_an_empty_input_list_is_a_usage_error(no_ray, tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="no input documents found"):
        raxdoc.extract([], tmp_path / "out", model=tiny_checkpoint, profile="cpu")


@pytest.mark.parametrize("where", ["inside", "same"])
def test_a_run_never_reads_its_own_output_as_inputs(no_ray, pdf, tiny_checkpoint, tmp_path, where):
    out = pdf.parent / "out" if where == "inside" else pdf.parent
    for _ in range(2):  # the second run finds the first one's parts, settings and lock under its input
        raxdoc.extract(pdf.parent, out, model=tiny_checkpoint, profile="cpu")
    assert (out / "documents").is_dir() and list((out / "documents").glob("*.parquet"))
    assert no_ray == [[str(pdf)], [str(pdf)]]  # the invoice itself is still read, even with -o its folder


def test_another_runs_output_among_the_inputs_is_not_read_either(no_ray, pdf, tiny_checkpoint, tmp_path):
    """An earlier run's output left inside the input folder (it holds _raxdoc.json) is no invoice; a
    plain folder that happens to be called documents/ is read as any other."""
    raxdoc.extract(pdf.parent, pdf.parent / "old-run", model=tiny_checkpoint, profile="cpu")
    plain = pdf.parent / "documents" / "scan.pdf"
    plain.parent.mkdir()
    plain.write_bytes(pdf.read_bytes())
    raxdoc.extract(pdf.parent, tmp_path / "new-run", model=tiny_checkpoint, profile="cpu")
    assert sorted(no_ray[-1]) == sorted([str(pdf), str(plain)])


def test_tilde_in_the_output_is_the_home_folder(no_ray, pdf, tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    summary = raxdoc.extract(pdf, "~/runs/out", model=tiny_checkpoint, profile="cpu")
    assert (tmp_path / "home" / "runs" / "out" / "documents").is_dir()
    assert summary.paths[0] == str(tmp_path / "home" / "runs" / "out" / "documents")


def test_numpy_numbers_are_taken_and_recorded_as_plain_ones(no_ray, pdf, tiny_checkpoint, tmp_path):
    import json

    import numpy as np

    raxdoc.extract(pdf, tmp_path / "out", model=tiny_checkpoint, profile="cpu", max_pages=np.int64(2),
                   dpi=np.float32(150), engines=np.int32(1))
    settings = json.loads((tmp_path / "out" / "_raxdoc.json").read_text())["settings"]
    assert settings["max_pages"] == 2 and settings["dpi"] == 150.0
