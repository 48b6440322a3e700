"""The Ray Data graph of a run, and what bounds its memory.

    sources -> ingest (CPU tasks, a document per task, page rows out)
            -> engine (actor pool, one engine per actor; BATCHES_IN_FLIGHT batches at once per actor
               share its slots through one EngineLoop, so slots stay full across batches)

`build_dataset` returns the lazy dataset whose batches the driver (`run.extract`) iterates; rows
travel between the stages in the wire form of `rows.StageRow`;
`init_ray` (`ray_start`) joins `address` / RAY_ADDRESS or starts a quiet local Ray on loopback.
`engine_count` keeps a CPU free for ingest; `PageCounter` / `OpenedPages` tell the driver the pages of
each document as ingest opens it (the progress bar's total).

Memory: the pipeline, not Ray's object-store cap, bounds the page pixels in flight. Ingest emits
blocks of PAGES_PER_BLOCK pages, and the run's Ray Data object-store budget is
`pixel_bound_pages(...)` pages: each engine actor's BATCHES_IN_FLIGHT batches plus QUEUED_PAGES
(or two blocks per ingest CPU, if more) waiting for them. Once it is spent Ray Data stops reading a running ingest task's output, and that
task (a streaming generator) pauses after two unread blocks. The bound: `pixel_bound_pages` +
2 * PAGES_PER_BLOCK pages per running ingest task (Ray Data's accounting is approximate). cpu
profile, one actor, one ingest task: 29 pages; a 1,000-page PDF measured ~34 pages' bytes in the
object store, against ~141 without the budget (bench/memory_bound.py).

Not here: what the stages do (`ingest_stage`, `engine_stage`), the driver end (`collector`).
"""

from __future__ import annotations

import logging
from typing import Any

from raxdoc.engine.loop import loop_margin
from raxdoc.pipeline.ingest_stage import IngestStage
from raxdoc.pipeline.ray_start import init_ray  # noqa: F401  (run, tests and benchmarks import it from here)
from raxdoc.profiles import Profile

log = logging.getLogger(__name__)

# Ray batches running at once on one engine actor (threads feeding its EngineLoop); >= 2, so one
# batch's tail never leaves the slots empty.
BATCHES_IN_FLIGHT = 3
# Pages per ingest output block: small, so Ray Data's backpressure acts a few pages at a time
# (its default 128 MiB block holds ~33 pages).
PAGES_PER_BLOCK = 2
# Pages rendered ahead of the engine actors (beyond their batches), so they never wait on ingest.
QUEUED_PAGES = 16


class NoGPUError(ValueError):
    """A GPU profile was asked for where the cluster has no GPU."""


class TooManyEngines(ValueError):
    """--engines leaves no CPU for ingest: each engine actor holds one CPU for the whole run."""


def engine_count(engines: int | None, default: int, cpus: float) -> int:
    """Engine actors for this run, leaving at least one CPU to ingest.

    Each actor holds a CPU for the whole run, so with actors >= CPUs no ingest task is ever
    scheduled and the run deadlocks silently. An explicit `engines` that does not fit is refused
    (the user asked for a number: quietly running fewer would hide why the run is slower than
    planned); the default (one per GPU) is capped with a warning, since the user chose nothing.
    """
    room = int(cpus) - 1
    if room < 1:
        raise TooManyEngines(f"this Ray cluster has {cpus:g} CPU(s): a run needs at least 2 "
                             f"(one for an engine actor, one for ingest)")
    if engines is not None:
        if engines > room:
            raise TooManyEngines(f"--engines {engines} needs {engines} CPUs for its actors plus one for ingest, "
                                 f"and this Ray cluster has {cpus:g}: use --engines {room} or fewer")
        return engines
    if default > room:
        log.warning("%d engine actors would leave no CPU for ingest (%g CPUs): running %d", default, cpus, room)
    return min(default, room)


class PageCounter:
    """A Ray actor (no CPU): pages of each document as ingest opens it, keyed by source so a
    retried ingest task counts once. The driver sees page rows only after the engine stage, so
    without it the pages bar's total would learn of a document when its pages are already done."""

    def __init__(self):
        self.pages: dict[str, int] = {}

    def opened(self, source: str, pages: int) -> None:
        self.pages[source] = pages

    def total(self) -> int:
        return sum(self.pages.values())


class OpenedPages:
    """Driver side of `PageCounter`: `poll()` returns the latest total without ever waiting on it.

    The actor lives on the driver's node (a cluster losing a worker keeps it); if it is lost all
    the same, the total stays where it was: a progress figure is no reason to stop a run."""

    def __init__(self):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        self.actor = ray.remote(num_cpus=0, scheduling_strategy=here)(PageCounter).remote()
        self._pending = None
        self._lost = False
        self.total = 0

    def poll(self) -> int:
        import ray

        if self._lost:
            return self.total
        if self._pending is not None and ray.wait([self._pending], timeout=0)[0]:
            try:
                self.total, self._pending = ray.get(self._pending), None
            except ray.exceptions.RayError as exc:  # the actor died (its node went away)
                log.warning("the pages total stops here (%d): its counter is gone: %s", self.total,
                            (str(exc).strip().splitlines() or [""])[0])
                self._lost = True
                return self.total
        if self._pending is None:
            self._pending = self.actor.total.remote()
        return self.total


def open_page_counter() -> OpenedPages | None:
    """An `OpenedPages` when Ray is up; None otherwise (a driver run over a fake dataset)."""
    import ray

    return OpenedPages() if ray.is_initialized() else None


