"""Transformers-backend checkpoints laid out other ways: the chat template wherever transformers keeps it,
PyTorch `.bin` weights, top-level min/max_pixels; missing side files fail up front with one `LoaderError`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from raxdoc.engine.hf_loading import load_hf_reader
from raxdoc.model.loader import LoaderError, check_checkpoint
from raxdoc.testing.hf_presets import write_hf_checkpoint

PAGE = np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def exaone(tmp_path_factory):
    return write_hf_checkpoint(tmp_path_factory.mktemp("exaone"), "exaone4_5")


@pytest.fixture(scope="module")
def base_prompt(exaone):
    reader = load_hf_reader(str(exaone), device="cpu")
    yield reader.prompter.chat_text("Read it.")
    reader.close()


def _copy(src, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(src, folder)
    return folder


def _template_to(folder, where):
    template = (folder / "chat_template.jinja").read_text()
    (folder / "chat_template.jinja").unlink()
    file = folder / where
    data = json.loads(file.read_text()) if file.is_file() else {}
    file.write_text(json.dumps({**data, "chat_template": template}))


@pytest.mark.parametrize("where", ["chat_template.json", "tokenizer_config.json"])
def test_chat_template_found_where_transformers_keeps_it(exaone, tmp_path, base_prompt, where):
    folder = _copy(exaone, tmp_path)
    _template_to(folder, where)
    check_checkpoint(folder)
    reader = load_hf_reader(str(folder), device="cpu")
    assert reader.prompter.chat_text("Read it.") == base_prompt  # thinking switched off as before
    reader.close()


def test_pytorch_model_bin_only_loads(exaone, tmp_path):
    folder = _copy(exaone, tmp_path)
    state = load_file(folder / "model.safetensors")
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    check_checkpoint(folder)
    reader = load_hf_reader(str(folder), device="cpu")
    name, tensor = next(iter(state.items()))
    loaded = dict(reader.model.state_dict())
    assert any(torch.equal(t, tensor) for k, t in loaded.items() if k.endswith(name.split(".", 1)[-1]))
    reader.close()


def test_max_pixels_option_wins_over_top_level_pixels(exaone, tmp_path):
    """Older preprocessor configs carry min_pixels / max_pixels beside size{}; a run's bound must still apply."""
    folder = _copy(exaone, tmp_path)
    cfg = json.loads((folder / "preprocessor_config.json").read_text())
    cfg.update(min_pixels=cfg["size"]["shortest_edge"], max_pixels=cfg["size"]["longest_edge"])
    (folder / "preprocessor_config.json").write_text(json.dumps(cfg))
    grids = []
    for overrides in ({}, {"max_pixels": 50_000}):
        reader = load_hf_reader(str(folder), device="cpu", family_overrides=overrides)
        t, h, w = reader.prompter("Read it.", [PAGE])["image_grid_thw"][0].tolist()
        grids.append(h * w * 14 * 14)
        reader.close()
    assert grids[0] > 50_000 >= grids[1]


@pytest.mark.parametrize("damage,needle", [
    (lambda f: (f / "chat_template.jinja").unlink(), "no chat template"),
    (lambda f: (f / "tokenizer.json").unlink(), "no tokenizer files"),
    (lambda f: (f / "preprocessor_config.json").unlink(), "no preprocessor_config.json"),
    (lambda f: (f / "model.safetensors").write_bytes(b"x" * 64), "cannot read weight file"),
])
def test_missing_side_files_fail_up_front(exaone, tmp_path, damage, needle):
    folder = _copy(exaone, tmp_path)
    damage(folder)
    with pytest.raises(LoaderError, match=needle):
        check_checkpoint(folder)
    with pytest.raises(LoaderError, match=needle):
        load_hf_reader(str(folder), device="cpu")


def test_engine_load_of_another_family_names_it(exaone):
    """`raxdoc doctor` checks raxdoc's engine: another family is one clear error, not a config trace."""
    from raxdoc.engine.loading import load_slot_runner

    with pytest.raises(LoaderError, match="'exaone4_5' checkpoint: raxdoc's engine runs qwen3_5"):
        load_slot_runner(str(exaone), device="cpu")
