"""qwen3_5 checkpoints laid out other ways load to the same model; ones we cannot read fail up front
(`check_checkpoint`) with one `LoaderError` naming what is wrong, and the CLI exits 2 with one line."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from raxdoc.model import LoaderError, RaxForConditionalGeneration
from raxdoc.model.families import reader_kind_of
from raxdoc.model.loader import check_checkpoint, resolve

IDS = torch.tensor([[1, 5, 9, 200, 7, 3]])


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    with torch.no_grad():
        return RaxForConditionalGeneration.from_pretrained(tiny_checkpoint)(IDS)


def _copy(src, tmp_path, name="ckpt"):
    folder = tmp_path / name
    shutil.copytree(src, folder)
    return folder


def _edit_config(folder, edit):
    cfg = json.loads((folder / "config.json").read_text())
    edit(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


def _rewrite(folder, rename=lambda k: k, drop=(), cast=None):
    tensors = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    out = {rename(k): (v.to(cast) if cast else v) for k, v in tensors.items() if k not in drop}
    save_file(out, folder / "model.safetensors", metadata={"format": "pt"})
    return out


def _logits(folder):
    check_checkpoint(folder)
    with torch.no_grad():
        return RaxForConditionalGeneration.from_pretrained(folder)(IDS)


def _shard(folder):
    """model.safetensors split into two shards and an index, as save_pretrained writes them."""
    tensors = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(tensors)
    weight_map = {}
    for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2:])):
        file = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, folder / file, metadata={"format": "pt"})
        weight_map.update({n: file for n in part})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def test_sharded_with_index_loads_the_same(tiny_checkpoint, tmp_path, reference):
    folder = _copy(tiny_checkpoint, tmp_path)
    _shard(folder)
    torch.testing.assert_close(_logits(folder), reference, rtol=0, atol=0)


@pytest.mark.parametrize("damage,needle", [
    (lambda f: (f / "model-00002-of-00002.safetensors").unlink(), r"names weight file\(s\) that are not in.*00002"),
    (lambda f: (f / "model.safetensors.index.json").write_text("{"), "is not a weight index"),
    (lambda f: (f / "model-00001-of-00002.safetensors").write_bytes(b"x" * 64), "cannot read weight file"),
])
def test_broken_shards_fail_up_front(tiny_checkpoint, tmp_path, damage, needle):
    folder = _copy(tiny_checkpoint, tmp_path)
    _shard(folder)
    damage(folder)
    with pytest.raises(LoaderError, match=needle):
        check_checkpoint(folder)
    with pytest.raises(LoaderError, match=needle):
        RaxForConditionalGeneration.from_pretrained(folder)


def test_pytorch_model_bin_only_loads_the_same(tiny_checkpoint, tmp_path, reference):
    folder = _copy(tiny_checkpoint, tmp_path)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    torch.testing.assert_close(_logits(folder), reference, rtol=0, atol=0)


@pytest.mark.parametrize("old,new", [
    ({"model.language_model.": "language_model.model.", "lm_head.": "language_model.lm_head.",
      "model.visual.": "visual."}, "LLaVA-style"),
    ({"model.language_model.": "language_model.", "model.visual.": "visual."}, "module names"),
    ({"model.language_model.": "model.", "model.visual.": "visual."}, "Qwen2-VL"),
])
def test_prefix_variants_load_the_same(tiny_checkpoint, tmp_path, reference, old, new):
    def rename(key):
        prefix = next((p for p in old if key.startswith(p)), "")
        return old[prefix] + key[len(prefix):] if prefix else key

    folder = _copy(tiny_checkpoint, tmp_path)
    _rewrite(folder, rename)
    torch.testing.assert_close(_logits(folder), reference, rtol=0, atol=0)


def test_text_config_tie_without_lm_head_ties_it(tiny_checkpoint, tmp_path):
    folder = _copy(tiny_checkpoint, tmp_path)
    _edit_config(folder, lambda c: (c.pop("tie_word_embeddings", None),
                                    c["text_config"].__setitem__("tie_word_embeddings", True)))
    _rewrite(folder, drop=("lm_head.weight",))
    check_checkpoint(folder)
    model = RaxForConditionalGeneration.from_pretrained(folder)
    assert model.lm_head.weight is model.language_model.embed_tokens.weight


def test_untied_without_lm_head_names_the_setting(tiny_checkpoint, tmp_path):
    folder = _copy(tiny_checkpoint, tmp_path)
    _rewrite(folder, drop=("lm_head.weight",))
    with pytest.raises(LoaderError, match=r"missing \['lm_head.weight'\].*tie_word_embeddings: false"):
        check_checkpoint(folder)


def test_fp16_weights_with_torch_dtype_load_in_the_callers_dtype(tiny_checkpoint, tmp_path, reference):
    folder = _copy(tiny_checkpoint, tmp_path)
    _rewrite(folder, cast=torch.float16)
    _edit_config(folder, lambda c: (c.pop("dtype", None), c.__setitem__("torch_dtype", "float16")))
    check_checkpoint(folder)
    model = RaxForConditionalGeneration.from_pretrained(folder, dtype="float32")
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    with torch.no_grad():
        torch.testing.assert_close(model(IDS), reference, rtol=0, atol=5e-3)


def test_flat_text_config_reads_as_nested(tiny_checkpoint, tmp_path, reference):
    folder = _copy(tiny_checkpoint, tmp_path)
    _edit_config(folder, lambda c: c.update({k: v for k, v in c.pop("text_config").items() if k != "model_type"}))
    torch.testing.assert_close(_logits(folder), reference, rtol=0, atol=0)


def test_architectures_alone_pick_our_engine(tiny_checkpoint, tmp_path, reference):
    folder = _copy(tiny_checkpoint, tmp_path)
    _edit_config(folder, lambda c: c.pop("model_type"))
    assert reader_kind_of(json.loads((folder / "config.json").read_text())) == "rax"
    torch.testing.assert_close(_logits(folder), reference, rtol=0, atol=0)


@pytest.mark.parametrize("damage,needle", [
    (lambda f: (f / "config.json").unlink(), "no config.json"),
    (lambda f: (f / "config.json").write_text("nope {"), "is not valid JSON"),
    (lambda f: (f / "config.json").write_text("[1, 2]"), "must hold a JSON object"),
    (lambda f: _edit_config(f, lambda c: c["text_config"].pop("hidden_size")), "text_config.hidden_size is missing"),
    (lambda f: _edit_config(f, lambda c: c.update(model_type="foo_vl", architectures=["FooForCausalLM"])),
     "model_type 'foo_vl' is not a vision-language"),
    (lambda f: _edit_config(f, lambda c: c.update(quantization_config={"quant_method": "fp8"})), r"quantized \(fp8\)"),
    (lambda f: (f / "tokenizer.json").unlink(), "no tokenizer.json"),
    (lambda f: (f / "preprocessor_config.json").unlink(), "no preprocessor_config.json"),
    (lambda f: (f / "model.safetensors").unlink(), "holds no weights"),
])
def test_unreadable_checkpoint_is_one_loader_error(tiny_checkpoint, tmp_path, damage, needle):
    folder = _copy(tiny_checkpoint, tmp_path)
    damage(folder)
    with pytest.raises(LoaderError, match=needle):
        check_checkpoint(folder)


def test_a_file_is_not_a_checkpoint_folder(tiny_checkpoint):
    with pytest.raises(LoaderError, match="is a file, not a checkpoint folder"):
        resolve(tiny_checkpoint / "config.json")


def test_engine_load_names_a_bad_config(tiny_checkpoint, tmp_path):
    """What `raxdoc doctor` loads: a config that is not an object is a LoaderError, not an AttributeError."""
    from raxdoc.engine.loading import load_slot_runner

    folder = _copy(tiny_checkpoint, tmp_path)
    (folder / "config.json").write_text("[1]")
    with pytest.raises(LoaderError, match="must hold a JSON object"):
        load_slot_runner(str(folder), device="cpu")


@pytest.mark.parametrize("command", ["extract", "doctor"])
def test_cli_exits_2_with_one_line(tiny_checkpoint, tmp_path, command):
    from raxdoc.cli import app

    folder = _copy(tiny_checkpoint, tmp_path)
    _shard(folder)
    (folder / "model-00002-of-00002.safetensors").unlink()
    args = ["--model", str(folder), "--profile", "cpu"]
    if command == "extract":
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "a.pdf").write_bytes(b"%PDF-1.4\n")
        args = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), *args]
    result = CliRunner().invoke(app, [command, *args])
    assert result.exit_code == 2, result.output
    assert "model-00002-of-00002.safetensors" in result.output and "Traceback" not in result.output


def test_hub_repo_with_only_pytorch_bin_fetches_it(tmp_path, monkeypatch):
    """A hub id: code and tokenizer files come with the configs; .bin weights only when there are no safetensors."""
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append(allow_patterns)
        folder = tmp_path / "snapshot"
        folder.mkdir(exist_ok=True)
        if any(p.endswith(".bin") for p in allow_patterns):
            (folder / "pytorch_model.bin").write_bytes(b"")
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    folder = resolve("someone/bin-only-vlm")
    assert (folder / "pytorch_model.bin").is_file()
    assert len(calls) == 2 and "*.py" in calls[0] and "*.tiktoken" in calls[0]
    assert not any(p.endswith(".bin") for p in calls[0])
