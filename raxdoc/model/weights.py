"""Checkpoint weight files: which file holds each tensor, its shape (headers only), and its data.

Layouts, in the order they are looked for: `model.safetensors.index.json` + shards, `*.safetensors`,
`pytorch_model.bin.index.json` + shards, `pytorch_model*.bin`. PyTorch pickles are read with
`torch.load(weights_only=True)` (tensors only, never arbitrary objects), memory-mapped when the file
allows it. Every failure (no weights, an index that is not JSON or names a shard that is not there,
a file whose header cannot be read, a tensor the index places in a file that lacks it) is one
`LoaderError` naming the file.

Not here: how checkpoint names map to module names and what the model expects (`loader`).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

SAFE_INDEX = "model.safetensors.index.json"
BIN_INDEX = "pytorch_model.bin.index.json"
LOOKED_FOR = f"{SAFE_INDEX}, *.safetensors, {BIN_INDEX}, pytorch_model*.bin"


def _loader_error(message: str) -> Exception:
    from raxdoc.model.loader import LoaderError  # loader imports this module: resolved at call time

    return LoaderError(message)


def has_weights(folder: Path) -> bool:
    """Whether `folder` holds weights in a layout we read (no file is opened)."""
    return any((folder / n).is_file() for n in (SAFE_INDEX, BIN_INDEX)) or \
        any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))


def weight_files(folder: Path) -> dict[str, Path]:
    """Checkpoint tensor name -> the file holding it (index files are trusted for names, checked for files)."""
    folder = Path(folder)
    if (folder / SAFE_INDEX).is_file():
        return _from_index(folder / SAFE_INDEX)
    safetensors = sorted(folder.glob("*.safetensors"))
    if safetensors:
        return _scan(safetensors)
    if (folder / BIN_INDEX).is_file():
        return _from_index(folder / BIN_INDEX)
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if bins:
        return _scan(bins)
    raise _loader_error(f"{folder} holds no weights (looked for {LOOKED_FOR})")


def tensor_shapes(files: dict[str, Path]) -> dict[str, tuple[int, ...]]:
    """Shape of every tensor in `files`, read from headers (safetensors) or a memory map (pickles)."""
    by_file: dict[Path, list[str]] = {}
    for name, file in files.items():
        by_file.setdefault(file, []).append(name)
    shapes: dict[str, tuple[int, ...]] = {}
    for file, names in by_file.items():
        with open_weights(file) as f:
            absent = sorted(set(names) - set(f.keys()))
            if absent:
                raise _loader_error(f"{file} lacks tensor(s) its index places there: {absent[:5]}"
                                    f"{' ...' if len(absent) > 5 else ''}")
            shapes.update({name: f.shape(name) for name in names})
    return shapes


class _Reader:
    """One weight file opened: keys(), shape(name), get_tensor(name), whatever its format."""

    def __init__(self, file: Path, device: str) -> None:
        self.file, self._safe, self._tensors = file, None, None
        if file.suffix == ".safetensors":
            from safetensors import safe_open

            self._safe = safe_open(file, framework="pt", device=device)
        else:
            self._tensors = _torch_load(file)
            self._device = device

    def keys(self) -> list[str]:
        return list(self._safe.keys()) if self._safe is not None else list(self._tensors)

    def shape(self, name: str) -> tuple[int, ...]:
        if self._safe is not None:
            return tuple(self._safe.get_slice(name).get_shape())
        return tuple(self._tensors[name].shape)

    def get_tensor(self, name: str) -> torch.Tensor:
        if self._safe is not None:
            return self._safe.get_tensor(name)
        return self._tensors[name].to(self._device)


@contextmanager
def open_weights(file: Path, device: str = "cpu") -> Iterator[_Reader]:
    """A weight file opened for reading; a file that cannot be read is a `LoaderError` naming it."""
    from safetensors import SafetensorError

    if not file.is_file():
        raise _loader_error(f"weight file {file} is missing (named by the checkpoint's index)")
    try:
        reader = _Reader(file, device)
    except (SafetensorError, OSError, RuntimeError, ValueError, EOFError) as e:
        raise _loader_error(f"cannot read weight file {file}: {type(e).__name__}: {e}") from e
    yield reader


def _torch_load(file: Path) -> dict[str, torch.Tensor]:
    import pickle

    try:
        try:  # the zip format memory-maps: shapes without reading the data
            state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # the legacy (pre-1.6) format cannot be memory-mapped
            state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # weights_only refuses anything but tensors and containers
        raise ValueError(f"not a plain tensor file: {e}") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("does not hold a dict of tensors")
    return state


def _from_index(index: Path) -> dict[str, Path]:
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise _loader_error(f"{index} is not a weight index (JSON with a weight_map): {type(e).__name__}: {e}") from e
    if not isinstance(weight_map, dict) or not weight_map or \
            not all(isinstance(v, str) for v in weight_map.values()):
        raise _loader_error(f"{index}: weight_map must map tensor names to file names")
    files = {name: index.parent / file for name, file in weight_map.items()}
    missing = sorted({p.name for p in files.values() if not p.is_file()})
    if missing:
        raise _loader_error(f"{index} names weight file(s) that are not in {index.parent}: {missing[:5]}"
                            f"{' ...' if len(missing) > 5 else ''} (an interrupted download? fetch them again)")
    return files


def _scan(paths: list[Path]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for file in paths:
        with open_weights(file) as f:
            out.update({name: file for name in f.keys()})
    return out
