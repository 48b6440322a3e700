"""The `raxdoc` command's usage errors: exit code 2 and a message that says what to do."""

from typer.testing import CliRunner

from raxdoc.cli import app

runner = CliRunner()


def _one_pdf(tmp_path):
    """An input folder holding one (unreadable) PDF: enough for the CLI to get past its checks."""
    pdf = tmp_path / "in" / "a.pdf"
    pdf.parent.mkdir()
    pdf.write_bytes(b"%PDF-1.4\n")
    return pdf


def _fake_dataset(monkeypatch, dataset):
    """Run the pipeline's driver over `dataset` instead of a Ray graph (no Ray started)."""
    from raxdoc.pipeline import run

    monkeypatch.setattr(run, "init_ray", lambda address: False)
    monkeypatch.setattr(run, "build_dataset", lambda *a, **k: dataset)


def _run(*args):
    result = runner.invoke(app, list(args))
    result.text = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    return result


def test_help_lists_extract_options():
    result = _run("extract", "--help")
    assert result.exit_code == 0
    for flag in ("--output", "--model", "--profile", "--schema", "--max-pages", "--dpi", "--address", "--einvoice"):
        assert flag in result.text


def test_unknown_profile_is_a_usage_error(tmp_path, tiny_checkpoint):
    result = _run("extract", str(tmp_path), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint),
                  "--profile", "tpu", "-q")
    assert result.exit_code == 2
    assert "unknown profile" in result.text


def test_missing_weights_explain_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    result = _run("extract", str(tmp_path), "-o", str(tmp_path / "out"), "--model", "raxcore-dev/Rax-4.5", "-q")
    assert result.exit_code == 2
    assert "hf download raxcore-dev/Rax-4.5" in result.text and "HF_HUB_OFFLINE" in result.text


def test_unknown_einvoice_mode_is_a_usage_error(tmp_path, tiny_checkpoint):
    pdf = _one_pdf(tmp_path)
    result = _run("extract", str(pdf.parent), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint),
                  "--einvoice", "sometimes", "-q")
    assert result.exit_code == 2
    assert "einvoice must be one of auto, verify, off" in result.text


def test_no_inputs_found_is_a_usage_error(tmp_path, tiny_checkpoint):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run("extract", str(empty), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "-q")
    assert result.exit_code == 2
    assert "no input documents" in result.text


def test_bad_custom_schema_is_a_usage_error(tmp_path, tiny_checkpoint):
    result = _run("extract", str(tmp_path), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint),
                  "--schema", "no_such_module:Thing", "-q")
    assert result.exit_code == 2
    assert "no_such_module" in result.text


def test_bench_runs_the_engine_benchmark_on_cpu(tmp_path):
    import json

    out = tmp_path / "bench.json"
    result = _run("bench", "--preset", "tiny", "--profile", "cpu", "--pages", "2", "--max-new-tokens", "3",
                  "--no-baseline", "--ckpt-dir", str(tmp_path / "ckpt"), "--out", str(out))
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["command"].startswith("raxdoc")
    assert figures["preset"] == "tiny" and figures["engine"]["pages"] == 2
    assert figures["engine"]["pages_per_s"] > 0 and figures["engine"]["output_tokens"] == 2 * 3


def test_gpu_profile_without_a_gpu_is_a_usage_error(tmp_path, tiny_checkpoint):
    import torch

    if torch.cuda.is_available():
        import pytest

        pytest.skip("machine has a GPU")
    pdf = _one_pdf(tmp_path)
    result = _run("extract", str(pdf.parent), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint),
                  "--profile", "l4", "-q")
    assert result.exit_code == 2
    assert "needs a GPU" in result.text and "--profile cpu" in result.text


