"""The `raxdoc` command: `extract INPUT... -o OUT`, `eval OUT TRUTH`, `models`, `doctor` and `bench`.

A thin layer over `raxdoc.pipeline.extract` and friends: parse flags, call, and map the outcome to
an exit code — 0 when every document is ok, 1 when some are partial or failed, 2 on usage errors
(bad flags, unknown profile, missing weights), 130 when interrupted (Ctrl-C), 143 when terminated
(SIGTERM: stopped the same way, `_TerminateLikeCtrlC`).

Not here: any extraction logic (raxdoc.pipeline), scoring (raxdoc.eval), what is drawn on the
terminal (`raxdoc.console`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal, Optional

import typer
from rich.console import Console
from rich.text import Text

from raxdoc.console import console, error as _error, print_summary, progress_bars, show_warnings
from raxdoc.settings import DEFAULT_MODEL

# No rich markup in help: help strings hold brackets ("pip install 'raxdoc[ocr]'") that rich would eat as tags.
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Extract invoice line items from PDFs into Parquet with Rax 4.5.")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by SIGINT (128 + 2)
EXIT_TERMINATED = 143  # and by SIGTERM (128 + 15): what supervisors (systemd, Kubernetes) expect


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the run stops as on Ctrl-C: parts kept, Ray shut down."""


