"""The `raxdoc` command: `raxdoc extract INPUT... -o OUT`, `raxdoc eval OUT TRUTH` and `raxdoc bench`.

A thin layer over `raxdoc.pipeline.extract`: parse flags, draw progress with rich, print a
summary table, and map the outcome to an exit code — 0 when every document is ok, 1 when some
are partial or failed, 2 on usage errors (bad flags, unknown profile, missing weights).

Not here: any extraction logic (pipeline.py and the stages), or scoring (raxdoc.eval).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.text import Text
from rich.table import Table

from raxdoc.settings import DEFAULT_MODEL

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Extract invoice line items from PDFs into Parquet with Rax 4.5.")
# soft_wrap: messages and paths are wrapped by the terminal, never broken in two by rich (copy-pastable).
console = Console(stderr=True, soft_wrap=True)

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by SIGINT (128 + 2)


@app.callback()
def _main() -> None:
    """raxdoc: invoice PDFs to validated line items in Parquet."""


@app.command()
def extract(
    inputs: list[str] = typer.Argument(..., help="PDF/image files, directories, globs or fsspec URLs (s3://...)."),
    output: str = typer.Option(..., "--output", "-o", help="Output folder (local path or fsspec URL)."),
    model: str = typer.Option(DEFAULT_MODEL, help="Checkpoint folder or hub id."),
    profile: str = typer.Option("auto", help="GPU tier: auto, cpu, l4, a10g, a100, h100."),
    schema: Optional[str] = typer.Option(None, help="Custom pydantic schema as module:Class."),
    max_pages: Optional[int] = typer.Option(None, min=1, help="Read at most this many pages a document."),
    dpi: Optional[int] = typer.Option(None, min=36, max=1200, help="Render DPI for born-digital pages."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)."),
    max_num_seqs: Optional[int] = typer.Option(None, min=1, help="Override the profile: sequences in flight."),
    max_new_tokens: Optional[int] = typer.Option(None, min=1, help="Override the profile: output tokens a page."),
    max_pixels: Optional[int] = typer.Option(None, min=1024, help="Override the profile: pixels a page."),
    engines: Optional[int] = typer.Option(None, min=1, help="Engine actors (default: one per GPU, or one on CPU)."),
    constrained: bool = typer.Option(True, help="Schema-constrained decoding (off: free text + JSON repair)."),
    einvoice: str = typer.Option("auto", help="E-invoice XML (Factur-X, ZUGFeRD, XRechnung, UBL): auto (take it, "
                                              "no model), verify (run the model too, report disagreements), off."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Extract every input document into OUTPUT/documents and OUTPUT/line_items (Parquet)."""
    from raxdoc import pipeline
    from raxdoc.errors import RaxdocError
    from raxdoc.model.loader import LoaderError

    _show_warnings()
    overrides = {"max_num_seqs": max_num_seqs, "max_new_tokens": max_new_tokens, "max_pixels": max_pixels}
    started = time.monotonic()
    with _progress(quiet) as bar:
        try:
            summary = pipeline.extract(
                inputs, output, model=model, profile=profile, schema=schema, max_pages=max_pages, dpi=dpi,
                address=address, engines=engines, constrained=constrained, einvoice=einvoice, on_progress=bar,
                **overrides,
            )
        except LoaderError as exc:
            hint = ("Pass a checkpoint folder with --model (config.json and *.safetensors)"
                    if Path(model).expanduser().exists() else
                    f"Pass a checkpoint folder with --model, or download the weights once with `hf download {model}` "
                    f"(offline nodes: set HF_HOME to the shared cache and HF_HUB_OFFLINE=1)")
            _error(f"cannot load the model: {exc}\n{hint}.")
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            _error(f"interrupted. Parts already written to {output} are kept: run the same command again to resume.")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except pipeline.RunFailed as exc:  # not a usage error, whatever its cause's type
            _error(str(exc))
            raise typer.Exit(EXIT_SOME_FAILED) from None
        except (RaxdocError, ValueError, FileNotFoundError) as exc:
            _error(str(exc))
            raise typer.Exit(EXIT_USAGE) from None
    _print_summary(summary, time.monotonic() - started)
    raise typer.Exit(EXIT_OK if summary.all_ok else EXIT_SOME_FAILED)


@app.command()
def bench(
    preset: str = typer.Option("rax-4.5", help="Model preset: rax-4.5 (full size, GPU) or tiny (CPU, anywhere)."),
    profile: str = typer.Option("auto", help="GPU tier whose settings the engine uses."),
    pages: int = typer.Option(512, min=1, help="Synthetic invoice pages (1,288 px, ~1,240 visual tokens)."),
    max_new_tokens: int = typer.Option(512, min=1, help="Output tokens forced per page (ignore_eos)."),
    baseline: bool = typer.Option(True, help="Also run transformers' generate on the workload."),
    baseline_pages: Optional[int] = typer.Option(None, min=1, help="Pages for the (slow) baseline."),
    memory_cap_gib: Optional[float] = typer.Option(None, help="Cap this process's GPU memory (GiB)."),
    ckpt_dir: Optional[str] = typer.Option(None, help="Keep the random checkpoint here and reuse it."),
    grammar: bool = typer.Option(False, help="Constrain pages to the invoice schema, as extract does (no baseline)."),
    out: Optional[Path] = typer.Option(None, help="Write the figures as JSON here."),
) -> None:
    """Engine throughput: pages/s, prefill and decode tokens/s, MFU, peak memory, ratio to transformers."""
    import sys

    run_engine_bench = _bench_entry()
    run_engine_bench(preset=preset, pages=pages, max_new_tokens=max_new_tokens, profile=profile,
                     baseline=baseline, baseline_pages=baseline_pages, memory_cap_gib=memory_cap_gib,
                     ckpt_dir=ckpt_dir, out=out, grammar=grammar, command=" ".join(["raxdoc", *sys.argv[1:]]))


