"""`Engine`: prompts in, one `Result` per prompt out, in prompt order.

The loop is nano-vllm's: schedule a prefill or decode batch, let the runner
produce logits, sample, append, stop, repeat until every sequence finished.
`generate()` runs a list to completion; `add_request()` + `step()` let a
caller stream requests in, so slots stay full across batches instead of
draining at the end of each.
Grammar masks for a step are filled on a worker thread while the runner
computes (`constraints.py`, which also compiles and caches the grammars); the
only host sync per step is reading the sampled token ids.

Overlapped decode (`EngineConfig.overlap_decode`, on by default on CUDA): a
decode step leaves its sampled ids on the device (`InFlight`); the next step
queues its forward with those ids as input first, then reads them, appends,
advances grammars and checks stops while the device computes, and only then
fills that step's masks and samples. Rows that stopped at the previous token
were computed once more and their new token is dropped. The chain breaks for
a prefill (new sequences admitted): the in-flight ids are read first. Output
is the same token for token; only the order of host and device work changes.

A prompt is a dict `{"input_ids": list[int], "pixel_values": tensor | None,
"image_grid_thw": tensor | None}`; building it (chat template, image
placeholders) is the model package's job (`engine.processor` after
`Engine.from_pretrained`). The runner is pluggable (see `model_runner.py`):
`SlotRunner` for checkpoints, `ReferenceRunner` as the oracle, mocks in tests.
Device failures (RuntimeError) of one step become `error` results for the
sequences in it (one attempt; retry policy belongs to the pipeline), never a
hang; any other exception is a bug and propagates, after the batch's slots
are freed (and, out of `generate`, after that call's requests are dropped).

`self_check()` checks the fast paths against the reference, falling back (`selfcheck.py`); `paths`: what runs.
Not here: which sequences run (`scheduler.py`), tensors (the runner), masks
and grammars (`constraints.py`), sampling (`sampler.py`), stop rules (`stop.py`).
"""

from __future__ import annotations

from typing import Any

from raxdoc.engine.config import EngineConfig
from raxdoc.engine.constraints import Constraints
from raxdoc.engine.grammar import Grammar
from raxdoc.engine.inflight import InFlight
from raxdoc.engine.model_runner import ModelRunner, missing_members
from raxdoc.engine.sampler import Sampler, SamplingBatch
from raxdoc.engine.sampling_params import Result, SamplingParams
from raxdoc.engine.scheduler import ScheduledBatch, Scheduler
from raxdoc.engine.sequence import Sequence, image_problem
from raxdoc.engine.slots import SlotManager
from raxdoc.engine.stop import StopPolicy, eos_ids_from_tokenizer


