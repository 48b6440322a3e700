"""`OUT/_raxdoc.json`: the settings an output folder's rows were made with, and what a rerun with
other settings does.

Resume skips every document a folder already holds. That is only right when the rerun would make
the same rows: a rerun with another schema, model or token budget would otherwise exit 0 over rows
it did not make (truncated rows of a smaller budget, rows of two schemas in one table). So a run
records the settings that change rows (`run_settings`) beside `documents/`, and a rerun whose
settings differ is refused before any work (`SettingsChanged`, exit 2), naming each difference.

Why refuse, rather than give each settings a namespace of its own under OUT: users and their
queries read `OUT/documents/*.parquet`; a namespace would move the rows silently or mix two
settings in one glob. One folder holds one set of settings, so every row in it compares with
every other. The ways on: choose another `-o`, run with the recorded settings, or pass
`--overwrite`, which removes the folder's parts when the run starts (after the run lock is held)
and records the new settings: explicit and destructive, so it is never the default. Not
`--reprocess` beside old rows: a run killed half-way would leave rows of two settings.

Compared: schema (module:Class), prompt_version (the prompt and a hash of the schema's JSON
Schema), model (as given, as the rows' `model` column holds it), max_new_tokens, constrained,
einvoice (the mode in effect), ocr (OCR words ground scanned pages), and the page pixels: dpi,
min_pixels, max_pixels, max_pages.
Not compared (they do not change a row): engines, max_num_seqs, the Ray address, the raxdoc
version (recorded, for the curious). A folder from before the manifest is adopted: its rows'
own `model` and `prompt_version` columns are checked against this run, then the manifest written.
Only settings both the record and this run name are compared: a record from before an option
existed does not name it (and is rewritten with it).
The file name starts with "_": Parquet dataset readers skip such names, and it lies beside
`documents/` and `line_items/`, so their `*.parquet` globs never meet it.

The run's engines add what they ran (`engine_paths`: reader, kernels, self-check) at its end
(`record_engines`); never compared.

Not here: the folder's parts (`store`), the run lock (`lock`).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

MANIFEST = "_raxdoc.json"
FORMAT = 1


class SettingsChanged(ValueError):
    """The output folder holds rows made with other settings (a usage error: exit 2)."""


def run_settings(*, schema: Any, prompt_version: str, model: str, max_new_tokens: int, constrained: bool,
                 einvoice: str, render: Any, **more: Any) -> dict[str, Any]:
    """The settings that change a run's rows, as plain JSON values. `more`: a later option that
    changes rows (e.g. OCR) adds itself here, and reruns compare it too."""
    return {"schema": f"{schema.__module__}:{schema.__qualname__}", "prompt_version": prompt_version,
            "model": model, "max_new_tokens": int(max_new_tokens), "constrained": bool(constrained),
            "einvoice": einvoice, "dpi": float(render.dpi), "min_pixels": int(render.min_pixels),
            "max_pixels": int(render.max_pixels), "max_pages": render.max_pages,
            "ocr": bool(getattr(render, "ocr", False)), **more}


def check_settings(store: Any, settings: dict[str, Any], *, overwrite: bool = False) -> None:
    """Refuse a rerun over rows of other settings, or clear them (`overwrite`); record `settings`.

    Call with the run lock held (`OutputStore(lock=True)`): clearing and recording are writes."""
    recorded = _read(store)
    if overwrite:
        removed = store.clear()
        if removed:
            log.warning("--overwrite: removed %d earlier row(s) from %s", removed, store.root)
    elif recorded is not None:
        _refuse_if_differs(store.root, recorded.get("settings", {}), settings, "was written with")
    else:
        _refuse_if_differs(store.root, _legacy(store), settings, "holds rows made with")
    if overwrite or recorded is None or recorded.get("settings") != settings:
        from raxdoc import __version__

        store.write_file(MANIFEST, (json.dumps({"format": FORMAT, "settings": settings, "raxdoc": __version__,
                                                "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                                               indent=2, sort_keys=True) + "\n").encode())


def record_engines(store: Any, engine_paths: list[str]) -> None:
    """Add the paths the run's engines took (`EngineStage.engine_paths`: reader, kernels, the
    self-check's verdict) to the manifest, as `engine_paths` beside the settings: what ran is worth
    knowing when a GPU fell back to a slower path, and never a reason to refuse a rerun."""
    recorded = _read(store)
    if recorded is None or not engine_paths:
        return
    recorded["engine_paths"] = sorted(engine_paths)
    store.write_file(MANIFEST, (json.dumps(recorded, indent=2, sort_keys=True) + "\n").encode())


def differences(recorded: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """One phrase per setting that differs, "name <recorded> (this run: <new>)". Only settings both
    name are compared: a record from before an option existed does not name it."""
    return [f"{key} {recorded[key]!r} (this run: {settings[key]!r})"
            for key in sorted(recorded.keys() & settings.keys()) if recorded[key] != settings[key]]


def _refuse_if_differs(root: str, recorded: dict[str, Any], settings: dict[str, Any], verb: str) -> None:
    changed = differences(recorded, settings)
    if changed:
        raise SettingsChanged(f"{root} {verb} other settings: {'; '.join(changed)}. Its rows would be skipped, "
                              f"not remade: run with the same settings to resume, write to another -o, "
                              f"or pass --overwrite to remove its rows and start again with these settings")


def _legacy(store: Any) -> dict[str, Any]:
    """What a folder from before the manifest says of itself: its rows' model and prompt_version
    (a mix of values is refused by any run); the other settings are unknown and not compared."""
    found: dict[str, Any] = {}
    for column in ("model", "prompt_version"):
        values = {v for _, _, v in store.row_states(column) if v is not None}
        if len(values) == 1:
            found[column] = values.pop()
        elif values:
            found[column] = sorted(values)
    return found


def _read(store: Any) -> dict[str, Any] | None:
    try:
        data = store.fs.cat_file(store.path(MANIFEST))
    except FileNotFoundError:
        return None
    try:
        recorded = json.loads(data)
    except ValueError:
        recorded = None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("settings"), dict):
        raise SettingsChanged(f"{store.path(MANIFEST)} is not a raxdoc manifest (unreadable JSON): move it away "
                              f"to adopt the folder's rows, or pass --overwrite")
    return recorded
