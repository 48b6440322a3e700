"""A torch-free stand-in for `Engine`'s streaming API (add_request / step / has_unfinished).

FIFO admission into `max_num_seqs` slots; every step gives each running request one token and
records which request ids ran in it; a request finishes after `tokens` tokens with text naming
its prompt, so a caller can check every page got its own answer. `fail_step(n)` makes step n
raise like a buggy engine does (after failing that step's requests, as `Engine._step` does).
"""

from __future__ import annotations

import types

from raxdoc.engine.sampling_params import Result


class FakeEngine:
    def __init__(self, max_num_seqs: int = 2, tokens: int = 3):
        self.scheduler_config = types.SimpleNamespace(max_num_seqs=max_num_seqs)
        self.tokens = tokens
        self.waiting: list[tuple[int, dict]] = []
        self.running: dict[int, list] = {}  # id -> [prompt, tokens so far]
        self.finished: list[Result] = []
        self.steps: list[list[int]] = []  # request ids that ran in each step
        self.prompts: list[dict] = []
        self.fail_steps: set[int] = set()
        self.closed = False
        self._next = 0

    def add_request(self, prompt, params, grammar=None) -> int:
        if not prompt.get("input_ids"):
            raise TypeError("expected a non-empty 'input_ids' list")
        self.prompts.append(prompt)
        self.waiting.append((self._next, prompt))
        self._next += 1
        return self._next - 1

    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running or self.finished)

    def step(self) -> list[Result]:
        while self.waiting and len(self.running) < self.scheduler_config.max_num_seqs:
            rid, prompt = self.waiting.pop(0)
            self.running[rid] = [prompt, 0]
        ran = sorted(self.running)
        self.steps.append(ran)
        if len(self.steps) - 1 in self.fail_steps:
            for rid in ran:
                self.finished.append(_result(rid, "", "error", error_type="TypeError", error="decode step failed"))
                del self.running[rid]
            raise TypeError("a bug in the engine")
        for rid in ran:
            self.running[rid][1] += 1
            if self.running[rid][1] == self.tokens:
                prompt, _ = self.running.pop(rid)
                self.finished.append(_result(rid, f"page {prompt['input_ids'][0]}", "length"))
        finished, self.finished = self.finished, []
        return finished

    def close(self) -> None:
        self.closed = True


def _result(rid: int, text: str, reason: str, **error) -> Result:
    return Result(token_ids=(), text=text, finish_reason=reason, prompt_tokens=1, completion_tokens=1,
                  t_queued=0.0, t_first_token=None, t_finished=0.01, request_id=rid, **error)