def _job_main():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "jobs" / "extract_invoices.py"
    spec = importlib.util.spec_from_file_location("extract_invoices_job", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_job_script_takes_repeated_and_equals_inputs(tmp_path, monkeypatch):
    from raxdoc import pipeline

    seen = {}

    def fake_extract(inputs, output, **kw):
        seen.update(inputs=list(inputs), output=output)
        return pipeline.ExtractSummary(output, 2, 2, 0, 0, 0, 2, 0, 0.1)

    monkeypatch.setattr(pipeline, "extract", fake_extract)
    code = _job_main()(["--input", "s3://b/a/", "--input=s3://b/c.pdf", "--output", str(tmp_path), "-q"])
    assert code == 0 and seen == {"inputs": ["s3://b/a/", "s3://b/c.pdf"], "output": str(tmp_path)}


def test_job_script_input_without_a_value_is_a_usage_error(tmp_path, monkeypatch, capsys):
    from raxdoc import pipeline

    monkeypatch.setattr(pipeline, "extract", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    main = _job_main()
    assert main(["--output", str(tmp_path), "--input"]) == 2
    assert main(["--input=", "--output", str(tmp_path)]) == 2
    assert main(["--input", "--output", str(tmp_path)]) == 2
    assert "needs a path" in capsys.readouterr().err


def test_a_run_that_stops_midway_is_not_a_usage_error(tmp_path, tiny_checkpoint, monkeypatch):
    class BrokenDataset:
        def iter_batches(self, **kw):
            raise ValueError("Failed to unify schemas [/in/a.pdf]")  # a ValueError from deep in Ray

    _fake_dataset(monkeypatch, BrokenDataset())
    pdf = _one_pdf(tmp_path)
    result = _run("extract", str(pdf.parent), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "-q")
    assert result.exit_code == 1, result.output
    assert "stopped after 0 of 1 documents" in result.text and "again to resume" in result.text
    assert "[/in/a.pdf]" in result.text


def test_a_mistyped_input_is_a_usage_error(tmp_path, tiny_checkpoint):
    result = _run("extract", str(tmp_path / "invoces"), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint),
                  "-q")
    assert result.exit_code == 2
    assert "no input documents found" in result.text and "invoces" in result.text
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_some_documents_failed_exits_1_and_says_where_to_look(tmp_path, tiny_checkpoint, monkeypatch):
    class NothingComesBack:
        def iter_batches(self, **kw):
            return iter(())

    _fake_dataset(monkeypatch, NothingComesBack())
    pdf = _one_pdf(tmp_path)
    result = _run("extract", str(pdf.parent), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "-q")
    assert result.exit_code == 1, result.output
    assert "1 document(s) not ok" in result.text and str(tmp_path / "out" / "documents") in result.text


def test_bench_grammar_flag_reaches_the_benchmark(monkeypatch):
    import bench.engine_run as benchmark

    seen = {}
    monkeypatch.setattr(benchmark, "run_engine_bench", lambda **kw: seen.update(kw))
    result = _run("bench", "--preset", "tiny", "--grammar", "--pages", "3")
    assert result.exit_code == 0, result.output
    assert seen["grammar"] is True and seen["pages"] == 3
    _run("bench", "--preset", "tiny")
    assert seen["grammar"] is False


def test_a_folder_that_is_not_a_checkpoint_is_a_usage_error(tmp_path, monkeypatch):
    from raxdoc.pipeline import run

    monkeypatch.setattr(run, "init_ray", lambda address: (_ for _ in ()).throw(AssertionError("Ray started")))
    pdf = _one_pdf(tmp_path)
    not_ckpt = tmp_path / "weights"
    not_ckpt.mkdir()
    (not_ckpt / "config.json").write_text('{"model_type": "bert"}')
    result = _run("extract", str(pdf.parent), "-o", str(tmp_path / "out"), "--model", str(not_ckpt), "-q")
    assert result.exit_code == 2, result.output
    assert "model_type must be 'qwen3_5'" in result.text and "Traceback" not in result.output
    assert "hf download" not in result.text  # a local folder: the hub hint would mislead


def test_an_output_that_is_a_file_is_a_usage_error(tmp_path, tiny_checkpoint):
    pdf = _one_pdf(tmp_path)
    out = tmp_path / "out.parquet"
    out.write_text("a file")
    result = _run("extract", str(pdf.parent), "-o", str(out), "--model", str(tiny_checkpoint), "-q")
    assert result.exit_code == 2, result.output
    assert f"cannot write to {out}" in result.text and "Traceback" not in result.output


def test_s3_output_without_s3fs_is_a_usage_error(tmp_path, tiny_checkpoint):
    import importlib.util

    import pytest

    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed")
    pdf = _one_pdf(tmp_path)
    result = _run("extract", str(pdf.parent), "-o", "s3://bucket/run", "--model", str(tiny_checkpoint), "-q")
    assert result.exit_code == 2, result.output
    assert "cannot write to s3://bucket/run" in result.text and "s3fs" in result.text


def test_a_foreign_parquet_file_in_documents_is_a_usage_error(tmp_path, tiny_checkpoint):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pdf = _one_pdf(tmp_path)
    foreign = tmp_path / "out" / "documents" / "part-export.parquet"
    foreign.parent.mkdir(parents=True)
    pq.write_table(pa.table({"invoice": ["x"]}), foreign)
    result = _run("extract", str(pdf.parent), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "-q")
    assert result.exit_code == 2, result.output
    # rich may wrap the path at its hyphen, so match around it.
    assert "export.parquet was not written by raxdoc" in result.text and "Traceback" not in result.output


def test_ctrl_c_says_how_to_resume_and_exits_130(tmp_path, tiny_checkpoint, monkeypatch):
    class Interrupted:
        def iter_batches(self, **kw):
            raise KeyboardInterrupt

    _fake_dataset(monkeypatch, Interrupted())
    pdf = _one_pdf(tmp_path)
    result = _run("extract", str(pdf.parent), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "-q")
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.text and "run the same command again to resume" in result.text


def test_a_run_without_line_items_still_has_a_queryable_line_items_part(tmp_path, tiny_checkpoint, monkeypatch):
    import duckdb

    class NothingComesBack:
        def iter_batches(self, **kw):
            return iter(())

    _fake_dataset(monkeypatch, NothingComesBack())
    pdf = _one_pdf(tmp_path)
    out = tmp_path / "out"
    _run("extract", str(pdf.parent), "-o", str(out), "--model", str(tiny_checkpoint), "-q")
    assert len(list((out / "line_items").glob("*.parquet"))) == len(list((out / "documents").glob("*.parquet"))) == 1
    rows = duckdb.sql(f"SELECT count(*), count(doc_id) FROM '{out}/line_items/*.parquet'").fetchall()
    assert rows == [(0, 0)]


def test_pages_total_grows_as_documents_are_opened_and_done_follows_pages(tmp_path, tiny_checkpoint, monkeypatch):
    import time

    from raxdoc.pipeline import extract, run
    from raxdoc.pipeline.rows import RowKind, StageRow

    def page(doc, i, n):
        return StageRow(doc, f"/in/{doc}.pdf", RowKind.PAGE, page_index=i, page_count=n, file_page_count=n, text="{}")

    class Batches:  # what the engine stage hands back, already decoded; each a bit later (the throttle)
        def iter_batches(self, **kw):
            for batch in ([page("a", 0, 2)], [page("a", 1, 2)], [page("b", i, 3) for i in range(3)]):
                time.sleep(0.25)
                yield batch

    class Counter:  # ingest has opened both documents (5 pages) before the first page comes back
        def poll(self):
            return 5

    _fake_dataset(monkeypatch, Batches())
    monkeypatch.setattr(run, "decode_batch", lambda batch: batch)
    monkeypatch.setattr(run, "open_page_counter", lambda: Counter())
    pdf = _one_pdf(tmp_path)
    events = []
    extract([str(pdf.parent)], str(tmp_path / "out"), model=str(tiny_checkpoint), profile="cpu",
            on_progress=events.append)
    pages = [(e["pages_done"], e["pages_total"]) for e in events]
    assert (1, 5) in pages and (2, 5) in pages  # not N/N: the total is ahead of what is done
    assert pages[-1] == (5, 5)
    assert [d for d, _ in pages] == sorted(d for d, _ in pages)


def test_progress_sink_draws_a_growing_pages_total():
    from rich.progress import Progress

    from raxdoc.console import ProgressSink

    progress = Progress()
    sink = ProgressSink(progress)
    sink({"documents_total": 2, "documents_done": 0, "pages_total": 0, "pages_done": 0})
    sink({"documents_total": 2, "documents_done": 0, "pages_total": 2, "pages_done": 0})
    sink({"documents_total": 2, "documents_done": 1, "pages_total": 5, "pages_done": 2})
    task = progress.tasks[1]
    assert (task.completed, task.total) == (2, 5)
