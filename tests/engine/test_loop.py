"""`EngineStage` on its `EngineLoop`: batches from several threads share the engine's slots, pixels
stay bounded, and failures become rows without hanging anyone.

The tiny random checkpoint on CPU, greedy, `ignore_eos` so every page decodes a fixed number of
tokens; `FakeEngine` where only the loop's own behaviour is under test.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from raxdoc.engine import SamplingParams
from raxdoc.engine.loop import EngineLoop, EngineLoopError
from raxdoc.profiles import resolve_profile
from raxdoc.pipeline.engine_stage import EngineStage
from raxdoc.pipeline.rows import StageRow, decode_batch, encode_batch
from tests.pipeline.fake_engine import FakeEngine

PROFILE = resolve_profile("cpu", max_num_seqs=4, max_new_tokens=6, max_pixels=96 * 96, min_pixels=32 * 32,
                          max_model_len=256)
TIMEOUT = 120  # generous: a join that times out means a hang, whatever the machine's load


@pytest.fixture(scope="module", params=[False, True], ids=["serial", "overlapped"])
def stage(tiny_checkpoint, request):
    stage = EngineStage(str(tiny_checkpoint), PROFILE, constrained=False, device="cpu")
    stage.engine.overlap = request.param  # on a GPU the engine overlaps decode: run the loop both ways
    stage.params = SamplingParams(max_new_tokens=5, temperature=0.0, ignore_eos=True)
    stage.instruction = "Extract the invoice."  # the real one (~1k tokens) only slows the CPU down
    yield stage
    stage.close()


def _pages(tag: int, n: int, height: int = 64, width: int = 64) -> dict:
    """A Ray-style column batch of `n` page rows with random pixels (seeded by `tag`)."""
    rng = np.random.default_rng(tag)
    rows = []
    for i in range(n):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        rows.append(StageRow(f"doc{tag}", f"src{tag}", page_count=n, page_index=i, pixels=pixels.tobytes(),
                             height=height, width=width))
    return encode_batch(rows)


def _in_thread(fn, *args):
    """Run fn in a thread, joined with a timeout: (finished, result)."""
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("rows", fn(*args)), daemon=True)
    thread.start()
    return thread, out


def _texts(batch: dict) -> list[str]:
    return [r.text for r in decode_batch(batch)]


def test_concurrent_batches_share_steps_and_match_running_alone(stage, monkeypatch):
    a, b = _pages(1, 3), _pages(2, 3, width=96)
    alone = [_texts(stage(a)), _texts(stage(b))]
    assert all(alone[0]) and all(alone[1])

    # Which batch each request belongs to (its prompt carries a tag), and who ran in every step.
    owner, steps, submitted, go = {}, [], [], threading.Event()
    real_prompt, real_add, real_decode = stage._prompt, stage.engine.add_request, stage.engine.runner.decode

    def prompt(row):
        go.wait(TIMEOUT)  # build nothing until both batches are queued: both are surely in flight
        return {**real_prompt(row), "tag": row.doc_id}

    def add_request(p, params, grammar=None):
        rid = real_add(p, params, grammar)
        owner[rid] = p["tag"]
        return rid

    def submit(*args, **kw):
        submitted.append(1)
        if len(submitted) == 6:
            go.set()
        return real_submit(*args, **kw)

    real_submit = stage.loop.submit
    monkeypatch.setattr(stage, "_prompt", prompt)
    monkeypatch.setattr(stage.engine, "add_request", add_request)
    monkeypatch.setattr(stage.engine.runner, "decode", lambda seqs, **kw: steps.append(
        {owner[s.seq_id] for s in seqs}) or real_decode(seqs, **kw))
    monkeypatch.setattr(stage.loop, "submit", submit)
    runs = [_in_thread(stage, batch) for batch in (a, b)]
    for thread, _ in runs:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "a batch never finished"
    assert [_texts(out["rows"]) for _, out in runs] == alone
    assert {"doc1", "doc2"} in steps, steps  # one decode step ran pages of both batches


def test_pixels_are_built_only_when_the_engine_has_room(stage, monkeypatch):
    built, finished, outstanding = [], [], []
    real_prompt, real_step = stage._prompt, stage.engine.step

    def prompt(row):
        built.append(1)
        outstanding.append(len(built) - len(finished))  # prompts alive (pixels held) right now
        return real_prompt(row)

    def step():
        results = real_step()
        finished.extend(results)
        return results

    monkeypatch.setattr(stage, "_prompt", prompt)
    monkeypatch.setattr(stage.engine, "step", step)
    out = decode_batch(stage(_pages(3, 17)))  # 17: not a multiple of the slots or the capacity
    assert len(built) == 17 and all(r.text and not r.error_type for r in out)
    assert stage.loop.capacity == PROFILE.max_num_seqs + 2
    # Never more than the bound, and the bound is reached: the engine is kept full, not starved.
    assert max(outstanding) == stage.loop.capacity, outstanding


def test_bad_page_and_raising_step_become_rows_and_later_batches_are_served(stage, monkeypatch):
    bad = _pages(4, 4)
    bad["height"][1] = 7  # pixels no longer fit the shape: the processor cannot build this page
    real_decode, calls = stage.engine.runner.decode, []

    def decode(seqs, **kw):  # kw: next_tokens, when the engine overlaps decode
        calls.append(len(seqs))
        if len(calls) == 2:
            raise TypeError("a bug in the runner")  # not a device error: the engine raises it
        return real_decode(seqs, **kw)

    monkeypatch.setattr(stage.engine.runner, "decode", decode)
    thread, out = _in_thread(stage, bad)
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "the batch hung after a step raised"
    rows = decode_batch(out["rows"])
    assert rows[1].error_type == "preprocess_error"
    failed = [r for r in rows if r.error_type == "engine_error"]
    assert failed and all("TypeError" in r.error for r in failed)
    assert len(failed) == calls[1]  # exactly the pages of the step that raised
    assert all(r.text for r in rows if not r.error_type)
    monkeypatch.undo()
    thread, out = _in_thread(stage, _pages(5, 2))
    thread.join(TIMEOUT)
    assert not thread.is_alive() and all(r.text and not r.error_type for r in decode_batch(out["rows"]))


def test_an_engine_stuck_raising_fails_every_request_and_the_loop_stops():
    engine = FakeEngine(max_num_seqs=2)

    def step():
        raise TypeError("a bug outside the engine's guarded step: nothing is freed")

    engine.step = step
    loop = EngineLoop(engine, margin=1)
    futures = [loop.submit(lambda i=i: {"input_ids": [i + 1]}, None) for i in range(5)]
    for future in futures:  # admitted or still waiting for a permit: each says why
        with pytest.raises(EngineLoopError, match="stuck"):
            future.result(TIMEOUT)
    with pytest.raises(EngineLoopError, match="stuck"):
        loop.submit(lambda: {"input_ids": [1]}, None)
    loop.close(TIMEOUT)
    assert not loop._loop.is_alive() and not loop._preparer.is_alive() and engine.closed


def test_close_fails_work_in_flight_and_a_refused_prompt_fails_alone():
    engine = FakeEngine(max_num_seqs=2, tokens=10**9)  # never finishes by itself
    loop = EngineLoop(engine, margin=0)
    refused = loop.submit(lambda: {"input_ids": []}, None)  # add_request raises TypeError
    with pytest.raises(EngineLoopError, match="refused") as info:
        refused.result(TIMEOUT)
    assert isinstance(info.value.__cause__, TypeError)
    built = threading.Event()
    futures = [loop.submit(lambda i=i: built.set() or {"input_ids": [i + 1]}, None) for i in range(4)]
    assert built.wait(TIMEOUT)
    loop.close(TIMEOUT)
    for future in futures:  # two were decoding, two never got a permit: all fail, none hangs
        with pytest.raises(EngineLoopError, match="closed"):
            future.result(TIMEOUT)
    assert not loop._loop.is_alive() and not loop._preparer.is_alive() and engine.closed
