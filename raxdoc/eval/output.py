"""The predicted side of eval: `OUTPUT/documents/*.parquet` as raxdoc writes it, keyed by stem.

Each `documents` row is keyed by its `source`'s file stem (`.../inv-7.pdf` -> `inv-7`, the
name of its label). Only the identity columns and the schema's fields are read (never the
large raw-text columns); a schema field the output lacks reads as no value, and raxdoc's own
columns (checks, grounding, timings) are ignored. Two rows with one stem cannot be told apart
by the labels, so they are an error rather than a guess.

Not here: labels (`truth.py`), scoring (`score.py`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote_to_bytes

import pyarrow as pa
import pyarrow.parquet as pq

from raxdoc.eval.values import DocKeys, EvalError, document_keys, scored_fields

DOCUMENTS = "documents"  # the table raxdoc's store writes under OUTPUT
FILE_SCHEME = "file://"


@dataclass(frozen=True)
class OutputDoc:
    """One `documents` row, ready to score."""

    source: str
    status: str | None  # ok / partial / error, as written
    keys: DocKeys


def source_path(source: str) -> str:
    """A source as the file system names it: raxdoc writes a local path that is not valid UTF-8 as
    a percent-encoded `file://` URL (`raxdoc.ingest.localfs.display`); this undoes that, so the
    stem holds the same lone surrogates as `Path.stem` of a label named by those bytes."""
    if source.startswith(FILE_SCHEME):
        return os.fsdecode(unquote_to_bytes(source[len(FILE_SCHEME):]))
    return source


def source_stem(source: str) -> str:
    """`s3://b/x/inv-7.pdf`, `/in/inv-7.pdf`, `C:\\in\\inv-7.pdf` -> `inv-7`."""
    return PurePosixPath(source_path(source).replace("\\", "/").rstrip("/")).stem


def printable(name: str) -> str:
    """`name` with the lone surrogates of undecodable file-name bytes as `\\xff` escapes: valid
    UTF-8 for the console and the JSON figures."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no file-name byte stands for
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def load_output(output: str | Path, schema) -> dict[str, OutputDoc]:
    """Every `documents` row under `output`, keyed by source stem (EvalError on a missing folder,
    no Parquet files, an unreadable file, or two rows with one stem)."""
    folder = Path(output)
    if not folder.is_dir():
        raise EvalError(f"output folder {str(folder)!r} does not exist (or is not a folder)")
    paths = sorted((folder / DOCUMENTS).glob("*.parquet"))
    if not paths:
        raise EvalError(f"no documents in {str(folder)!r}: expected {DOCUMENTS}/*.parquet as `raxdoc extract` "
                        f"writes it")
    wanted = ["source", "status", *scored_fields(schema)]
    out: dict[str, OutputDoc] = {}
    for path in paths:
        for row in _rows(path, wanted):
            source = row.get("source") or ""
            stem = source_stem(source)
            if stem in out:
                raise EvalError(f"two output rows share the stem {stem!r} ({out[stem].source!r} and {source!r}); "
                                f"labels are keyed by stem, so evaluate these documents in separate folders")
            out[stem] = OutputDoc(source, row.get("status"), document_keys(row, schema, strict=False))
    return out


def _rows(path: Path, wanted: list[str]) -> list[dict]:
    try:
        names = set(pq.read_schema(path).names)
        if "source" not in names:
            raise EvalError(f"{str(path)!r} has no `source` column: not a raxdoc documents table")
        table = pq.read_table(path, columns=[c for c in wanted if c in names])
    except (OSError, pa.ArrowException) as exc:
        raise EvalError(f"cannot read output file {str(path)!r}: {exc}") from None
    return table.to_pylist()
