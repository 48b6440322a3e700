"""Loader: errors name what is wrong; dtype and device are the caller's; hub ids resolve through the cache."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from raxdoc.model import ConfigError, LoaderError, RaxForConditionalGeneration
from raxdoc.model.loader import module_name
from raxdoc.model.presets import write_random_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_random_checkpoint(tmp_path_factory.mktemp("ckpt"), "tiny")


def _copy_with(tmp_path, ckpt, edit):
    """A copy of the single-file checkpoint whose tensors dict is passed through ``edit``."""
    (tmp_path / "config.json").write_text((ckpt / "config.json").read_text())
    tensors = load_file(ckpt / "model.safetensors")
    save_file(edit(tensors), tmp_path / "model.safetensors", metadata={"format": "pt"})
    return tmp_path


def test_missing_tensor_is_named(tmp_path, ckpt):
    victim = "model.language_model.layers.1.linear_attn.A_log"
    path = _copy_with(tmp_path, ckpt, lambda t: {k: v for k, v in t.items() if k != victim})
    with pytest.raises(LoaderError, match=r"missing \['language_model.layers.1.linear_attn.A_log'\]"):
        RaxForConditionalGeneration.from_pretrained(path)


def test_unexpected_tensor_is_named(tmp_path, ckpt):
    path = _copy_with(tmp_path, ckpt, lambda t: {**t, "model.language_model.extra.weight": torch.zeros(2)})
    with pytest.raises(LoaderError, match=r"unexpected \['model.language_model.extra.weight'\]"):
        RaxForConditionalGeneration.from_pretrained(path)


def test_wrong_shape_is_named(tmp_path, ckpt):
    name = "model.language_model.norm.weight"
    path = _copy_with(tmp_path, ckpt, lambda t: {**t, name: torch.zeros(3)})
    with pytest.raises(LoaderError, match=name):
        RaxForConditionalGeneration.from_pretrained(path)


def test_mtp_tensors_are_ignored(tmp_path, ckpt):
    path = _copy_with(tmp_path, ckpt, lambda t: {**t, "mtp.fc.weight": torch.zeros(2, 2)})
    assert isinstance(RaxForConditionalGeneration.from_pretrained(path), RaxForConditionalGeneration)


@pytest.mark.parametrize("field,value,needle", [
    ("linear_num_value_heads", None, "text_config.linear_num_value_heads is missing"),
    ("head_dim", "32", "text_config.head_dim must be"),
    ("layer_types", ["linear_attention"], "text_config.layer_types has 1 entries"),
])
def test_malformed_config_field_is_named(tmp_path, ckpt, field, value, needle):
    cfg = json.loads((ckpt / "config.json").read_text())
    if value is None:
        del cfg["text_config"][field]
    else:
        cfg["text_config"][field] = value
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "model.safetensors").symlink_to(ckpt / "model.safetensors")
    with pytest.raises(ConfigError, match=needle):
        RaxForConditionalGeneration.from_pretrained(tmp_path)


def test_bf16_load_gives_bf16_params(ckpt):
    model = RaxForConditionalGeneration.from_pretrained(ckpt, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert not any(p.is_meta for p in model.parameters())
    logits = model(torch.randint(0, 1000, (1, 9)))
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()


def test_patch_embed_conv_becomes_linear(ckpt):
    model = RaxForConditionalGeneration.from_pretrained(ckpt)
    conv = load_file(ckpt / "model.safetensors")["model.visual.patch_embed.proj.weight"]
    assert conv.ndim == 5
    assert torch.equal(model.visual.patch_embed.proj.weight, conv.reshape(conv.shape[0], -1))


def test_offline_uncached_hub_id_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(LoaderError, match="raxcore-dev/Rax-4.5.*HF_HUB_OFFLINE"):
        RaxForConditionalGeneration.from_pretrained("raxcore-dev/Rax-4.5")


def test_checkpoint_name_rules():
    assert module_name("model.visual.blocks.0.attn.qkv.weight") == "visual.blocks.0.attn.qkv.weight"
    assert module_name("model.language_model.norm.weight") == "language_model.norm.weight"
    assert module_name("model.layers.0.mlp.up_proj.weight") == "language_model.layers.0.mlp.up_proj.weight"
    assert module_name("visual.merger.linear_fc1.bias") == "visual.merger.linear_fc1.bias"
    assert module_name("mtp.layers.0.mlp.up_proj.weight") is None
