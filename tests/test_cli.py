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
