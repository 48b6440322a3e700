import json

import pytest
from safetensors import safe_open

from raxdoc.testing.presets import PRESETS, preset_config, write_random_checkpoint
from raxdoc.testing.tokenizer import build_tokenizer, special_token_ids


def test_full_size_preset_matches_design_numbers():
    cfg = preset_config("rax-4.5")
    text, vision = cfg["text_config"], cfg["vision_config"]
    assert (text["num_hidden_layers"], text["hidden_size"], text["intermediate_size"]) == (24, 2048, 6144)
    assert [i for i, t in enumerate(text["layer_types"]) if t == "full_attention"] == [3, 7, 11, 15, 19, 23]
    assert text["rope_parameters"]["mrope_section"] == [11, 11, 10]
    assert (vision["depth"], vision["hidden_size"], vision["out_hidden_size"]) == (24, 1024, 2048)
    ids = (cfg["vision_start_token_id"], cfg["vision_end_token_id"], cfg["image_token_id"])
    assert ids == (248053, 248054, 248056)
    assert special_token_ids(248320)["<|im_start|>"] == 248045
    assert special_token_ids(248320)["<|im_end|>"] == 248046


def test_overrides_merge_nested_and_resize_layer_types():
    cfg = preset_config("tiny", {"text_config": {"num_hidden_layers": 8, "linear_num_value_heads": 2}})
    assert cfg["text_config"]["linear_num_value_heads"] == 2
    assert cfg["text_config"]["hidden_size"] == PRESETS["tiny"]["text_config"]["hidden_size"]
    assert cfg["text_config"]["layer_types"].count("full_attention") == 2
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("huge")


def test_tiny_checkpoint_files_and_specials(tiny_checkpoint, tiny_tokenizer):
    names = {p.name for p in tiny_checkpoint.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"} <= names
    cfg = json.loads((tiny_checkpoint / "config.json").read_text())
    assert cfg["model_type"] == "qwen3_5"
    image_pad = cfg["image_token_id"]
    assert tiny_tokenizer.token_to_id("<|image_pad|>") == image_pad
    text = "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Total: 1.234,56 EUR"
    ids = tiny_tokenizer.encode(text).ids
    assert ids[:4] == [cfg["vision_start_token_id"], image_pad, image_pad, cfg["vision_end_token_id"]]
    assert tiny_tokenizer.decode(ids, skip_special_tokens=True) == "Total: 1.234,56 EUR"
    assert max(ids) < cfg["text_config"]["vocab_size"]
    with safe_open(str(tiny_checkpoint / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert any("linear_attn.A_log" in k for k in keys) and any("visual.merger" in k for k in keys)
    assert "lm_head.weight" in keys  # tiny is untied


def test_sharded_tied_checkpoint_has_index(tmp_path):
    path = write_random_checkpoint(tmp_path / "sharded", "tiny", max_shard_size="100KB", tie_word_embeddings=True)
    index = json.loads((path / "model.safetensors.index.json").read_text())
    shards = set(index["weight_map"].values())
    assert len(shards) > 1 and all((path / s).exists() for s in shards)
    assert "lm_head.weight" not in index["weight_map"]
    assert json.loads((path / "config.json").read_text())["tie_word_embeddings"] is True


def test_tokenizer_is_deterministic_and_round_trips_any_text():
    a, b = build_tokenizer(1024), build_tokenizer(1024)
    assert a.to_str() == b.to_str()
    text = '{"description": "Café — 12×", "amount": "1 234,56 €"} ☃'
    assert a.decode(a.encode(text).ids) == text


def test_writing_a_checkpoint_on_cuda_leaves_fla_importable(tmp_path, monkeypatch):
    """On CPU transformers must not bind to fla; on CUDA a process-wide block would take fla from
    raxdoc's ops too (the benchmark writes its checkpoint before loading the engine)."""
    import sys

    import torch

    monkeypatch.delitem(sys.modules, "fla", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    write_random_checkpoint(tmp_path / "cuda", "tiny")
    assert "fla" not in sys.modules  # not blocked (and not imported: the class was already bound)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    write_random_checkpoint(tmp_path / "cpu", "tiny")
    assert sys.modules["fla"] is None
