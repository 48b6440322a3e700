"""`raxdoc bench` is a thin entry into bench/ of the source checkout; without one it is a usage error."""

from __future__ import annotations

from typer.testing import CliRunner

from raxdoc import cli


def test_bench_without_a_source_checkout_is_a_usage_error(tmp_path, monkeypatch):
    # An installed copy: cli.py sits in site-packages/raxdoc/, with no bench/ beside the package.
    fake = tmp_path / "site-packages" / "raxdoc" / "cli.py"
    fake.parent.mkdir(parents=True)
    monkeypatch.setattr(cli, "__file__", str(fake))
    result = CliRunner().invoke(cli.app, ["bench", "--preset", "tiny"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "source checkout" in text and "Traceback" not in text


def test_bench_finds_the_checkout_beside_the_package(monkeypatch):
    import bench.engine_run

    assert cli._bench_entry() is bench.engine_run.run_engine_bench
