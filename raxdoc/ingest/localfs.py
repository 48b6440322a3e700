"""Local files: which inputs are local paths, how a path is written as a source, walking, reading.

The rules users rely on:

- A name without a scheme (`proto://`, or a chain such as `simplecache::s3://`) is a local path and
  is never parsed as an fsspec URL: `a::b.pdf` and `100%.pdf` are file names. `file://` URLs are
  local paths too; their percent-escapes are decoded (RFC 8089, what `Path.as_uri()` writes).
- A local source is written (`SourceRef.url`, the `source` column) as its plain absolute path when
  that path is valid UTF-8. A path holding bytes that are not (a name like b"bad\\xff.pdf", which
  Python holds as "bad\\udcff.pdf" and Arrow refuses) is written as a `file://` URL with every
  byte other than letters, digits and `/_.-~` percent-encoded: valid UTF-8, and reading it opens the same file.
- Walking a folder follows symlinked sub-folders; a folder already walked in this walk (same device
  and inode: a symlink cycle, or two links to one folder) is not walked again, so a cycle ends.
- Only regular files are read. A FIFO, socket or device is an unreadable source ("not a regular
  file"): it is opened non-blocking and checked before a byte is read, so a FIFO never hangs a run.

Not here: remote filesystems and globs (`sources.py`), file contents (`sniff.py` and onwards).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from urllib.parse import quote, unquote_to_bytes

from raxdoc.errors import SourceNotFound, SourceUnreadable

FILE_SCHEME = "file://"
# "proto://", or a chain of protocols before one ("blockcache::s3://"): the only texts read as URLs.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*(::[A-Za-z][A-Za-z0-9+.\-]*)*://")
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def local_path(text: str) -> str | None:
    """The absolute filesystem path `text` names (surrogate-escaped str), or None for a remote URL."""
    if text.startswith(FILE_SCHEME):
        return os.path.abspath(os.fsdecode(unquote_to_bytes(text[len(FILE_SCHEME):])))
    if _URL.match(text):
        return None
    return os.path.abspath(text)


def display(path: str) -> str:
    """How a local path is written as a source: itself, or a percent-encoded `file://` URL when it is
    not valid UTF-8 (see the module docstring); `local_path` turns either back into `path`."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, held as lone surrogates by os.fsdecode
        return FILE_SCHEME + quote(os.fsencode(path), safe="/")
    return path


def walk(root: str) -> Iterator[tuple[str, OSError | None]]:
    """(path, None) for every file below `root`, following symlinked folders, skipping hidden names;
    (folder, error) for a folder that could not be listed (it becomes an error row, not a silent gap)."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:  # a cycle, or a second link to a walked folder
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            yield folder, exc
            continue
        for entry in listed:
            if entry.name.startswith("."):  # .git, .DS_Store
                continue
            try:
                is_dir = entry.is_dir()  # follows a symlink
            except OSError:  # a symlink loop on itself: read as a file, it becomes an error row
                is_dir = False
            if is_dir:
                stack.append(entry.path)
            else:
                yield entry.path, None


def read_local(path: str, source: str) -> bytes:
    """All bytes of the regular file at `path`; SourceNotFound / SourceUnreadable otherwise.
    `source` is the path's display form, which the errors name."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer would block forever; no effect on a regular file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise SourceNotFound(source, "no such file") from exc
    except OSError as exc:  # a socket (ENXIO), permission denied, a symlink loop (ELOOP)
        raise SourceUnreadable(source, _os_reason(exc)) from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise SourceUnreadable(source, "is a directory; use iter_sources to expand it")
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "a special file")
            raise SourceUnreadable(source, f"not a regular file: {kind}")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as f:
            fd = -1  # the file object owns it now
            return f.read()
    except OSError as exc:
        raise SourceUnreadable(source, _os_reason(exc)) from exc
    finally:
        if fd >= 0:
            os.close(fd)


def _os_reason(exc: OSError) -> str:
    """An OSError's reason without its file name (the row names the source, in its valid form)."""
    return f"{type(exc).__name__}: {exc.strerror or exc}"
