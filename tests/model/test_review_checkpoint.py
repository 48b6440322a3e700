"""Review findings on checkpoint checks: a qwen3_5 config whose `quantization_config` is not an
object (a string, a list) is one `LoaderError`, never an AttributeError traceback."""

from __future__ import annotations

import json
import shutil

import pytest

from raxdoc.model import LoaderError, RaxForConditionalGeneration
from raxdoc.model.loader import check_checkpoint


@pytest.mark.parametrize("quant", ["fp8", ["int4"], {"bits": 4}, {"quant_method": "fp8"}])
def test_a_quantization_config_of_any_shape_is_one_loader_error(tiny_checkpoint, tmp_path, quant):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["quantization_config"] = quant
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(LoaderError, match="is quantized"):
        check_checkpoint(folder)
    with pytest.raises(LoaderError, match="is quantized"):
        RaxForConditionalGeneration.from_pretrained(folder)


def test_an_empty_quantization_config_is_not_quantized(tiny_checkpoint, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["quantization_config"] = {}
    (folder / "config.json").write_text(json.dumps(cfg))
    check_checkpoint(folder)  # raises nothing
