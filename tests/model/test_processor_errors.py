"""`RaxProcessor.from_pretrained` called directly (the Python API, not through the CLI's up-front check) on a
checkpoint whose files are broken: one `CheckpointError` naming the file, never a raw JSON or tokenizers error."""

from __future__ import annotations

import json
import shutil

import pytest

from raxdoc.model.processor import CheckpointError, RaxProcessor


@pytest.fixture
def ckpt(tiny_checkpoint, tmp_path):
    """A copy of the tiny checkpoint's small files (the processor reads no weights)."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "preprocessor_config.json", "generation_config.json"):
        if (tiny_checkpoint / name).is_file():
            shutil.copyfile(tiny_checkpoint / name, folder / name)
    return folder


def test_the_intact_copy_loads(ckpt):
    assert RaxProcessor.from_pretrained(ckpt).special.image_pad > 0


@pytest.mark.parametrize(("name", "data", "match"), [
    ("config.json", b"{not json", "config.json is not readable JSON"),
    ("config.json", b"[1, 2]", "config.json must hold a JSON object, not list"),
    ("config.json", b"\xff\xfe garbage", "config.json is not readable JSON"),
    ("preprocessor_config.json", b"", "preprocessor_config.json is not readable JSON"),
    ("generation_config.json", b'"eos"', "generation_config.json must hold a JSON object, not str"),
    ("tokenizer.json", b'{"model": 3}', "tokenizer.json is not a tokenizer"),
])
def test_a_broken_file_is_one_checkpoint_error_naming_it(ckpt, name, data, match):
    (ckpt / name).write_bytes(data)
    with pytest.raises(CheckpointError, match=match):
        RaxProcessor.from_pretrained(ckpt)


@pytest.mark.parametrize("value", ["151655", 1.5, True, None])
def test_a_token_id_that_is_not_an_integer_is_named(ckpt, value):
    config = json.loads((ckpt / "config.json").read_text())
    config["image_token_id"] = value
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="image_token_id"):
        RaxProcessor.from_pretrained(ckpt)