class _TerminateLikeCtrlC:
    """While a run goes: SIGTERM raises `Terminated` once (later ones are ignored while it stops)."""

    def __enter__(self):
        import signal
        import threading

        self._signal, self._fired, self._before = signal, False, None
        if threading.current_thread() is threading.main_thread():  # only there may a handler be set
            self._before = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        if not self._fired:
            self._fired = True
            raise Terminated()

    def __exit__(self, *exc) -> None:
        if self._before is not None:
            self._signal.signal(self._signal.SIGTERM, self._before)


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
    ocr: bool = typer.Option(False, "--ocr", help="OCR scanned pages that have no text layer (CPU, RapidOCR: "
                                                   "pip install 'raxdoc[ocr]'), so their values get boxes."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Run a checkpoint's own modelling "
                                           "code (auto_map, e.g. R-4B) on the transformers reader. Off: refused."),
    reader_option: list[str] = typer.Option([], "--reader-option", metavar="KEY=VALUE", help="Replace a transformers "
                                            "reader's family default (repeatable; VALUE as JSON, else a string): "
                                            "chat_template_kwargs, min_pixels, max_pixels. See `raxdoc models`."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="Process documents whose earlier row in OUTPUT "
                                      "is an error again, replacing that row (default: skipped like done ones)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Remove OUTPUT's earlier rows first: needed to rerun "
                                   "into a folder written with other settings (schema, model, tokens, pixels)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Extract every input document into OUTPUT/documents and OUTPUT/line_items (Parquet)."""
    from raxdoc import pipeline
    from raxdoc.errors import RaxdocError
    from raxdoc.model.loader import LoaderError

    show_warnings()
    reader_options = _key_values(reader_option, "--reader-option")
    overrides = {"max_num_seqs": max_num_seqs, "max_new_tokens": max_new_tokens, "max_pixels": max_pixels}
    started = time.monotonic()
    with progress_bars(quiet) as bar, _TerminateLikeCtrlC():
        try:
            summary = pipeline.extract(
                inputs, output, model=model, profile=profile, schema=schema, max_pages=max_pages, dpi=dpi,
                address=address, engines=engines, constrained=constrained, einvoice=einvoice, ocr=ocr,
                on_progress=bar, **overrides, **({"trust_remote_code": True} if trust_remote_code else {}),
                **({"reader_options": reader_options} if reader_options else {}),
                retry_errors=retry_errors, overwrite=overwrite,
            )
        except LoaderError as exc:
            hint = ("Pass a checkpoint folder with --model (config.json and *.safetensors)"
                    if Path(model).expanduser().exists() else
                    f"Pass a checkpoint folder with --model, or download the weights once with `hf download {model}` "
                    f"(offline nodes: set HF_HOME to the shared cache and HF_HUB_OFFLINE=1)")
            _error(f"cannot load the model: {exc}\n{hint}.")
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt as exc:
            how = "terminated" if isinstance(exc, Terminated) else "interrupted"
            _error(f"{how}. Parts already written to {output} are kept: run the same command again to resume.")
            raise typer.Exit(EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED) from None
        except pipeline.RunFailed as exc:  # not a usage error, whatever its cause's type
            _error(str(exc))
            raise typer.Exit(EXIT_SOME_FAILED) from None
        except (RaxdocError, ValueError, FileNotFoundError) as exc:
            _error(str(exc))
            raise typer.Exit(EXIT_USAGE) from None
    print_summary(summary, time.monotonic() - started)
    raise typer.Exit(EXIT_OK if summary.all_ok else EXIT_SOME_FAILED)


@app.command()
def bench(
    preset: Literal["rax-4.5", "tiny"] = typer.Option(  # = raxdoc.testing.presets.PRESETS (a test says so)
        "rax-4.5", help="Model preset: rax-4.5 (full size, GPU) or tiny (CPU, anywhere)."),
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

    from raxdoc.cli_checks import check_bench

    run_engine_bench = _bench_entry()
    _usage(check_bench, profile, memory_cap_gib)
    try:
        run_engine_bench(preset=preset, pages=pages, max_new_tokens=max_new_tokens, profile=profile,
                         baseline=baseline, baseline_pages=baseline_pages, memory_cap_gib=memory_cap_gib,
                         ckpt_dir=ckpt_dir, out=out, grammar=grammar, command=" ".join(["raxdoc", *sys.argv[1:]]))
    except KeyboardInterrupt:
        _interrupted()


@app.command()
def doctor(
    model: str = typer.Option(DEFAULT_MODEL, help="Checkpoint folder or hub id."),
    profile: str = typer.Option("auto", help="GPU tier: auto, cpu, l4, a10g, a100, h100."),
) -> None:
    """Check the engine's fast paths (fla, Triton, CUDA graphs, overlap) against the plain-torch reference."""
    from raxdoc.cli_checks import checked_profile
    from raxdoc.engine import Engine
    from raxdoc.engine.selfcheck import SelfCheckError
    show_warnings()
    prof = _usage(checked_profile, profile)
    try:
        engine = Engine.from_pretrained(model, profile=prof, self_check=True, max_num_seqs=4)
    except SelfCheckError as exc:
        _error(str(exc))
        raise typer.Exit(EXIT_SOME_FAILED) from None
    except KeyboardInterrupt:  # Ctrl-C while the weights load: one line, not a traceback
        _interrupted()
    except (OSError, ValueError, RuntimeError) as exc:  # LoaderError, CheckpointError, CUDA OOM: all at load
        _error(f"cannot load the model: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    console.print(Text("\n".join(f"{name:<18} {path}" for name, path in engine.paths.items())))


@app.command("models")
def models() -> None:
    """Supported readers: which checkpoints run on our engine, which on transformers, and their defaults."""
    from raxdoc.models_info import models_table

    Console().print(models_table())
    raise typer.Exit(EXIT_OK)


@app.command("eval")
def eval_(
    output: str = typer.Argument(..., metavar="OUTPUT",
                                 help="A `raxdoc extract` output folder (reads OUTPUT/documents/*.parquet)."),
    truth_dir: str = typer.Argument(..., metavar="LABELS", help="A folder of <stem>.json (one per document), or "
                                    "one .csv/.tsv/.jsonl/.json/.parquet file with a file column (README: "
                                    "Measure accuracy)."),
    schema: Optional[str] = typer.Option(None, help="Custom pydantic schema as module:Class, as extracted with."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the figures as JSON here."),
) -> None:
    """Score OUTPUT against LABELS: per-field precision/recall, header accuracy, line-item F1."""
    import json

    from raxdoc.eval import EvalError, evaluate, render, to_json
    from raxdoc.schemas import SchemaError

    if json_out is not None and (json_out.is_dir() or not json_out.parent.is_dir()):
        _error(f"--json {json_out}: {'is a folder' if json_out.is_dir() else 'its folder does not exist'}")
        raise typer.Exit(EXIT_USAGE)  # before scoring, not after printing the figures
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


def _usage(check, *args):
    """`check(*args)`; a ValueError from it is a usage error: one line, exit 2."""
    try:
        return check(*args)
    except ValueError as exc:
        _error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None


def _interrupted():
    _error("interrupted.")
    raise typer.Exit(EXIT_INTERRUPTED) from None


def _key_values(items: list[str], flag: str) -> dict:
    """KEY=VALUE strings as a dict, each VALUE parsed as JSON when it parses (`1000`, `{"a": false}`),
    else kept as the string; no `=`, or an empty KEY: a usage error. Which keys are valid is the
    callee's to say (one place: `raxdoc.model.families.check_reader_options`)."""
    import json

    out = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            _error(f"{flag} takes KEY=VALUE, got {item!r}")
            raise typer.Exit(EXIT_USAGE)
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
