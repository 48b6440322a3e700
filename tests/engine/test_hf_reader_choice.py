"""Which reader a checkpoint gets, the up-front checks, family defaults and thinking stripping."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from raxdoc.engine.readers import QuantizationPackageMissing, RemoteCodeRequired, reader_kind
from raxdoc.model.families import FAMILIES, GENERIC, family_for
from raxdoc.model.loader import LoaderError, check_checkpoint
from raxdoc.postprocess import strip_thinking
from raxdoc.testing.hf_presets import write_hf_checkpoint


@pytest.fixture(scope="module")
def exaone(tmp_path_factory):
    return write_hf_checkpoint(tmp_path_factory.mktemp("exaone"), "exaone4_5")


def _variant(src, tmp_path, **config):
    folder = tmp_path / "ckpt"
    shutil.copytree(src, folder)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, **config}))
    return folder


def test_qwen3_5_takes_our_engine_and_others_transformers(tiny_checkpoint, exaone):
    assert reader_kind(tiny_checkpoint) == "rax"
    assert reader_kind(exaone) == "transformers"
    check_checkpoint(exaone)  # a valid non-qwen3_5 checkpoint passes the up-front check


def test_remote_code_needs_the_flag(exaone, tmp_path):
    folder = _variant(exaone, tmp_path, auto_map={"AutoModel": "modeling_r.RForConditionalGeneration"})
    with pytest.raises(RemoteCodeRequired, match="--trust-remote-code"):
        check_checkpoint(folder)
    check_checkpoint(folder, trust_remote_code=True)


def test_cli_refuses_remote_code_with_exit_2(exaone, tmp_path):
    from raxdoc.cli import app

    folder = _variant(exaone, tmp_path, auto_map={"AutoModel": "modeling_r.RForConditionalGeneration"})
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.pdf").write_bytes(b"%PDF-1.4\n")
    result = CliRunner().invoke(app, ["extract", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                                      "--model", str(folder), "--profile", "cpu"])
    assert result.exit_code == 2
    assert "--trust-remote-code" in result.output and "Traceback" not in result.output


def test_quantized_checkpoint_names_the_missing_package(exaone, tmp_path):
    folder = _variant(exaone, tmp_path, quantization_config={"quant_method": "awq", "bits": 8})
    with pytest.raises(QuantizationPackageMissing, match="autoawq"):
        check_checkpoint(folder)


def test_text_only_model_type_is_refused_clearly(exaone, tmp_path):
    folder = _variant(exaone, tmp_path, model_type="llama")
    with pytest.raises(LoaderError, match="not a vision-language"):
        check_checkpoint(folder)


def test_families_as_data():
    assert family_for({"model_type": "exaone4_5"}).chat_template_kwargs == {"enable_thinking": False}
    assert family_for({"model_type": "exaone4_5"}).sampling["presence_penalty"] == 1.5
    assert family_for({"model_type": "ernie4_5_vl_moe"}).name == "ernie4_5_vl"
    assert family_for({"model_type": "x", "architectures": ["RForConditionalGeneration"]}).chat_template_kwargs == \
        {"thinking_mode": "short"}
    assert family_for({"model_type": "llava"}) is GENERIC
    assert FAMILIES["rax"].runs == "rax"
    changed = FAMILIES["exaone4_5"].with_overrides(max_pixels=1000, min_pixels=10)
    assert changed.max_pixels == 1000 and FAMILIES["exaone4_5"].max_pixels is None
    with pytest.raises(ValueError, match="unknown family field"):
        FAMILIES["exaone4_5"].with_overrides(temperature=1.0)


@pytest.mark.parametrize("family, text", [
    ("exaone4_5", "<think>\nthe total is 12</think>\n\n{\"a\": 1}"),      # its own closed block
    ("ernie4_5_vl", "reasoning left open by the template\n</think>\n{\"a\": 1}"),  # opened in the prompt
    ("r_4b", "<think>\n\n</think>\n\n{\"a\": 1}"),                         # short mode: empty block
])
def test_strip_thinking_handles_each_family(family, text):
    assert family in FAMILIES
    assert strip_thinking(text) == '{"a": 1}'


def test_models_command_lists_every_family():
    from raxdoc.cli import app

    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for name in ("exaone4_5", "ernie4_5_vl_moe", "qwen3_5", "trust-remote-code", "transformers"):
        assert name in result.output
