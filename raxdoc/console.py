"""What the `raxdoc` command draws on the terminal: errors, raxdoc's warnings, progress bars, the summary.

Everything goes to stderr except a command's product (eval's table, models' list), which its command
prints to stdout itself. `console` soft-wraps: messages and paths are wrapped by the terminal, never
broken in two by rich, so they stay copy-pastable.

Not here: the commands, their flags and exit codes (`raxdoc.cli`).
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

console = Console(stderr=True, soft_wrap=True)


def error(message: str) -> None:
    # Text, not markup: messages hold paths and lists ("[/in/a.pdf]"), which rich would read as tags.
    console.print(Text.assemble(("error: ", "bold red"), message))


def show_warnings() -> None:
    """raxdoc's own warnings (no GPU, pages lost) on the console, above the progress bars."""
    import logging

    from rich.logging import RichHandler

    handler = RichHandler(console=console, show_time=False, show_path=False)
    logger = logging.getLogger("raxdoc")
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING)


class ProgressSink:
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


class progress_bars:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.progress: Progress | None = None

    def __enter__(self) -> ProgressSink:
        if not self.quiet:
            self.progress = Progress(
                TextColumn("[bold]{task.description:>9}"), BarColumn(), MofNCompleteColumn(),
                _RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                console=console, transient=False,
            )
            self.progress.start()
        return ProgressSink(self.progress)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


def print_summary(summary, seconds: float) -> None:
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
