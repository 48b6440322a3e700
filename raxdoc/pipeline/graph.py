"""The Ray Data graph of a run, and starting (or joining) Ray.

    sources -> ingest (CPU tasks, a document per task, page rows out)
            -> engine (actor pool, one engine per actor; BATCHES_IN_FLIGHT batches at once per actor
               share its slots through one EngineLoop, so slots stay full across batches)

`build_dataset` returns the lazy dataset whose batches the driver (`run.extract`) iterates; rows
travel between the stages in the wire form of `rows.StageRow`;
`init_ray` joins `address` / RAY_ADDRESS or starts a quiet local Ray.

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


def build_dataset(sources, render, done, model, prof: Profile, schema, constrained, device, engines,
                   engine_stage, einvoice: str = "auto"):
    import ray

    on_gpu = cluster_gpus() > 0 and (device is None or device.startswith("cuda"))
    n_engines = engines or (max(1, int(cluster_gpus()) * prof.actors_per_gpu) if on_gpu else 1)
    if not on_gpu and prof.name != "cpu" and device is None:
        raise NoGPUError(f"profile {prof.name!r} needs a GPU and this Ray cluster has none; "
                         f"use --profile cpu (slow) or --address of a cluster with GPUs")
    if not on_gpu:
        log.warning("no GPU in this Ray cluster: running the engine on CPU (%d actor%s), which is slow "
                    "for the full model", n_engines, "" if n_engines == 1 else "s")
    ds = ray.data.from_items([{"source": s} for s in sources], override_num_blocks=min(len(sources), 1000))
    # A document per task up to 1,000 inputs (beyond, ~len/1000 each: a million one-row blocks would
    # cost more than they save). Pages stream out of the task one by one (IngestStage yields them).
    ds = ds.flat_map(IngestStage(render, done, einvoice), num_cpus=1)
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