@app.command("eval")
def eval_(
    output: str = typer.Argument(..., help="A `raxdoc extract` output folder (reads OUTPUT/documents/*.parquet)."),
    truth_dir: str = typer.Argument(..., help="Labels: one <stem>.json per document (header fields, line_items)."),
    schema: Optional[str] = typer.Option(None, help="Custom pydantic schema as module:Class, as extracted with."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the figures as JSON here."),
) -> None:
    """Score OUTPUT against labels: per-field precision/recall, header accuracy, line-item F1."""
    import json

    from raxdoc.eval import EvalError, evaluate, render, to_json
    from raxdoc.schemas import SchemaError

    try:
        report = evaluate(output, truth_dir, schema=schema)
    except (EvalError, SchemaError) as exc:
        _error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    render(report, Console())  # the figures are the command's product: stdout, unlike progress and errors
    if json_out is not None:
        try:
            json_out.write_text(json.dumps(to_json(report), indent=2) + "\n")
        except OSError as exc:
            _error(f"cannot write {json_out}: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        console.print(Text(f"wrote {json_out}"))
    raise typer.Exit(EXIT_OK)


def _bench_entry():
    """`bench.engine_run.run_engine_bench` from the source checkout this package runs from.

    Benchmark code is not shipped in the package (bench/ beside raxdoc/); an installed copy
    without the checkout gets a usage error saying so.
    """
    import sys

    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "engine_run.py").is_file():
        _error("raxdoc bench runs from a source checkout: its code lives in the repository's bench/ folder, "
               "which a plain install does not ship. Clone the repository and `pip install -e '.[test]'`.")
        raise typer.Exit(EXIT_USAGE)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from bench.engine_run import run_engine_bench

    return run_engine_bench


def _error(message: str) -> None:
    # Text, not markup: messages hold paths and lists ("[/in/a.pdf]"), which rich would read as tags.
    console.print(Text.assemble(("error: ", "bold red"), message))


def _show_warnings() -> None:
    """raxdoc's own warnings (no GPU, pages lost) on the console, above the progress bars."""
    import logging

    from rich.logging import RichHandler

    handler = RichHandler(console=console, show_time=False, show_path=False)
    logger = logging.getLogger("raxdoc")
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING)


class _ProgressSink:
    """Receives `pipeline` progress events and draws them; a no-op when quiet."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.docs = self.pages = None

    def __call__(self, event: dict) -> None:
        if self.progress is None:
            return
        if self.docs is None:
            self.docs = self.progress.add_task("documents", total=event.get("documents_total"))
            self.pages = self.progress.add_task("pages", total=event.get("pages_total") or None)
        self.progress.update(self.docs, completed=event.get("documents_done", 0),
                             total=event.get("documents_total"))
        # Pages are counted as documents are opened, so their total grows during the run.
        self.progress.update(self.pages, completed=event.get("pages_done", 0), total=event.get("pages_total") or None)


class _RateColumn(ProgressColumn):
    """Items a second (documents/s, pages/s); blank until rich has a speed estimate."""

    def render(self, task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:6.2f}/s")


class _progress:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.progress: Progress | None = None

    def __enter__(self) -> _ProgressSink:
        if not self.quiet:
            self.progress = Progress(
                TextColumn("[bold]{task.description:>9}"), BarColumn(), MofNCompleteColumn(),
                _RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                console=console, transient=False,
            )
            self.progress.start()
        return _ProgressSink(self.progress)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_summary(summary, seconds: float) -> None:
    table = Table(title="raxdoc extract", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in (
        ("documents ok", summary.ok), ("documents partial", summary.partial), ("documents error", summary.error),
        ("documents skipped (already done)", summary.skipped), ("pages", summary.pages),
        ("line items", summary.line_items), ("time", f"{seconds:.1f} s"),
        ("pages/s", f"{summary.pages / seconds:.2f}" if seconds > 0 else "-"),
    ):
        table.add_row(label, str(value))
    if summary.einvoice_documents:
        table.add_row("documents from e-invoice XML", str(summary.einvoice_documents))
    if summary.einvoice_agreement is not None:  # verify: a live accuracy figure for the model
        table.add_row("model agrees with e-invoices",
                      f"{summary.einvoice_agreement:.1%} of {summary.einvoice_compared} values "
                      f"({summary.einvoice_verified} document{'' if summary.einvoice_verified == 1 else 's'})")
    console.print(table)
    for path in summary.paths:
        console.print(Text(f"wrote {path}"))
    if not summary.all_ok:
        # Exit code 1 says "look"; say where.
        console.print(Text(f"{summary.partial + summary.error} document(s) not ok: see status, error_type, error "
                           f"and failed_pages in {summary.paths[0]}"))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
