"""A worker node lost mid-run on a local three-node Ray (`ray.cluster_utils.Cluster`).

The head has no CPU (nothing but the driver's bookkeeping lands there); two workers have two CPUs
each, so the engine actor and ingest tasks run on workers. When two documents are done, the worker
holding the engine actor is removed. The run either completes or stops with the resume message
(`RunFailed`), and then a rerun completes; either way every input ends with exactly one `documents`
row and no line item is written twice.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pymupdf
import pytest
import ray
from ray import cloudpickle
from ray.cluster_utils import Cluster

import raxdoc
from raxdoc.pipeline.run import RunFailed
from raxdoc.testing.fake_stage import fake_stage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NODE_DIR = "RAXDOC_TEST_NODE_DIR"
DOCS, PAGES, ITEMS = 12, 3, 2


class NodeTellingStage(fake_stage(seconds_per_page=0.2, items_per_page=ITEMS)):
    """The fake engine, writing the id of the node it runs on when it starts (one file per actor)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        folder = Path(os.environ[NODE_DIR])
        (folder / f"engine-{os.getpid()}.node").write_text(ray.get_runtime_context().get_node_id())


def _corpus(folder: Path) -> list[str]:
    folder.mkdir()
    for d in range(DOCS):
        doc = pymupdf.open()
        for p in range(PAGES):
            doc.new_page(width=595, height=842).insert_text((60, 70), f"INVOICE {d}-{p}", fontsize=14)
        doc.save(folder / f"inv{d:02d}.pdf")
    return sorted(str(p) for p in folder.glob("*.pdf"))


@pytest.fixture
def cluster(monkeypatch, tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    node_dir = tmp_path / "nodes"
    node_dir.mkdir()
    monkeypatch.setenv(NODE_DIR, str(node_dir))  # read by the actors: set before their nodes start
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 100 * 2**20})
    for _ in range(2):
        c.add_node(num_cpus=2, object_store_memory=100 * 2**20)
    c.wait_for_nodes(timeout=120)
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c, node_dir
    finally:
        ray.shutdown()
        c.shutdown()


def test_worker_node_lost_mid_run(cluster, tiny_checkpoint, tmp_path):
    c, node_dir = cluster
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    inputs, out = _corpus(tmp_path / "in"), tmp_path / "out"
    removed: list[str] = []

    def remove_engine_node(progress: dict) -> None:
        """Called by the driver as documents finish: the event that the run is well under way."""
        if removed or progress["documents_done"] < 2:
            return
        engine_nodes = {p.read_text() for p in node_dir.glob("engine-*.node")}
        for node in list(c.worker_nodes):
            if node.node_id in engine_nodes:
                c.remove_node(node, allow_graceful=False)  # as a machine failing would
                removed.append(node.node_id)
                return

    run = dict(model=str(tiny_checkpoint), profile="cpu", max_pixels=512 * 512, write_every=4,
               engine_stage=NodeTellingStage)
    try:
        summary = raxdoc.extract(inputs, str(out), on_progress=remove_engine_node, **run)
        stopped = False
    except RunFailed as exc:
        assert "run the same command again to resume" in str(exc)
        stopped = True
    assert removed, "the engine's node was never removed: the test proved nothing"
    docs = pd.read_parquet(out / "documents")
    print(f"after the node loss the run {'stopped (RunFailed)' if stopped else 'completed'}; "
          f"lost rows: {int((docs['error_type'] == 'lost').sum())}")  # which path ran (pytest -s)
    if stopped or (docs["error_type"] == "lost").any():
        summary = raxdoc.extract(inputs, str(out), **run)  # the resume a user would run
        docs = pd.read_parquet(out / "documents")
    assert sorted(docs["source"]) == inputs, "every input exactly one documents row"
    assert not (docs["error_type"] == "lost").any()
    assert (docs["status"] != "error").all(), docs[["source", "error_type", "error"]]
    assert (docs["page_count"] == PAGES).all()
    items = pd.read_parquet(out / "line_items")
    assert not items.duplicated(["doc_id", "page_index", "item_index"]).any(), "a line item written twice"
    assert len(items) == DOCS * PAGES * ITEMS  # none lost either
    assert summary.documents == DOCS
