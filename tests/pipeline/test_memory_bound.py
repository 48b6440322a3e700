"""The pipeline's pixel budget (graph.bound_pixels), without starting Ray; bench/memory_bound.py measures it."""

from __future__ import annotations

from ray.data import DataContext

from raxdoc.pipeline.graph import (BATCHES_IN_FLIGHT, PAGES_PER_BLOCK, QUEUED_PAGES, bound_pixels, engine_batch_size,
                                   page_bytes, pixel_bound_pages)
from raxdoc.profiles import resolve_profile


def test_bound_counts_engine_batches_and_queue():
    prof = resolve_profile("h100")
    per_actor = BATCHES_IN_FLIGHT * engine_batch_size(prof.max_num_seqs)
    assert pixel_bound_pages(prof, 1) == per_actor + QUEUED_PAGES
    assert pixel_bound_pages(prof, 4) == 4 * per_actor + QUEUED_PAGES
    assert page_bytes(prof) == prof.max_pixels * 3
    # Enough queue for every ingest CPU to have two blocks out, so a big machine's ingest is not starved.
    assert pixel_bound_pages(prof, 1, ingest_cpus=64) == per_actor + 2 * PAGES_PER_BLOCK * 64
    assert pixel_bound_pages(prof, 1, ingest_cpus=1) == per_actor + QUEUED_PAGES


def test_bound_set_on_the_dataset_context_only():
    prof = resolve_profile("cpu")
    caller = DataContext.get_current()
    before_limit, before_block = caller.execution_options.resource_limits, caller.target_max_block_size
    ctx = caller.copy()  # what a dataset holds
    bound_pixels(ctx, prof, 2)
    assert ctx.target_max_block_size == PAGES_PER_BLOCK * page_bytes(prof)
    assert ctx.execution_options.resource_limits.object_store_memory == pixel_bound_pages(prof, 2) * page_bytes(prof)
    # The caller's context (the user's own datasets, in the Python API) keeps Ray's defaults.
    assert caller.execution_options.resource_limits == before_limit
    assert caller.target_max_block_size == before_block
