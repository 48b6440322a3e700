"""The Ray Data graph of a run, and starting (or joining) Ray.

    sources -> ingest (CPU tasks, a document per task, page rows out)
            -> engine (actor pool, one engine per actor; BATCHES_IN_FLIGHT batches at once per actor
               share its slots through one EngineLoop, so slots stay full across batches)

`build_dataset` returns the lazy dataset whose batches the driver (`run.extract`) iterates; rows
travel between the stages in the wire form of `rows.StageRow`;
`init_ray` joins `address` / RAY_ADDRESS or starts a quiet local Ray.
`engine_count` keeps a CPU free for ingest; `PageCounter` / `OpenedPages` tell the driver the pages of
each document as ingest opens it (the progress bar's total).

Not here: what the stages do (`ingest_stage`, `engine_stage`), the driver end (`collector`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from raxdoc.engine.loop import loop_margin
from raxdoc.pipeline.ingest_stage import IngestStage
from raxdoc.profiles import Profile

log = logging.getLogger(__name__)

# Ray batches running at once on one engine actor (threads feeding its EngineLoop); >= 2, so one
# batch's tail never leaves the slots empty.
BATCHES_IN_FLIGHT = 3


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
    """Driver side of `PageCounter`: `poll()` returns the latest total without ever waiting on it."""

    def __init__(self):
        import ray

        self.actor = ray.remote(num_cpus=0)(PageCounter).remote()
        self._pending = None
        self.total = 0

    def poll(self) -> int:
        import ray

        if self._pending is not None and ray.wait([self._pending], timeout=0)[0]:
            self.total, self._pending = ray.get(self._pending), None
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


def build_dataset(sources, render, done, model, prof: Profile, schema, constrained, device, engines,
                   engine_stage, einvoice: str = "auto", counter: OpenedPages | None = None):
    import ray

    on_gpu = cluster_gpus() > 0 and (device is None or device.startswith("cuda"))
    default = max(1, int(cluster_gpus()) * prof.actors_per_gpu) if on_gpu else 1
    n_engines = engine_count(engines, default, float(ray.cluster_resources().get("CPU", 0)))
    if not on_gpu and prof.name != "cpu" and device is None:
        raise NoGPUError(f"profile {prof.name!r} needs a GPU and this Ray cluster has none; "
                         f"use --profile cpu (slow) or --address of a cluster with GPUs")
    if not on_gpu:
        log.warning("no GPU in this Ray cluster: running the engine on CPU (%d actor%s), which is slow "
                    "for the full model", n_engines, "" if n_engines == 1 else "s")
    ds = ray.data.from_items([{"source": s} for s in sources], override_num_blocks=min(len(sources), 1000))
    # A document per task up to 1,000 inputs (beyond, ~len/1000 each: a million one-row blocks would
    # cost more than they save). Pages stream out of the task one by one (IngestStage yields them).
    ingest = IngestStage(render, done, einvoice)
    ds = ds.flat_map(ingest if counter is None else _CountingIngest(ingest, counter.actor), num_cpus=1)
    return ds.map_batches(
        engine_stage,
        fn_constructor_kwargs=dict(model=model, profile=prof, schema=schema, constrained=constrained,
                                   device=device or ("cuda" if on_gpu else "cpu")),
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
    Smaller batches reach the engine sooner; the loop, not the batch, bounds pixel memory."""
    capacity = max_num_seqs + loop_margin(max_num_seqs)
    return max(1, -(-capacity // (BATCHES_IN_FLIGHT - 1)))


def cluster_gpus() -> float:
    import ray

    return float(ray.cluster_resources().get("GPU", 0))


def quiet_ray() -> None:
    """Keep Ray's chatter (per-dataset INFO lines, its own deprecations, C++ core-worker notices) off
    the user's terminal; raxdoc reports progress and problems itself. Errors still surface."""
    import warnings

    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")  # read when ray.data configures its logger
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
    warnings.filterwarnings("ignore", message=r".*ray_remote_args.*", module=r"raxdoc\.pipeline(\.|$)")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


def init_ray(address: str | None) -> bool:
    """Join `address` / RAY_ADDRESS, or start a quiet local Ray sized to the machine. True if we started it."""
    import ray

    if ray.is_initialized():
        return False
    quiet_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = dict(logging_level=logging.ERROR, log_to_driver=False)
    if address is None:
        kwargs.update(include_dashboard=False, num_cpus=os.cpu_count())
    ray.init(address=address, **kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the CLI draws its own
    ctx.print_on_execution_start = False
    return True
