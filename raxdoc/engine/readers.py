"""Which reader runs a checkpoint, decided in one place: `reader_kind(folder)`.

"rax" (our engine) for `qwen3_5` configs (Rax 4.5, Rax 3.5 Chat), "transformers" (`hf_reader`) for
every other image-text-to-text checkpoint; from config.json alone (the table is
`raxdoc.model.families`). EngineStage and the driver's up-front check (`loader.check_checkpoint`)
both follow it. Reads JSON only: no torch, no transformers import here.
"""

from __future__ import annotations

from pathlib import Path

from raxdoc.model.families import ReaderKind, read_config, reader_kind_of
from raxdoc.model.hf_checks import QuantizationPackageMissing, RemoteCodeRequired

__all__ = ["QuantizationPackageMissing", "ReaderKind", "RemoteCodeRequired", "reader_kind"]


def reader_kind(checkpoint_dir: str | Path) -> ReaderKind:
    """'rax' when config.json says `model_type: qwen3_5`, else 'transformers'."""
    return reader_kind_of(read_config(Path(checkpoint_dir)))
