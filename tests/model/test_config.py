"""RaxConfig reads HF config.json dicts as transformers resolves them, and refuses bad fields by name."""

import dataclasses

import pytest

from raxdoc.model import ConfigError, RaxConfig
from raxdoc.testing.presets import preset_config


def test_full_size_preset_numbers():
    c = RaxConfig.from_dict(preset_config("rax-4.5"))
    assert c.text.layer_types.count("full_attention") == 6 and c.text.layer_types[3] == "full_attention"
    assert c.text.rotary_dim == 64 and c.text.mrope_section == (11, 11, 10) and c.text.rope_theta == 1e7
    assert c.vision.patch_dim == 3 * 2 * 16 * 16 and c.tie_word_embeddings
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.text.hidden_size = 1


def test_hf_defaults_fill_optional_fields():
    d = preset_config("tiny")
    del d["text_config"]["layer_types"], d["text_config"]["rope_parameters"]["mrope_section"]
    d["text_config"]["rope_parameters"]["partial_rotary_factor"] = 0.25
    d["text_config"]["head_dim"] = 128  # rotary_dim 32 -> 16 pairs... transformers' default [11, 11, 10] needs 32
    with pytest.raises(ConfigError, match="mrope_section"):
        RaxConfig.from_dict(d)
    d["text_config"]["head_dim"] = 256
    c = RaxConfig.from_dict(d)
    assert c.text.layer_types == ("linear_attention",) * 3 + ("full_attention",)
    assert c.text.mrope_section == (11, 11, 10)


def test_tie_is_read_from_top_level_only():
    d = preset_config("tiny")
    d["text_config"]["tie_word_embeddings"] = True
    d.pop("tie_word_embeddings")
    assert RaxConfig.from_dict(d).tie_word_embeddings is False  # transformers ignores text_config's flag


@pytest.mark.parametrize("path,value,needle", [
    (("text_config", "num_key_value_heads"), 3, "num_key_value_heads must divide"),
    (("text_config", "linear_num_key_heads"), 3, "linear_num_key_heads must divide"),
    (("text_config", "hidden_size"), 0, "hidden_size must be >= 1"),
    (("text_config", "num_hidden_layers"), True, "num_hidden_layers must be"),
    (("vision_config", "num_position_embeddings"), 60, "num_position_embeddings must be a square"),
    (("vision_config", "out_hidden_size"), 32, "out_hidden_size must equal"),
    (("image_token_id",), 10**6, "image_token_id=1000000 is outside"),
    (("model_type",), "llama", "model_type must be 'qwen3_5'"),
    (("text_config", "rope_parameters"), "fast", "rope_parameters must be an object"),
])
def test_bad_fields_are_named(path, value, needle):
    d = preset_config("tiny")
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ConfigError, match=needle):
        RaxConfig.from_dict(d)


def test_missing_vision_config():
    d = preset_config("tiny")
    del d["vision_config"]
    with pytest.raises(ConfigError, match="config.vision_config is missing"):
        RaxConfig.from_dict(d)
