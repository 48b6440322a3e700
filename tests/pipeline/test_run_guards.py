"""Run-level guards before any work: engine count against CPUs, the model folder, the output folder."""

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raxdoc.model.loader import LoaderError, check_checkpoint
from raxdoc.pipeline.graph import TooManyEngines, build_dataset, engine_count
from raxdoc.pipeline.store import DOCUMENTS, OutputError, OutputStore
from raxdoc.profiles import resolve_profile


def test_explicit_engines_that_leave_no_cpu_for_ingest_are_refused():
    with pytest.raises(TooManyEngines, match=r"--engines 4 .* has 4: use --engines 3 or fewer"):
        engine_count(4, 1, 4.0)
    with pytest.raises(TooManyEngines, match="at least 2"):
        engine_count(None, 1, 1.0)
    assert engine_count(3, 1, 4.0) == 3


def test_default_engines_are_capped_to_leave_one_cpu(caplog):
    assert engine_count(None, 8, 4.0) == 3
    assert "leave no CPU for ingest" in caplog.text
    assert engine_count(None, 1, 16.0) == 1


def test_build_dataset_refuses_before_building_anything(monkeypatch):
    import ray

    # The cluster's resources, as Ray would report them; Ray itself is not started.
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    monkeypatch.setattr(ray.data, "from_items", lambda *a, **k: pytest.fail("dataset built"))
    with pytest.raises(TooManyEngines, match="--engines 2"):
        build_dataset(["/in/a.pdf"], None, set(), "m", resolve_profile("cpu"), None, True, None, 2, object)


def test_checkpoint_check_accepts_a_real_checkpoint(tiny_checkpoint):
    check_checkpoint(tiny_checkpoint)


@pytest.mark.parametrize("breakage, message", [
    ("no_config", "no config.json"),
    ("bad_json", "not valid JSON"),
    ("wrong_model_type", "model_type must be 'qwen3_5'"),
    ("no_weights", "holds no weights"),
])
def test_checkpoint_check_names_what_is_wrong(tmp_path, tiny_checkpoint, breakage, message):
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    config = folder / "config.json"
    if breakage == "no_config":
        config.unlink()
    elif breakage == "bad_json":
        config.write_text("{not json")
    elif breakage == "wrong_model_type":
        config.write_text(json.dumps({**json.loads(config.read_text()), "model_type": "llama"}))
    else:
        for f in folder.glob("*.safetensors"):
            f.unlink()
    with pytest.raises(LoaderError, match=message):
        check_checkpoint(folder)


def test_output_that_is_a_file_is_an_output_error(tmp_path):
    target = tmp_path / "out"
    target.write_text("not a folder")
    with pytest.raises(OutputError, match=f"cannot write to {target}"):
        OutputStore(str(target))
    # Under a file: fails for root too (modes do not stop root).
    with pytest.raises(OutputError, match="cannot write to"):
        OutputStore(str(target / "sub"))


def test_unwritable_output_folder_is_an_output_error(tmp_path, monkeypatch):
    import fsspec.implementations.local as local

    OutputStore(str(tmp_path / "out"))  # the folders exist; the probe is what must fail

    def refuse(self, path, mode="rb", **kw):
        if "w" in mode:
            raise PermissionError(13, "Permission denied")
        return original(self, path, mode, **kw)

    original = local.LocalFileSystem._open
    monkeypatch.setattr(local.LocalFileSystem, "_open", refuse)
    with pytest.raises(OutputError, match="Permission denied"):
        OutputStore(str(tmp_path / "out"))


def test_an_fsspec_protocol_without_its_driver_is_an_output_error(monkeypatch):
    import fsspec.core

    def no_driver(url, **kw):
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr(fsspec.core, "url_to_fs", no_driver)
    with pytest.raises(OutputError, match="cannot write to s3://bucket/run: Install s3fs"):
        OutputStore("s3://bucket/run")


@pytest.mark.parametrize("contents", ["foreign_table", "not_parquet"])
def test_a_foreign_part_in_documents_is_named(tmp_path, contents):
    store = OutputStore(str(tmp_path))
    part = tmp_path / DOCUMENTS / "part-mine.parquet"
    if contents == "foreign_table":
        pq.write_table(pa.table({"id": [1, 2]}), part)
    else:
        part.write_bytes(b"hello")
    with pytest.raises(OutputError, match=f"{part} was not written by raxdoc"):
        store.done_rows()
    assert part.exists()  # a user's file is never deleted
