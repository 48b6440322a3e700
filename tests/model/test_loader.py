"""Loader: errors name what is wrong; dtype and device are the caller's; hub ids resolve through the cache."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from raxdoc.model import ConfigError, LoaderError, RaxForConditionalGeneration
from raxdoc.model.loader import module_name
from raxdoc.testing.presets import write_random_checkpoint


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


@pytest.mark.parametrize("dtype", [torch.bfloat16, "bfloat16"])
def test_bf16_load_gives_bf16_params(ckpt, dtype):
    model = RaxForConditionalGeneration.from_pretrained(ckpt, dtype=dtype)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert not any(p.is_meta for p in model.parameters())
    logits = model(torch.randint(0, 1000, (1, 9)))
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits.float()).all()


def test_patch_embed_conv_becomes_linear(ckpt):
    model = RaxForConditionalGeneration.from_pretrained(ckpt)
    conv = load_file(ckpt / "model.safetensors")["model.visual.patch_embed.proj.weight"]
    assert conv.ndim == 5
    assert torch.equal(model.visual.patch_embed.proj.weight, conv.reshape(conv.shape[0], -1))


def _offline_hub(tmp_path, monkeypatch):
    """HF_HOME at tmp_path, offline; huggingface_hub reads its constants at import, so patch them too."""
    import huggingface_hub.constants as c

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_offline_uncached_hub_id_is_a_clear_error(tmp_path, monkeypatch):
    _offline_hub(tmp_path, monkeypatch)
    with pytest.raises(LoaderError, match="raxcore-dev/Rax-4.5.*HF_HUB_OFFLINE"):
        RaxForConditionalGeneration.from_pretrained("raxcore-dev/Rax-4.5")


def test_offline_cached_hub_id_loads(tmp_path, monkeypatch, ckpt):
    hub = _offline_hub(tmp_path, monkeypatch)
    repo = hub / "models--raxcore-dev--Rax-4.5"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    for name in ("config.json", "model.safetensors"):
        (snapshot / name).symlink_to(ckpt / name)
    model = RaxForConditionalGeneration.from_pretrained("raxcore-dev/Rax-4.5")
    assert model.config.text.vocab_size == 1024


def test_checkpoint_name_rules():
    assert module_name("model.visual.blocks.0.attn.qkv.weight") == "visual.blocks.0.attn.qkv.weight"
    assert module_name("model.language_model.norm.weight") == "language_model.norm.weight"
    assert module_name("model.layers.0.mlp.up_proj.weight") == "language_model.layers.0.mlp.up_proj.weight"
    assert module_name("visual.merger.linear_fc1.bias") == "visual.merger.linear_fc1.bias"
    assert module_name("mtp.layers.0.mlp.up_proj.weight") is None


def test_full_size_shapes_match_transformers_on_meta():
    """At full rax-4.5 size (on meta, no memory), every transformers parameter maps to ours, same shape."""
    from transformers import Qwen3_5Config

    from raxdoc.model import RaxConfig
    from raxdoc.model.loader import TRANSFORMS
    from raxdoc.testing.presets import preset_config
    from tests.model.conftest import transformers_model_class

    d = {k: v for k, v in preset_config("rax-4.5").items() if "pixels" not in k}
    with torch.device("meta"):
        hf = transformers_model_class()(Qwen3_5Config(**d))
        ours = RaxForConditionalGeneration(RaxConfig.from_dict(d))
    theirs = {}
    for name, p in hf.state_dict().items():
        mapped = module_name(name)
        shape = TRANSFORMS[mapped](p).shape if mapped in TRANSFORMS else p.shape
        theirs[mapped] = tuple(shape)
    assert theirs == {n: tuple(p.shape) for n, p in ours.state_dict().items()}
    n_params = sum(p.numel() for p in ours.parameters())
    assert 2.0e9 < n_params < 2.5e9, n_params