class Engine:
    def __init__(self, runner: ModelRunner, tokenizer: Any, config: EngineConfig | None = None,
                 *, sampler: Sampler | None = None) -> None:
        """`tokenizer`: a `tokenizers.Tokenizer` (decode, token_to_id, to_str)."""
        missing = missing_members(runner)
        if missing:
            raise TypeError(f"{type(runner).__name__} is not a ModelRunner: it lacks {', '.join(missing)}")
        self.runner = runner
        self.tokenizer = tokenizer
        self.config = config or EngineConfig()
        self.eos_ids = tuple(self.config.eos_token_ids) or eos_ids_from_tokenizer(tokenizer)
        self.image_token_id = (self.config.image_token_id if self.config.image_token_id is not None
                               else tokenizer.token_to_id("<|image_pad|>"))
        # A runner's cache holds KV up to its max_model_len: a longer engine limit would write past
        # the rows (a device-side assert on CUDA).
        if runner.max_model_len is not None and self.config.max_model_len > runner.max_model_len:
            raise ValueError(f"EngineConfig.max_model_len={self.config.max_model_len} exceeds the runner's "
                             f"max_model_len={runner.max_model_len} (its cache holds no more positions)")
        self.sampler = sampler or Sampler()
        self.scheduler_config = self.config.scheduler_config(runner.num_slots)
        self.stop = StopPolicy(lambda ids: tokenizer.decode(ids, skip_special_tokens=True),
                               self.eos_ids, self.config.max_model_len)
        self._constraints = Constraints(tokenizer, runner.vocab_size, self.eos_ids, self.config,
                                        self.scheduler_config.max_num_seqs)
        self._scheduler = Scheduler(self.scheduler_config, SlotManager(self.scheduler_config.max_num_seqs),
                                    self.stop)
        self._next_id = 0
        self._finished: list[Sequence] = []
        # Overlapped decode: the last decode step's ids, not yet read by the host.
        self._inflight: InFlight | None = None
        self.overlap = runner.decode_ahead and self.config.wants_overlap(runner.device)
        # Results that finished during a generate() call they were not part of.
        self._ready: list[Result] = []
        # Set by from_pretrained: the checkpoint's RaxProcessor (prompts and images -> input_ids).
        self.processor: Any = None
        self.self_check_verdict = "not run"  # set by `self_check()`; reported in `paths`

    @classmethod
    def from_pretrained(cls, path_or_id: str, *, profile: Any = None, dtype: Any = None,
                        device: str | None = None, free_bytes: int | None = None,
                        self_check: bool | None = None, **overrides: Any) -> "Engine":
        """Load a Rax checkpoint onto a `SlotRunner`; `engine.processor` builds prompts for it.

        `profile`: a `raxdoc.profiles.Profile` (sizes, dtype) or None for `EngineConfig` defaults.
        Slots: `max_num_seqs`, cut to what fits in `free_bytes` (default on CUDA: the config's
        `gpu_memory_utilization` share of the device, see `loading.cache_budget`).
        `self_check`: check the fast paths against the reference first (`selfcheck.py`); None = on CUDA.
        """
        from raxdoc.engine.loading import load_slot_runner

        runner, processor, config = load_slot_runner(path_or_id, profile=profile, dtype=dtype, device=device,
                                                     free_bytes=free_bytes, overrides=overrides)
        engine = cls(runner, processor.tokenizer, config)
        engine.processor = processor
        if self_check if self_check is not None else runner.device.type == "cuda":
            engine.self_check()
        return engine

    def self_check(self, prompts: list[dict] | None = None) -> dict:
        """Fast paths vs the plain-torch reference; falls back (one warning) where they disagree."""
        from raxdoc.engine.selfcheck import run_self_check
        return run_self_check(self, prompts)

    @property
    def paths(self) -> dict[str, str]:
        """The code path of each component now, and the self-check's verdict (for run metadata)."""
        from raxdoc.engine.selfcheck import current_paths
        return {**current_paths(self), "self_check": self.self_check_verdict}

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._constraints.close()

    def grammar(self, spec: Any) -> Grammar:
        """A compiled grammar for a pydantic model class, a JSON Schema dict (or str), or a `Grammar`;
        compiled once per schema content."""
        return self._constraints.grammar(spec)

    def generate(self, prompts: list[dict], params: SamplingParams | list[SamplingParams],
                 grammar: Any = None) -> list[Result]:
        """Run every prompt to completion; `grammar` (one for all, or a list) constrains the output."""
        n = len(prompts)
        params_list = params if isinstance(params, list) else [params] * n
        grammars = grammar if isinstance(grammar, list) else [grammar] * n
        if len(params_list) != n or len(grammars) != n:
            raise ValueError(f"{n} prompts but {len(params_list)} params and {len(grammars)} grammars")
        # Build (and so validate) every sequence before queuing any.
        seqs = [self._sequence(self._next_id + i, p, sp, g)
                for i, (p, sp, g) in enumerate(zip(prompts, params_list, grammars))]
        self._next_id += n
        for seq in seqs:
            self._enqueue(seq)
        wanted = {seq.seq_id for seq in seqs}
        done: dict[int, Result] = {}
        others: list[Result] = []
        try:
            while not wanted <= done.keys():
                for result in self.step():
                    if result.request_id in wanted:
                        done[result.request_id] = result
                    else:
                        others.append(result)  # a request from add_request(): keep it for step()
        except BaseException:
            # Nobody will collect this call's results: drop its requests (freeing their slots),
            # so a later call neither decodes them nor piles their results up in `_ready`.
            self._settle()  # ids in flight first: a row dropped with them would replay a token
            for seq in seqs:
                self._scheduler.abort(seq)
            self._finished = [s for s in self._finished if s.seq_id not in wanted]
            raise
        finally:
            self._ready.extend(others)
        return [done[seq.seq_id] for seq in seqs]

    def add_request(self, prompt: dict, params: SamplingParams, grammar: Any = None) -> int:
        """Queue one prompt; its `Result` comes out of a later `step()` with this request id.

        Lets a caller keep the slots full across batches (no drain between `generate` calls).
        """
        seq = self._sequence(self._next_id, prompt, params, grammar)
        self._next_id += 1
        self._enqueue(seq)
        return seq.seq_id

    def _enqueue(self, seq: Sequence) -> None:
        if seq.is_finished or not self._scheduler.add(seq):
            self._finished.append(seq)  # malformed or can never fit: an error result at the next step()

    def has_unfinished(self) -> bool:
        return not self._scheduler.is_finished() or bool(self._finished) or bool(self._ready)

    def step(self) -> list[Result]:
        """Run one prefill or decode step; return the results of requests that finished."""
        if not self._scheduler.is_finished():
            self._step(self._scheduler)
        finished, self._finished = self._finished, []
        ready, self._ready = self._ready, []
        return ready + [seq.to_result() for seq in finished]

    def _sequence(self, index: int, prompt: dict, params: SamplingParams, grammar: Any) -> Sequence:
        if not isinstance(params, SamplingParams):
            raise TypeError(f"prompt {index}: params must be SamplingParams, got {type(params).__name__}")
        ids = prompt.get("input_ids") if isinstance(prompt, dict) else None
        if not isinstance(ids, (list, tuple)) or not ids:
            raise TypeError(f"prompt {index}: expected a dict with a non-empty 'input_ids' list")
        ids = [int(t) for t in ids]
        vision = None
        if prompt.get("pixel_values") is not None:
            vision = {"pixel_values": prompt["pixel_values"], "image_grid_thw": prompt.get("image_grid_thw")}
        n_vision = ids.count(self.image_token_id) if self.image_token_id is not None else 0
        n_vision *= self.config.spatial_merge_size ** 2
        matcher = self.grammar(grammar).matcher() if grammar is not None else None
        seq = Sequence(index, ids, params, num_vit_tokens=n_vision, vision=vision, matcher=matcher)
        problem = image_problem(vision, n_vision)
        if problem is not None:
            seq.finish("error", error_type="PromptImageError", error=problem)
        return seq

    def _step(self, scheduler: Scheduler) -> None:
        if self._inflight is not None:
            if not scheduler.can_admit():
                self._step_ahead(scheduler)
                return
            self._settle()  # a prefill is due: the ids in flight first (they may free slots too)
            if scheduler.is_finished():
                return
        batch = scheduler.schedule()
        seqs = batch.seqs
        # Masks depend only on tokens already accepted: fill them while the runner computes.
        pending = self._constraints.submit(seqs)
        # Built before the forward is queued: a host-to-device copy after it would wait for it.
        sampling = SamplingBatch.build([s.params for s in seqs], [s.num_completion_tokens for s in seqs],
                                       device=self.runner.device)
        try:
            logits = self.runner.prefill(seqs) if batch.kind == "prefill" else self.runner.decode(seqs)
            if batch.kind == "prefill" and not self.runner.needs_vision_after_prefill:
                for seq in seqs:  # the images live in the cache now: free the host pixels
                    seq.vision = None
            sampled = self._sample(seqs, logits, sampling, pending)
            if self.overlap and batch.kind == "decode":
                self._inflight = InFlight.start(seqs, sampled)  # read by the next step
                return
            tokens = sampled.tolist()
        except RuntimeError as e:
            # Device failures (CUDA errors, out of memory) are RuntimeErrors: one attempt per
            # step, the batch's sequences fail with a typed record.
            self._fail_batch(scheduler, batch, pending, e)
            return
        except Exception as e:
            # Anything else is a bug: raise it, but free the batch first. Left running, a sequence
            # whose prefill never ran would decode on the previous occupant's slot state.
            self._fail_batch(scheduler, batch, pending, e)
            raise
        self._finished.extend(scheduler.postprocess(seqs, tokens))

    def _sample(self, rows: list[Sequence | None], logits, sampling: SamplingBatch, pending):
        """Wait for the masks (if any), steer rows near their budget to close, sample on the device."""
        return self.sampler(logits, sampling, self._constraints.masks(rows, pending))

    def _settle(self) -> None:
        """Read and apply the ids in flight, if any (overlapped decode)."""
        inflight, self._inflight = self._inflight, None
        if inflight is None:
            return
        try:
            tokens = inflight.read()
        except RuntimeError as e:  # the device failed under the step that made them
            self._fail_batch(self._scheduler, ScheduledBatch("decode", inflight.seqs), None, e)
            return
        self._finished.extend(self._scheduler.postprocess(inflight.seqs, tokens))

    def _step_ahead(self, scheduler: Scheduler) -> None:
        """A decode step queued behind the previous one's unread ids (overlapped decode)."""
        inflight, self._inflight = self._inflight, None
        seqs = inflight.seqs  # == scheduler.running: nothing was admitted since
        # Every row is one token further than the host has appended yet.
        sampling = SamplingBatch.build([s.params for s in seqs], [s.num_completion_tokens + 1 for s in seqs],
                                       device=self.runner.device)
        pending = None
        try:
            logits = self.runner.decode(seqs, next_tokens=inflight.tokens)
            # While the device computes: the previous ids on the host, then masks for this step.
            self._finished.extend(scheduler.postprocess(seqs, inflight.read()))
            live = [s if not s.is_finished else None for s in seqs]
            pending = self._constraints.submit(live)
            sampled = self._sample(live, logits, sampling, pending)
        except BaseException as e:  # even an interrupt: the device ran ahead of the host, rows cannot resume
            running = [s for s in seqs if not s.is_finished]
            self._fail_batch(scheduler, ScheduledBatch("decode", running), pending, e)
            if isinstance(e, RuntimeError):
                return
            raise
        keep = [i for i, s in enumerate(seqs) if not s.is_finished]
        if keep:
            self._inflight = InFlight.start_rows([seqs[i] for i in keep], sampled, keep)

    def _fail_batch(self, scheduler: Scheduler, batch, pending, error: Exception) -> None:
        if pending is not None:
            pending.exception()  # let the worker finish before its buffer is reused
        for seq in batch.seqs:
            seq.finish("error", error_type=type(error).__name__, error=f"{batch.kind} step failed: {error}")
            scheduler.release(seq)
        self._finished.extend(batch.seqs)
