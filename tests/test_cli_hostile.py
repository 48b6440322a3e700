"""The `raxdoc` commands under careless use: help renders, and each usage error is exit 2 with one
readable line and no traceback, before Ray starts or a model loads (no Ray in this file)."""

import subprocess
import sys
import typing

import pytest
from typer.testing import CliRunner

from raxdoc.cli import app, bench

runner = CliRunner()


def _run(*args, **env):
    result = runner.invoke(app, list(args), env=env or None)
    result.text = " ".join(result.output.split())
    assert "Traceback" not in result.output and not isinstance(result.exception, (TypeError, AttributeError))
    return result


@pytest.fixture
def no_ray(monkeypatch):
    from raxdoc.pipeline import run

    monkeypatch.setattr(run, "init_ray", lambda address: (_ for _ in ()).throw(AssertionError("Ray started")))


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.pdf").write_bytes(b"%PDF-1.4\n")
    return str(tmp_path / "in")


@pytest.mark.parametrize("command", ["extract", "eval", "doctor", "models", "bench"])
def test_help_of_every_command_renders_with_its_brackets(command):
    result = _run(command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.text
    if command == "extract":  # rich markup would have eaten "[ocr]" as a tag
        assert "pip install 'raxdoc[ocr]'" in result.text and "KEY=VALUE" in result.text


def test_python_m_raxdoc_without_arguments_lists_the_commands():
    done = subprocess.run([sys.executable, "-m", "raxdoc"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert all(name in done.stdout + done.stderr for name in ("extract", "eval", "doctor", "models", "bench"))


def test_a_bad_flag_value_is_one_line_not_a_panel(inputs, tmp_path):
    result = _run("extract", inputs, "-o", str(tmp_path / "out"), "--dpi", "abc")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if "Invalid value" in line]
    assert len(lines) == 1 and "'--dpi'" in lines[0] and "╭" not in result.output


@pytest.mark.parametrize("flag", ["--max-pixels", "--dpi", "--max-pages", "--engines", "--max-new-tokens",
                                  "--max-num-seqs"])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "1e3"])
def test_numeric_flags_refuse_nonsense(inputs, tmp_path, flag, value):
    result = _run("extract", inputs, "-o", str(tmp_path / "out"), flag, value)
    assert result.exit_code == 2 and f"'{flag}'" in result.text
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["--max-pixels", "--max-num-seqs", "--max-new-tokens"])
def test_huge_profile_overrides_are_refused_before_ray(inputs, tmp_path, tiny_checkpoint, no_ray, flag):
    result = _run("extract", inputs, "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--profile", "cpu",
                  "-q", flag, "99999999999999999999")
    assert result.exit_code == 2 and "is too large (at most" in result.text
    assert not (tmp_path / "out").exists()


def test_an_empty_output_or_input_name_is_refused_not_the_working_folder(inputs, tmp_path, tiny_checkpoint, no_ray,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run("extract", inputs, "-o", "", "--model", str(tiny_checkpoint), "--profile", "cpu", "-q")
    assert result.exit_code == 2 and "output is empty" in result.text
    result = _run("extract", "", "-o", "out", "--model", str(tiny_checkpoint), "--profile", "cpu", "-q")
    assert result.exit_code == 2 and "input name is empty" in result.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_bad_environment_switch_is_one_line_naming_it(inputs, tmp_path, tiny_checkpoint, no_ray):
    result = _run("extract", inputs, "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--profile", "cpu",
                  "-q", RAXDOC_DECODE_ATTENTION="fastest")
    assert result.exit_code == 2 and "RAXDOC_DECODE_ATTENTION='fastest'" in result.text
    result = _run("doctor", "--model", str(tiny_checkpoint), "--profile", "cpu", RAXDOC_OPS="bogus")
    assert result.exit_code == 2 and "RAXDOC_OPS='bogus'" in result.text and "cannot load" not in result.text


def test_an_input_url_whose_host_does_not_resolve_is_an_error_row_not_a_crash():
    """ftp:// connects while listing: a host that does not resolve is that input's error, as any
    unreadable input's is (the others still run)."""
    from raxdoc.errors import SourceUnreadable
    from raxdoc.ingest.sources import iter_sources

    for listed in (list(iter_sources(["ftp://nohost.invalid/a.pdf"])), list(iter_sources(["ftp://nohost.invalid/"]))):
        [ref] = listed
        assert isinstance(ref.error, SourceUnreadable) and "nohost.invalid" in ref.url


def test_an_unreachable_address_is_refused_before_ray(inputs, tmp_path, tiny_checkpoint, no_ray):
    result = _run("extract", inputs, "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--profile", "cpu",
                  "-q", "--address", "localhost:notaport")
    assert result.exit_code == 2 and "must look like HOST:PORT" in result.text


def test_doctor_with_an_unknown_profile_does_not_blame_the_model(tiny_checkpoint):
    result = _run("doctor", "--model", str(tiny_checkpoint), "--profile", "tpu")
    assert result.exit_code == 2 and "unknown profile 'tpu'" in result.text and "cannot load" not in result.text


def test_ctrl_c_while_doctor_loads_the_model_exits_130(tiny_checkpoint, monkeypatch):
    from raxdoc.engine import Engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Engine, "from_pretrained", interrupted)
    result = _run("doctor", "--model", str(tiny_checkpoint), "--profile", "cpu")
    assert result.exit_code == 130 and "interrupted" in result.text


@pytest.mark.parametrize("args,message", [
    (["--preset", "huge"], "'--preset'"),
    (["--profile", "tpu"], "unknown profile 'tpu'"),
    (["--memory-cap-gib", "nan"], "--memory-cap-gib must be a positive number"),
    (["--memory-cap-gib", "-1"], "--memory-cap-gib must be a positive number"),
])
def test_bench_usage_errors_stop_before_the_benchmark(monkeypatch, args, message):
    import bench.engine_run as benchmark

    monkeypatch.setattr(benchmark, "run_engine_bench", lambda **kw: (_ for _ in ()).throw(AssertionError("ran")))
    result = _run("bench", "--preset", "tiny", "--no-baseline", *args)
    assert result.exit_code == 2 and message in result.text


def test_bench_presets_are_the_fixtures_presets():
    from raxdoc.testing.presets import PRESETS

    hint = typing.get_type_hints(bench)["preset"]
    assert set(typing.get_args(hint)) == set(PRESETS)


def test_ctrl_c_during_bench_exits_130(monkeypatch):
    import bench.engine_run as benchmark

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "run_engine_bench", interrupted)
    result = _run("bench", "--preset", "tiny", "--no-baseline")
    assert result.exit_code == 130 and "interrupted" in result.text


def test_eval_with_an_empty_name_does_not_read_the_working_folder(tmp_path):
    result = _run("eval", "", str(tmp_path))
    assert result.exit_code == 2 and "OUTPUT is empty" in result.text
    result = _run("eval", str(tmp_path), "")
    assert result.exit_code == 2 and "LABELS is empty" in result.text


def test_a_schema_module_that_raises_on_import_is_one_line(inputs, tmp_path, tiny_checkpoint, no_ray, monkeypatch):
    (tmp_path / "raxdoc_hostile_schema.py").write_text("raise TypeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = _run("extract", inputs, "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--profile", "cpu",
                  "-q", "--schema", "raxdoc_hostile_schema:Invoice")
    assert result.exit_code == 2 and "cannot import schema module 'raxdoc_hostile_schema': TypeError: boom at import" in result.text