class _CountingIngest:
    """`IngestStage`, telling `PageCounter` each document's page count with its first row."""

    def __init__(self, stage: IngestStage, counter):
        self.stage, self.counter = stage, counter

    def __call__(self, row: dict) -> Any:
        first = True
        for out in self.stage(row):
            if first:
                self.counter.opened.remote(out["source"], max(int(out["page_count"]), 0))
                first = False
            yield out


def page_bytes(prof: Profile) -> int:
    """Bytes of one page's pixels at most: uint8 RGB within the profile's pixel budget."""
    return prof.max_pixels * 3


def pixel_bound_pages(prof: Profile, engines: int, ingest_cpus: int = 0) -> int:
    """Pages whose pixels a run holds in Ray's object store at once, at most (module doc): the
    engine actors' batches plus the queue ahead of them, QUEUED_PAGES or two blocks per ingest CPU
    if more (a smaller budget would leave ingest CPUs idle). Ray Data may exceed it by the blocks a
    running ingest task has yielded but Ray has not yet read (two per task)."""
    queue = max(QUEUED_PAGES, 2 * PAGES_PER_BLOCK * ingest_cpus)
    return engines * BATCHES_IN_FLIGHT * engine_batch_size(prof.max_num_seqs) + queue


def bound_pixels(ctx, prof: Profile, engines: int, ingest_cpus: int = 0) -> None:
    """Give the run's DataContext the pixel budget (module doc): small ingest blocks, and an
    object-store limit of `pixel_bound_pages` pages."""
    import copy

    from ray.data import ExecutionResources

    ctx.execution_options = copy.copy(ctx.execution_options)  # a context's copy shares it
    ctx.target_max_block_size = PAGES_PER_BLOCK * page_bytes(prof)
    ctx.execution_options.resource_limits = ExecutionResources.for_limits(
        object_store_memory=pixel_bound_pages(prof, engines, ingest_cpus) * page_bytes(prof))


def build_dataset(sources, render, done, model, prof: Profile, schema, constrained, device, engines,
                   engine_stage, einvoice: str = "auto", counter: OpenedPages | None = None,
                   trust_remote_code: bool = False, reader_options: dict[str, Any] | None = None):
    import ray

    on_gpu = cluster_gpus() > 0 and (device is None or device.startswith("cuda"))
    default = max(1, int(cluster_gpus()) * prof.actors_per_gpu) if on_gpu else 1
    cpus = float(ray.cluster_resources().get("CPU", 0))
    n_engines = engine_count(engines, default, cpus)
    if not on_gpu and prof.name != "cpu" and device is None:
        raise NoGPUError(f"profile {prof.name!r} needs a GPU and this Ray cluster has none; "
                         f"use --profile cpu (slow) or --address of a cluster with GPUs")
    if not on_gpu:
        log.warning("no GPU in this Ray cluster: running the engine on CPU (%d actor%s), which is slow "
                    "for the full model", n_engines, "" if n_engines == 1 else "s")
    ds = ray.data.from_items([{"source": s} for s in sources], override_num_blocks=min(len(sources), 1000))
    # The dataset's own copy of the context: the caller's is untouched.
    bound_pixels(ds.context, prof, n_engines, ingest_cpus=int(cpus) - n_engines)
    # A document per task up to 1,000 inputs (beyond, ~len/1000 each: a million one-row blocks would
    # cost more than they save). Pages stream out of the task one by one (IngestStage yields them).
    ingest = IngestStage(render, done, einvoice)
    ds = ds.flat_map(ingest if counter is None else _CountingIngest(ingest, counter.actor), num_cpus=1)
    return ds.map_batches(
        engine_stage,
        fn_constructor_kwargs=dict(model=model, profile=prof, schema=schema, constrained=constrained,
                                   device=device or ("cuda" if on_gpu else "cpu"),
                                   # Only when set: stand-in stages (tests) take the plain arguments.
                                   **({"trust_remote_code": True} if trust_remote_code else {}),
                                   **({"reader_options": reader_options} if reader_options else {})),
        batch_size=engine_batch_size(prof.max_num_seqs),
        batch_format="numpy",
        # Several calls run at once on each actor, in threads (true multi-threading: by default Ray
        # Data serialises a sync UDF's calls on one thread); they share the actor's one EngineLoop.
        # Not an async __call__: Ray Data overlaps those only within one task's input bundle,
        # which here is one batch, and a plain callable stays usable without Ray.
        compute=ray.data.ActorPoolStrategy(size=n_engines, max_concurrent_calls_per_actor=BATCHES_IN_FLIGHT,
                                           enable_true_multi_threading=True),
        num_gpus=(1.0 / prof.actors_per_gpu) if on_gpu else 0,
        num_cpus=1,
        # Ray Data's actor pools restart a dead actor and retry its batch (max_restarts and
        # max_task_retries default to -1 there); pages seen twice are dropped by DocumentAssembler.
    )


def engine_batch_size(max_num_seqs: int) -> int:
    """Pages per engine batch: while the oldest of the BATCHES_IN_FLIGHT batches on an actor finishes
    its last pages, the others still hold enough (the loop's capacity) to keep every slot busy.
    Smaller batches reach the engine sooner; the loop, not the batch, bounds pixel memory.
    Sized from the profile even when the transformers reader's memory-aware batch (known only once
    an actor has loaded the model) is smaller: its loop still stays full and the pixel bound still
    holds; a batch's pages only come back later than they need to."""
    capacity = max_num_seqs + loop_margin(max_num_seqs)
    return max(1, -(-capacity // (BATCHES_IN_FLIGHT - 1)))


def cluster_gpus() -> float:
    import ray

    return float(ray.cluster_resources().get("GPU", 0))
