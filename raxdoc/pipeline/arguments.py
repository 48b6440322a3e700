"""`extract()`'s arguments checked before anything runs: a wrong type or value is one clear error.

The CLI's flags are typed and bounded by typer; the Python API takes anything. Without these checks
a careless call fails far from its cause (`None` inputs: "'NoneType' object is not iterable"), or
worse, runs: an empty output name writes into the working folder, an empty input name reads it,
`constrained="no"` is true, `dpi=inf` makes every page an error row. Wrong types raise `TypeError`,
wrong values `ValueError` (the CLI maps ValueError to exit 2), each naming the argument.

Also here: keeping a run's own output out of its inputs (`outside_output`), so `-o` inside an
input folder does not make the next run read its Parquet parts as invoices.

Not here: what the values mean (`raxdoc.profiles`, `raxdoc.ingest.options`, `graph`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
import operator
import os
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

_BOOLS = ("constrained", "ocr", "trust_remote_code", "retry_errors", "overwrite")


def check_inputs(inputs: Any) -> list[Any]:
    """`inputs` as a list of paths/URLs/globs (or `SourceRef`s); one name alone is one input."""
    from raxdoc.ingest.sources import SourceRef

    if isinstance(inputs, (str, bytes, os.PathLike, SourceRef)):
        items = [inputs]
    elif isinstance(inputs, Iterable) and not isinstance(inputs, dict):
        items = list(inputs)
    else:
        raise TypeError(f"inputs must be a path, folder, glob or URL, or an iterable of them; "
                        f"got {type(inputs).__name__}")
    out = []
    for item in items:
        if isinstance(item, bytes):  # a path as the OS gives it (os.listdir(b".")): kept byte-exact
            item = os.fsdecode(item)
        if not isinstance(item, (str, os.PathLike, SourceRef)):
            raise TypeError(f"each input must be a path, folder, glob or URL (str or os.PathLike); "
                            f"got {type(item).__name__} {item!r}")
        if not isinstance(item, SourceRef) and not os.fspath(item).strip():
            # An unset shell variable ("$DIR"): read as ".", it would take the whole working folder.
            raise ValueError("an input name is empty (an unset variable?): name a file, folder, glob or URL")
        out.append(item)
    return out


def check_path(name: str, value: Any) -> str:
    """A non-empty path or URL (`output`, `model`) as a str."""
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path or URL (str or os.PathLike); got {type(value).__name__} {value!r}")
    text = os.fspath(value)
    if not text.strip():
        # "" is "." to the filesystem: the working folder, written into or read as a checkpoint.
        raise ValueError(f"{name} is empty (an unset variable?): give a folder or URL")
    return text


def check_output(output: Any) -> str:
    """`output` as a str: `~` expanded for a local folder (as for inputs); `::` refused there, since
    fsspec reads it as a URL chain and would write to the part before it."""
    from raxdoc.ingest.localfs import local_path

    text = check_path("output", output)
    if local_path(text) is None:  # a URL: an unknown protocol or a missing driver is the store's to say
        return text
    text = os.path.expanduser(text)
    if "::" in text:
        raise ValueError(f"output {text!r}: a local folder name must not hold '::' (fsspec reads it as a URL chain)")
    return text


def check_options(*, profile: Any, dpi: Any, max_pages: Any, engines: Any, write_every: Any, address: Any,
                  device: Any, on_progress: Any, einvoice: Any, profile_overrides: dict[str, Any],
                  **flags: Any) -> tuple[float | None, int | None, int | None, int]:
    """Types and ranges of the scalar options; the flags named in `_BOOLS` must be real bools.

    Returns (dpi, max_pages, engines, write_every) as plain float / int (a numpy integer is accepted,
    but the run's settings record is JSON)."""
    from raxdoc.profiles import Profile

    if not isinstance(profile, (str, Profile)):
        raise TypeError(f"profile must be a name (auto, cpu, l4, ...) or a raxdoc.profiles.Profile; "
                        f"got {type(profile).__name__}")
    known = {f.name for f in dataclasses.fields(Profile)} - {"name"}
    unknown = sorted(k for k in profile_overrides if k not in known)
    if unknown:
        raise TypeError(f"extract() got unknown keyword argument(s) {unknown}: neither an extract() option nor a "
                        f"profile field ({', '.join(sorted(known))})")
    for name in _BOOLS:
        if name in flags and not isinstance(flags[name], bool):  # "no" and "false" are true in Python
            raise TypeError(f"{name} must be True or False; got {flags[name]!r}")
    if dpi is not None:
        if isinstance(dpi, bool) or not isinstance(dpi, numbers.Real):
            raise TypeError(f"dpi must be a number; got {type(dpi).__name__} {dpi!r}")
        if not (math.isfinite(float(dpi)) and float(dpi) > 0):
            raise ValueError(f"dpi must be a finite number > 0; got {dpi!r}")
    checked = (None if dpi is None else float(dpi), _positive_int("max_pages", max_pages),
               _positive_int("engines", engines), _positive_int("write_every", write_every, optional=False))
    for name, value in (("address", address), ("device", device), ("einvoice", einvoice)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None; got {type(value).__name__} {value!r}")
    if device is not None:
        _check_device(device)
    if on_progress is not None and not callable(on_progress):
        raise TypeError(f"on_progress must be a callable taking a dict; got {type(on_progress).__name__}")
    return checked


def _positive_int(name: str, value: Any, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # int, numpy integers; never a float or a str
    except TypeError:
        raise TypeError(f"{name} must be a positive integer{' or None' if optional else ''}; "
                        f"got {type(value).__name__} {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if optional else ''}; got {value!r}")
    return number


def _check_device(device: str) -> None:
    import torch

    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"device {device!r} is not a torch device (cpu, cuda, cuda:N)") from None


def outside_output(refs: list, output: str) -> list:
    """`refs` without the files a run writes into `output` (its parts, settings, journals, lock), nor
    those of any other raxdoc output folder among the inputs (a folder holding `_raxdoc.json`).

    `-o` inside an input folder, or the input folder itself, is allowed; but what a run writes there
    is never one of its inputs: read again, every Parquet part would become an error row, run after run.
    """
    from raxdoc.ingest.localfs import local_path
    from raxdoc.pipeline.compact import JOURNAL_PREFIX
    from raxdoc.pipeline.lock import LOCK_NAME
    from raxdoc.pipeline.manifest import MANIFEST
    from raxdoc.pipeline.store import DOCUMENTS, LINE_ITEMS

    def own(relative: str) -> bool:
        first, _, rest = relative.partition("/")
        return (first in (DOCUMENTS, LINE_ITEMS) and bool(rest)) or first in (MANIFEST, LOCK_NAME) or \
            (not rest and first.startswith(JOURNAL_PREFIX))

    out_local = local_path(output)
    root = os.path.realpath(out_local) if out_local is not None else output.rstrip("/")
    is_output: dict[str, bool] = {}  # folder -> whether it holds a raxdoc manifest (asked once per folder)

    def in_an_output(path: str) -> bool:
        """Whether a local file is what some raxdoc run wrote into its output folder."""
        parts = path.split(os.sep)
        for depth in range(len(parts) - 1, 0, -1):
            folder = os.sep.join(parts[:depth]) or os.sep
            if folder not in is_output:
                is_output[folder] = os.path.isfile(os.path.join(folder, MANIFEST))
            if is_output[folder] and own("/".join(parts[depth:])):
                return True
        return False

    def inside(url: str) -> bool:
        path = local_path(url)
        if (path is None) != (out_local is None):
            return path is not None and in_an_output(os.path.realpath(path))
        path = url if path is None else os.path.realpath(path)
        if path.startswith(root.rstrip(os.sep) + os.sep) and own(path[len(root.rstrip(os.sep)) + 1:]
                                                                   .replace(os.sep, "/")):
            return True
        return out_local is not None and in_an_output(path)

    kept = [r for r in refs if not inside(r.url)]
    if len(kept) < len(refs):
        log.info("%d file(s) raxdoc wrote into an output folder (%s or another) are not read as inputs",
                 len(refs) - len(kept), output)
    return kept


def check_address(address: str | None) -> None:
    """A cluster address (`--address`, else RAY_ADDRESS) must answer on its port: `ray.init` retries
    an unreachable one for minutes, printing only C++ log lines, before it fails."""
    from urllib.parse import urlsplit

    import sys

    address = address or os.environ.get("RAY_ADDRESS") or None
    ray = sys.modules.get("ray")
    if address is None or address in ("auto", "local") or (ray is not None and ray.is_initialized()):
        return  # nothing to reach, or the caller's own Ray is already up (the run joins that)
    parts = urlsplit(address if "://" in address else "//" + address)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host = port = None
    if not host:
        raise ValueError(f"Ray address {address!r} must look like HOST:PORT (or ray://HOST:PORT, auto)")
    if port is None:  # Ray's own defaults: the GCS port, or the Ray client's
        port = 10001 if parts.scheme == "ray" else 6379
    import socket

    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as exc:
        raise ValueError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None
