"""`extract(inputs, output, ...)`: the whole job, wired on Ray Data.

    sources -> ingest (CPU tasks, a document per task, page rows out)
            -> engine (actor pool, one engine per actor; BATCHES_IN_FLIGHT batches at once per actor
               share its slots through one EngineLoop, so slots stay full across batches)
            -> driver: regroup pages into documents, parse + check them, write Parquet parts

The driver end is deliberate (DESIGN.md had postprocess as a Ray stage feeding write_parquet): a
document's pages come back from different engine batches, so they must meet somewhere, and the
driver is where the progress bar, resume and atomic writes already live. Postprocess costs about a
millisecond a page against tens of milliseconds of GPU time, so it never limits throughput, and
`iter_batches` streams with backpressure: only pages of unfinished documents (text, no pixels)
are held. Every input gets exactly one `documents` row, including inputs whose task was lost.

Each row is decoded from Ray's wire form once (`rows.decode_batch`) before the collector sees it.

E-invoices (`einvoice`: "auto", "verify" or "off"; the ingest stage applies the mode): they map onto
the built-in `Invoice`, so a run with a custom schema does not look for them (mode "off", logged).

Not here: the Ray graph (`graph`), what each stage does (`ingest_stage`, `engine_stage`,
`finish`), the driver end and its row/resume rules (`collector`), the output layout (`store`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from raxdoc.pipeline.arguments import (check_address, check_inputs, check_options, check_output, check_path,
                                       outside_output)
from raxdoc.pipeline.collector import ResultCollector, resume_plan
from raxdoc.pipeline.engine_stage import EngineStage
from raxdoc.pipeline.finish import FinishSettings
from raxdoc.pipeline.graph import NoGPUError, build_dataset, init_ray, open_page_counter
from raxdoc.pipeline.ingest_stage import EINVOICE_MODES, render_options
from raxdoc.pipeline.manifest import check_settings, run_settings
from raxdoc.pipeline.rows import decode_batch
from raxdoc.pipeline.store import OutputStore
from raxdoc.profiles import Profile, resolve_profile
from raxdoc.settings import DEFAULT_MODEL, check_environment

log = logging.getLogger(__name__)


class RunFailed(RuntimeError):
    """The run stopped part-way (a Ray task failed for good). Parts already written stay; a rerun resumes.

    Raised from the original error, which any type may be: a ValueError deep in Ray is not a
    usage error, so the CLI must not report it as one.
    """


@dataclass(frozen=True)
class ExtractSummary:
    output: str
    documents: int
    ok: int
    partial: int
    error: int
    # Documents a previous run already wrote (resume): not processed again.
    skipped: int
    pages: int
    line_items: int
    seconds: float
    paths: tuple[str, ...] = field(default=())
    # Documents whose values are their own e-invoice's (no model, unless verify).
    einvoice_documents: int = 0
    # verify: e-invoice documents the model read too, and the values compared / agreed over them.
    einvoice_verified: int = 0
    einvoice_compared: int = 0
    einvoice_agreed: int = 0

    @property
    def all_ok(self) -> bool:
        return self.partial == 0 and self.error == 0

    @property
    def einvoice_agreement(self) -> float | None:
        """verify: the share of e-invoice values the model read alike, over the run; None without any."""
        return self.einvoice_agreed / self.einvoice_compared if self.einvoice_compared else None


def extract(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    output: str | os.PathLike,
    *,
    model: str = DEFAULT_MODEL,
    profile: str | Profile = "auto",
    schema: str | None = None,
    max_pages: int | None = None,
    dpi: float | None = None,
    address: str | None = None,
    engines: int | None = None,
    constrained: bool = True,
    einvoice: str = "auto",
    ocr: bool = False,
    device: str | None = None,
    on_progress: Callable[[dict], None] | None = None,
    write_every: int = 64,
    engine_stage: type = EngineStage,
    trust_remote_code: bool = False,
    reader_options: dict[str, Any] | None = None,
    retry_errors: bool = False,
    overwrite: bool = False,
    **profile_overrides: Any,
) -> ExtractSummary:
    """Extract every document in `inputs` into `output` (documents/ and line_items/ Parquet parts).

    `einvoice`: "auto" takes a document's own e-invoice XML (Factur-X / ZUGFeRD / XRechnung / UBL,
    attached or as an XML file) and sends none of its pages to the model; "verify" runs the model as
    well and reports where it disagrees with the XML; "off" ignores the XML.
    `ocr`: scanned pages without a text layer get one from OCR (RapidOCR, the `ocr` extra), so
    their values are grounded and boxed as a born-digital page's are.
    `reader_options`: a transformers-read checkpoint's family defaults replaced by name
    (`raxdoc.model.families.READER_OPTIONS`: chat_template_kwargs, min_pixels, max_pixels).
    Reruns (README "Reruns and resume"): documents already in `output` are skipped; `retry_errors`
    processes those whose rows are errors again; a folder written with other settings is refused
    (`manifest.SettingsChanged`) unless `overwrite` clears it; a folder another run is writing into
    is refused (`lock.OutputLocked`).
    """
    from raxdoc.errors import SourceNotFound
    from raxdoc.ingest.sources import iter_sources
    from raxdoc.model.loader import check_checkpoint, resolve
    from raxdoc.schemas.custom import resolve_schema
    from raxdoc.schemas.prompt import prompt_version
    from raxdoc.schemas.invoice import Invoice
    from raxdoc.schemas.rows import documents_arrow_schema, line_items_arrow_schema

    started = time.monotonic()
    dpi, max_pages, engines, write_every = check_options(
        profile=profile, dpi=dpi, max_pages=max_pages, engines=engines, write_every=write_every, address=address,
        device=device, on_progress=on_progress, einvoice=einvoice, profile_overrides=profile_overrides,
        constrained=constrained, ocr=ocr, trust_remote_code=trust_remote_code, retry_errors=retry_errors,
        overwrite=overwrite)
    check_environment()  # a bad RAXDOC_* switch: one line now, not every engine actor failing later
    check_address(address)
    inputs, output, model = check_inputs(inputs), check_output(output), check_path("model", model)
    prof = profile.with_overrides(**profile_overrides) if isinstance(profile, Profile) else \
        resolve_profile(profile, **profile_overrides)
    schema_cls = resolve_schema(schema)  # fails here, before Ray; each engine actor resolves it alike
    if einvoice not in EINVOICE_MODES:
        raise ValueError(f"einvoice must be one of {', '.join(EINVOICE_MODES)}; got {einvoice!r}")
    if einvoice != "off" and schema_cls is not Invoice:
        log.warning("e-invoices map onto the built-in Invoice schema, not %s: not looked for in this run",
                    schema_cls.__name__)
        einvoice = "off"
    # Fail now, clearly, not inside an actor. Actors get `model` as given: on a cluster each node
    # resolves a hub id from its own HF cache.
    check_checkpoint(resolve(model), trust_remote_code=trust_remote_code)
    if reader_options:
        from raxdoc.model.families import check_reader_options, read_config

        check_reader_options(reader_options, read_config(resolve(model)))
    if ocr:  # a missing package is a usage error now, not an error row on every scanned page
        from raxdoc.ingest.ocr import check_available

        check_available()
    refs = outside_output(list(iter_sources(inputs)), output)
    # Nothing at all, or only names that do not exist (a typo): a usage error, before Ray starts.
    # A missing name among real files is an error row like any unreadable input.
    if all(isinstance(r.error, SourceNotFound) for r in refs):
        found = "; ".join(str(r.error) for r in refs) or repr(inputs)
        raise ValueError(f"no input documents found: {found}")
    sources = [r.url for r in refs]
    render = render_options(prof, dpi=dpi, max_pages=max_pages, ocr=ocr)
    settings = FinishSettings(schema_cls, constrained, model, prompt_version(schema_cls))
    store = OutputStore(output, lock=True)  # another run writing there: refused (exit 2)
    started_ray = False
    try:
        check_settings(store, run_settings(schema=schema_cls, prompt_version=settings.prompt_version, model=model,
                                           max_new_tokens=prof.max_new_tokens, constrained=constrained,
                                           einvoice=einvoice, render=render,
                                           **({"reader_options": reader_options} if reader_options else {})),
                       overwrite=overwrite)
        plan = resume_plan(store, retry_errors=retry_errors)
        collector = ResultCollector(store, settings, documents_arrow_schema(schema_cls),
                                    line_items_arrow_schema(schema_cls), sources, done_sources=plan.done_sources,
                                    write_every=write_every, on_progress=on_progress, previous=plan.previous,
                                    listing_errors={r.url: r.error for r in refs if r.error is not None})
        collector.report(force=True)  # before Ray starts: that alone takes seconds
        started_ray = init_ray(address)
        counter = open_page_counter()  # pages as documents are opened: the pages bar's growing total
        # Passed only with Ray up: stand-in build_dataset functions (tests) take the plain arguments.
        ds = build_dataset(sources, render, plan.skip, model, prof, schema, constrained, device, engines,
                            engine_stage, einvoice, **({} if counter is None else {"counter": counter}),
                            **({"trust_remote_code": True} if trust_remote_code else {}),
                            **({"reader_options": reader_options} if reader_options else {}))
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                if counter is not None:
                    collector.pages_opened(counter.poll())
                for row in decode_batch(batch):
                    collector.add(row)
            collector.close()
        except Exception as exc:
            first_line = (str(exc).strip().splitlines() or [""])[0]
            raise RunFailed(f"the run stopped after {collector.progress['documents_done']} of {len(sources)} "
                            f"documents ({type(exc).__name__}: {first_line}). Parts already written are kept: "
                            f"run the same command again to resume.") from exc
    finally:
        store.close()
        if started_ray:
            import ray

            ray.shutdown()
    counts = collector.counts
    return ExtractSummary(
        output=str(output), documents=len(sources), ok=counts["ok"], partial=counts["partial"], error=counts["error"],
        skipped=counts["skipped"], pages=counts["pages"], line_items=counts["line_items"],
        seconds=time.monotonic() - started,
        paths=(os.path.join(str(output), "documents"), os.path.join(str(output), "line_items")),
        einvoice_documents=counts["einvoice"], einvoice_verified=counts["einvoice_verified"],
        einvoice_compared=counts["einvoice_compared"], einvoice_agreed=counts["einvoice_agreed"],
    )
