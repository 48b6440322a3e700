"""Sources: what the user typed (paths, directories, globs, fsspec URLs) -> one ref per file.

`iter_sources` expands directories recursively and globs, removes duplicates, and yields
refs in one stable sorted order, so two runs over the same inputs see the same sequence
(resume depends on it). An input that names nothing is not raised: it becomes a ref that
carries a `SourceNotFound` (or `SourceUnreadable`) error, which `read_document` raises
and the pipeline turns into an error row. Remote protocols (s3://, gs://) need their
fsspec driver installed (s3fs, gcsfs); without it the ref carries the error.

Local paths never go through fsspec's URL parsing (`a::b.pdf` is a file name), folders are walked
following symlinked sub-folders, only regular files are read (a FIFO is an error row, not a hang),
and a path that is not valid UTF-8 is written as a percent-encoded `file://` URL: the rules are in
`localfs.py`.

Not here: sniffing or parsing file contents (`sniff.py`, `pdf.py`, `image.py`).
Hidden files and folders (names starting with ".") found while walking a directory or
matching a glob are skipped (.DS_Store, .git); named explicitly, they are read like
any other file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import fsspec
from fsspec.spec import AbstractFileSystem

from raxdoc.errors import RaxdocError, SourceNotFound, SourceUnreadable
from raxdoc.ingest.localfs import display, local_path, read_local, walk

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, order=True)
class SourceRef:
    """One input file: a local absolute path (a `file://` URL if not valid UTF-8) or a protocol-qualified URL."""

    url: str
    # Set when the input could not be resolved; read_document raises it.
    error: RaxdocError | None = field(default=None, compare=False)


def iter_sources(inputs: str | os.PathLike | SourceRef | Iterable[str | os.PathLike | SourceRef]) -> Iterator[SourceRef]:
    """Every file named by `inputs`, sorted by URL, each once."""
    if isinstance(inputs, (str, os.PathLike, SourceRef)):
        inputs = [inputs]
    refs: dict[str, SourceRef] = {}
    for item in inputs:
        for ref in _expand(item):
            # A resolved ref wins over an error ref of the same URL (e.g. listed twice).
            if ref.url not in refs or refs[ref.url].error is not None:
                refs[ref.url] = ref
    yield from sorted(refs.values())


def read_source_bytes(source: SourceRef) -> bytes:
    """All bytes of one source; typed errors for missing or unreadable ones."""
    if source.error is not None:
        raise source.error
    path = local_path(source.url)
    if path is not None:
        return read_local(path, source.url)
    try:
        fs, path = fsspec.core.url_to_fs(source.url)
        with fs.open(path, "rb") as f:
            return f.read()
    except FileNotFoundError as e:
        raise SourceNotFound(source.url, "no such file") from e
    except IsADirectoryError as e:
        raise SourceUnreadable(source.url, "is a directory; use iter_sources to expand it") from e
    except (ImportError, ValueError, OSError) as e:
        raise SourceUnreadable(source.url, f"{type(e).__name__}: {e}") from e


def to_source_ref(source: str | os.PathLike | SourceRef) -> SourceRef:
    """A ref for one file as given (no expansion, no existence check)."""
    if isinstance(source, SourceRef):
        return source
    text = os.path.expanduser(os.fspath(source))
    path = local_path(text)
    if path is not None:
        return SourceRef(display(path))
    try:
        fs, path = fsspec.core.url_to_fs(text)
    except (ImportError, ValueError, OSError) as e:  # OSError: a driver connects at once (ftp:// to no host)
        return SourceRef(text, SourceUnreadable(text, f"{type(e).__name__}: {e}"))
    return SourceRef(_canonical(fs, path))


def _expand(item: str | os.PathLike | SourceRef) -> Iterator[SourceRef]:
    if isinstance(item, SourceRef):
        yield item
        return
    text = os.path.expanduser(os.fspath(item))  # "~/invoices" from Python, where no shell expanded it
    local = local_path(text)
    if local is not None:
        yield from _expand_local(local)
        return
    try:
        fs, path = fsspec.core.url_to_fs(text)
    except (ImportError, ValueError, OSError) as e:
        # ImportError: protocol driver missing (s3fs); ValueError: unknown protocol; OSError: a
        # driver that connects at once and cannot (ftp:// to a host that does not resolve).
        yield SourceRef(text, SourceUnreadable(text, f"{type(e).__name__}: {e}"))
        return
    try:
        if fs.isdir(path):
            yield from _walk(fs, path)
        elif fs.isfile(path):
            yield SourceRef(_canonical(fs, path))
        elif _GLOB_CHARS & set(path):
            matches = [m for m in fs.glob(path) if not _hidden(m, _glob_root(path))]
            if not matches:
                yield SourceRef(text, SourceNotFound(text, "glob matched no files"))
            for match in matches:
                if fs.isdir(match):
                    yield from _walk(fs, match)
                else:
                    yield SourceRef(_canonical(fs, match))
        else:
            yield SourceRef(_canonical(fs, path), SourceNotFound(text, "no such file or directory"))
    except (OSError, ValueError) as e:
        # Permission denied, network errors, bad bucket names: the input becomes an error row.
        yield SourceRef(text, SourceUnreadable(text, f"{type(e).__name__}: {e}"))


def _expand_local(path: str) -> Iterator[SourceRef]:
    """Refs for a local path, folder or glob; like `_expand`, but no URL parsing and no fsspec walk."""
    from fsspec.implementations.local import LocalFileSystem

    name = display(path)
    try:
        if os.path.isdir(path):
            yield from _walk_local(path)
        elif os.path.lexists(path):  # a file, a FIFO, a dangling link: reading it says which
            yield SourceRef(name)
        elif _GLOB_CHARS & set(path):
            fs = LocalFileSystem()  # its glob only: the pattern is a path, never parsed as a URL
            matches = [m for m in fs.glob(path) if not _hidden(m, _glob_root(path))]
            if not matches:
                yield SourceRef(name, SourceNotFound(name, "glob matched no files"))
            for match in matches:
                yield from (_walk_local(match) if os.path.isdir(match) else [SourceRef(display(match))])
        else:
            yield SourceRef(name, SourceNotFound(name, "no such file or directory"))
    except (OSError, ValueError) as e:
        yield SourceRef(name, SourceUnreadable(name, f"{type(e).__name__}: {e}"))


def _walk_local(root: str) -> Iterator[SourceRef]:
    for path, error in walk(root):
        name = display(path)
        yield SourceRef(name, None if error is None else SourceUnreadable(name, f"cannot list folder: {error}"))


def _walk(fs: AbstractFileSystem, root: str) -> Iterator[SourceRef]:
    for path in fs.find(root, withdirs=False):
        if not _hidden(path, root):
            yield SourceRef(_canonical(fs, path))


def _hidden(path: str, root: str) -> bool:
    """True when a component of `path` below `root` starts with a dot."""
    rel = PurePosixPath(path.replace(os.sep, "/")).parts[len(PurePosixPath(root.replace(os.sep, "/")).parts):]
    return any(part.startswith(".") for part in rel)


def _glob_root(pattern: str) -> str:
    """The literal directory prefix of a glob pattern."""
    parts = PurePosixPath(pattern.replace(os.sep, "/")).parts
    literal = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        literal.append(part)
    return str(PurePosixPath(*literal)) if literal else ""


def _canonical(fs: AbstractFileSystem, path: str) -> str:
    """Local files as plain absolute paths (what users expect in output); others as URLs."""
    if "file" in _protocols(fs):
        return display(os.path.abspath(path))
    return fs.unstrip_protocol(path)


def _protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
