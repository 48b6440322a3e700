"""`EngineLoop`: one engine served from one thread, fed by any number of callers.

Several Ray batches are in flight on one engine actor at once (pipeline.py runs its calls in
threads); each submits its pages here and waits for its futures. Requests from every batch share
the engine's slots, so the slots stay full across batch boundaries instead of draining at the end
of each batch (continuous batching across batches).

Two threads, both daemons:
- the preparer takes submitted items in order and builds their prompts (the image processor: the
  float32 pixels). It first takes a permit, one per prompt alive, at most `capacity`
  (`max_num_seqs` plus a small margin), given back when the prompt's future resolves, so
  preprocessed pixels held at once stay bounded however many pages are submitted, and building
  overlaps the engine's steps instead of stalling them.
- the loop owns the engine (not thread-safe: only it calls `add_request` / `step`). It adds
  prepared prompts, steps while anything is unfinished, resolves futures as results come, and
  blocks on its queue when idle.

Failures always resolve futures, never hang a caller: a prompt that cannot be built fails with the
builder's own exception; everything else (a step that raised, the engine stuck, the loop gone)
fails with `EngineLoopError`. When a step raises, the engine has already failed that step's
sequences (their error results come out of a later step) and the loop goes on; an engine that
keeps raising without finishing anything is declared stuck and the loop stops.

Not here: what a prompt is or rows (stages.py), Ray (pipeline.py), scheduling (the engine's own).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_STOP = object()


class EngineLoopError(RuntimeError):
    """The engine could not serve a request (a step raised, it got stuck, or the loop is closed)."""


def loop_margin(max_num_seqs: int) -> int:
    """Prompts built beyond the slots: enough to refill slots freed in a step while the preparer
    builds more, few enough that pixels stay bounded (an eighth of the slots, at least 2)."""
    return max(2, max_num_seqs // 8)


@dataclass
class _Item:
    build: Callable[[], dict] | None
    params: Any
    grammar: Any
    future: Future
    prompt: dict | None = None


class EngineLoop:
    """Serves `engine` from a background thread; `submit()` from any thread, `close()` when done."""

    def __init__(self, engine: Any, *, margin: int | None = None, close_engine: bool = True) -> None:
        max_num_seqs = engine.scheduler_config.max_num_seqs
        self.engine = engine
        # Prompts built and not yet resolved (waiting, running or built-and-queued): the pixel bound.
        self.capacity = max_num_seqs + (loop_margin(max_num_seqs) if margin is None else margin)
        self._close_engine = close_engine
        self._cond = threading.Condition()  # guards _in_use, _closed and puts onto the queues
        self._in_use = 0
        self._closed = False
        # Why the loop stopped, for requests that come after (a stuck engine, not just "closed").
        self._error: EngineLoopError | None = None
        self._todo: queue.SimpleQueue = queue.SimpleQueue()  # submitted, not built
        self._ready: queue.SimpleQueue = queue.SimpleQueue()  # built, not yet added to the engine
        self._preparer = threading.Thread(target=self._prepare, name="raxdoc-engine-prepare", daemon=True)
        self._loop = threading.Thread(target=self._serve, name="raxdoc-engine-loop", daemon=True)
        self._preparer.start()
        self._loop.start()

    def submit(self, build: Callable[[], dict], params: Any, grammar: Any = None) -> Future:
        """Queue one request; `build()` (run later, on the preparer thread) returns its prompt dict.

        Never blocks. The future gives the engine's `Result`, or raises what `build` raised, or
        `EngineLoopError`. Raises `EngineLoopError` at once if the loop is closed.
        """
        item = _Item(build, params, grammar, Future())
        with self._cond:
            if self._closed:
                raise self._stopped()
            self._todo.put(item)
        return item.future

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop both threads; requests not finished fail with `EngineLoopError`. Idempotent."""
        with self._cond:
            already = self._closed
            self._closed = True
            self._cond.notify_all()
        if not already:
            self._todo.put(_STOP)
            self._ready.put(_STOP)
        for thread in (self._preparer, self._loop):
            if thread is not threading.current_thread():
                thread.join(timeout)
        # A loop still inside a step keeps the engine: closing it under that step would break it.
        if self._close_engine and not self._loop.is_alive() and hasattr(self.engine, "close"):
            self.engine.close()

    # -- preparer thread --------------------------------------------------------------------

    def _prepare(self) -> None:
        try:
            while True:
                item = self._todo.get()
                if item is _STOP:
                    break
                if not self._take_permit():
                    _fail(item, self._stopped())
                    break
                if not item.future.set_running_or_notify_cancel():
                    self._give_permit()
                    continue
                try:
                    item.prompt = item.build()
                except Exception as exc:  # this page's own failure (unreadable image, ...): its future's
                    self._give_permit()
                    item.future.set_exception(exc)
                    continue
                finally:
                    item.build = None  # it holds the page's pixels
                with self._cond:
                    if self._closed:
                        self._in_use -= 1
                        _fail(item, self._stopped())
                        continue
                    self._ready.put(item)
        except BaseException as exc:  # a bug here must not strand callers: the loop stops, all fail
            log.exception("engine loop preparer failed")
            self._shut(EngineLoopError(f"engine loop preparer failed: {type(exc).__name__}: {exc}"))
        finally:
            _drain(self._todo, self._stopped())

    def _take_permit(self) -> bool:
        with self._cond:
            while self._in_use >= self.capacity and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._in_use += 1
            return True

    def _give_permit(self) -> None:
        with self._cond:
            self._in_use -= 1
            self._cond.notify()

    # -- loop thread -------------------------------------------------------------------------

    def _serve(self) -> None:
        live: dict[int, Future] = {}
        error = EngineLoopError("the engine loop is closed")
        try:
            self._run(live)
        except BaseException as exc:
            if not isinstance(exc, EngineLoopError):
                log.exception("engine loop failed")
                exc = EngineLoopError(f"engine loop failed: {type(exc).__name__}: {exc}")
            error = exc
        finally:
            self._shut(error)
            for future in live.values():
                if not future.done():
                    future.set_exception(error)
            _drain(self._ready, error)

    def _run(self, live: dict[int, Future]) -> None:
        engine = self.engine
        raised_in_a_row = 0
        while True:
            # Idle: block until work comes. Busy: take whatever is ready and step.
            items = [self._ready.get()] if not engine.has_unfinished() else []
            while True:
                try:
                    items.append(self._ready.get_nowait())
                except queue.Empty:
                    break
            for item in items:
                if item is _STOP:
                    return
                self._add(item, live)
            items.clear()  # the prompts (pixels) now live in the engine only
            if not engine.has_unfinished():
                continue
            try:
                results = engine.step()
            except Exception as exc:
                # The engine failed this step's sequences itself (their results come out of a
                # later step) and serves the rest. One that raises with nothing to fail would
                # raise forever: each raise finishes >= 1 request and no permit frees meanwhile.
                raised_in_a_row += 1
                log.error("engine step raised (%s: %s); its requests fail, the rest go on",
                          type(exc).__name__, exc)
                if raised_in_a_row > self.capacity + 1:
                    raise EngineLoopError(f"engine stuck: {raised_in_a_row} steps raised in a row "
                                          f"({type(exc).__name__}: {exc})") from exc
                continue
            raised_in_a_row = 0
            for result in results:
                future = live.pop(result.request_id, None)
                if future is not None:
                    future.set_result(result)
                    self._give_permit()

    def _add(self, item: _Item, live: dict[int, Future]) -> None:
        prompt, item.prompt = item.prompt, None
        try:
            request_id = self.engine.add_request(prompt, item.params, item.grammar)
        except Exception as exc:  # a malformed prompt: that request's failure, not the loop's
            self._give_permit()
            err = EngineLoopError(f"engine refused the request: {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            item.future.set_exception(err)
            return
        live[request_id] = item.future

    def _stopped(self) -> EngineLoopError:
        return self._error or EngineLoopError("the engine loop is closed")

    def _shut(self, error: EngineLoopError) -> None:
        with self._cond:
            self._closed = True
            self._error = self._error or error
            self._cond.notify_all()
        self._todo.put(_STOP)
        self._ready.put(_STOP)


def _fail(item: Any, error: BaseException) -> None:
    if isinstance(item, _Item) and not item.future.done():
        try:
            item.future.set_exception(error)
        except InvalidStateError:  # cancelled by its caller meanwhile: nobody waits for it
            pass


def _drain(q: queue.SimpleQueue, error: BaseException) -> None:
    while True:
        try:
            _fail(q.get_nowait(), error)
        except queue.Empty:
            return
