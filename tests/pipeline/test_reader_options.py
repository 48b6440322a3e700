"""`--reader-option KEY=VALUE` / `extract(reader_options=)`: parsed, checked before Ray starts, recorded
in the run's settings, and handed to the transformers reader's family (`load_hf_reader`). No Ray."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from raxdoc.cli import app
from raxdoc.pipeline import run

runner = CliRunner()


def _cli(*args):
    result = runner.invoke(app, list(args))
    result.text = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    return result


@pytest.fixture(scope="module")
def exaone(tmp_path_factory):
    from raxdoc.testing.hf_presets import write_hf_checkpoint

    return write_hf_checkpoint(tmp_path_factory.mktemp("hf") / "exaone", "exaone4_5")


@pytest.fixture
def one_pdf(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.pdf").write_bytes(b"%PDF-1.4\n")
    return tmp_path / "in"


@pytest.fixture
def no_ray(monkeypatch):
    """The driver over a stand-in dataset; returns the keyword arguments `build_dataset` got."""
    seen: dict = {}

    class NoBatches:
        def iter_batches(self, **kw):
            return iter(())

    def build(*args, **kwargs):
        seen.update(kwargs)
        return NoBatches()

    monkeypatch.setattr(run, "init_ray", lambda address: (_ for _ in ()).throw(AssertionError("Ray started")))
    monkeypatch.setattr(run, "build_dataset", build)
    return seen


def test_values_parse_as_json_else_stay_strings():
    from raxdoc.cli import _key_values

    got = _key_values(['chat_template_kwargs={"enable_thinking": true}', "max_pixels=1000",
                       "mode=short", "empty=", "eq=a=b"], "--reader-option")
    assert got == {"chat_template_kwargs": {"enable_thinking": True}, "max_pixels": 1000, "mode": "short",
                   "empty": "", "eq": "a=b"}


@pytest.mark.parametrize("option,message", [
    ("max_pixels", "--reader-option takes KEY=VALUE, got 'max_pixels'"),
    ("=3", "--reader-option takes KEY=VALUE"),
    ("temperature=0.6", "unknown reader option(s) temperature; valid: chat_template_kwargs"),
    ("max_pixels=lots", "reader option max_pixels='lots': expected an integer"),
    ("chat_template_kwargs=false", "reader option chat_template_kwargs=False: expected a JSON object"),
])
def test_bad_options_are_usage_errors(option, message, exaone, one_pdf, tmp_path, no_ray):
    result = _cli("extract", str(one_pdf), "-o", str(tmp_path / "out"), "--model", str(exaone), "--profile", "cpu",
                  "--reader-option", option, "-q")
    assert result.exit_code == 2, result.output
    assert message in result.text and "Traceback" not in result.output


def test_min_above_the_familys_max_is_refused(exaone, one_pdf, tmp_path, no_ray):
    with pytest.raises(ValueError, match="min_pixels 5000 > max_pixels 100"):
        run.extract(one_pdf, tmp_path / "out", model=str(exaone), profile="cpu",
                    reader_options={"min_pixels": 5000, "max_pixels": 100})


def test_our_engines_checkpoints_take_no_reader_options(tiny_checkpoint, one_pdf, tmp_path, no_ray):
    result = _cli("extract", str(one_pdf), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint),
                  "--profile", "cpu", "--reader-option", "max_pixels=100000", "-q")
    assert result.exit_code == 2, result.output
    assert "apply to the transformers reader only" in result.text and "qwen3_5" in result.text
    assert not (tmp_path / "out" / "documents").exists()


def test_options_reach_the_dataset_and_the_runs_settings(exaone, one_pdf, tmp_path, monkeypatch, no_ray):
    options = {"chat_template_kwargs": {"enable_thinking": True}, "max_pixels": 200_000}
    monkeypatch.setattr(run, "init_ray", lambda address: False)
    run.extract(one_pdf, tmp_path / "out", model=str(exaone), profile="cpu", reader_options=options)
    assert no_ray["reader_options"] == options
    settings = json.loads((tmp_path / "out" / "_raxdoc.json").read_text())["settings"]
    assert settings["reader_options"] == options
    # A run without them passes none on and records none (earlier folders' settings stay equal).
    no_ray.clear()
    run.extract(one_pdf, tmp_path / "out2", model=str(exaone), profile="cpu")
    assert "reader_options" not in no_ray
    assert "reader_options" not in json.loads((tmp_path / "out2" / "_raxdoc.json").read_text())["settings"]


def test_engine_stage_hands_them_to_load_hf_reader(exaone, monkeypatch):
    from raxdoc.engine import hf_loading
    from raxdoc.pipeline.engine_stage import EngineStage
    from raxdoc.profiles import resolve_profile

    got = {}
    real = hf_loading.load_hf_reader

    def spy(*args, **kwargs):
        got.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(hf_loading, "load_hf_reader", spy)
    options = {"chat_template_kwargs": {"enable_thinking": True}, "max_pixels": 200_000}
    profile = resolve_profile("cpu", max_num_seqs=2, max_new_tokens=8, max_model_len=512)
    stage = EngineStage(str(exaone), profile, device="cpu", reader_options=options)
    try:
        assert got["family_overrides"] == options
        family = stage.engine.family
        assert (family.name, family.chat_template_kwargs, family.max_pixels) == \
            ("exaone4_5", {"enable_thinking": True}, 200_000)
    finally:
        stage.close()
