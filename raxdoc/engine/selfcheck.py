"""The engine's start-up self-check: its fast paths against the plain-torch reference, in one process.

`run_self_check(engine)` sends a few short greedy requests (with images and without) through the
engine as it is configured (fla and our Triton kernels, flash prefill attention, the decode
attention kernel, CUDA graphs, overlapped decode), recording every row of logits it samples from,
then feeds the same tokens to the model's uncached forward under `backend.reference_only()` (every
op its plain-torch reference) and compares row by row: max |fast - reference| / max |reference|
must stay under `TOLERANCES[dtype]`. A trial fails on a mismatch, an error result, an exception, or
a CUDA graph capture the runner had to give up.

On a failure it switches components to their safer path (`COMPONENTS`, in this order: graphs ->
eager, overlapped -> serial decode, decode kernel -> gather, flash -> SDPA prefill attention,
fla/Triton -> torch ops) until a trial passes: first the component an error names, then each
active one alone (so a broken decode kernel does not cost the graphs too), then cumulatively. It
logs one warning (logger `raxdoc.engine.selfcheck`), naming what it switched off and why; `Engine.paths` then reports the chosen paths and
the verdict (what a run writes into its metadata). If even every reference path disagrees, that is
a bug, not a kernel: `SelfCheckError`. The ops switches are process-wide (`backend.disable`).

Not here: the kernels, the decisions between them (`raxdoc.model.ops.backend`), when the check runs
(`Engine.from_pretrained`, `raxdoc doctor`).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from typing import Any

import torch

from raxdoc.engine.sampling_params import SamplingParams
from raxdoc.model.ops import backend

# Max |fast - reference| / max |reference| over a row of logits, by the model's dtype: float32 paths
# differ by summation order only; half precision by rounding that compounds over 24 layers.
TOLERANCES = {"float32": 1e-3, "float16": 2e-2, "bfloat16": 5e-2}
COMPONENTS = ("cuda_graphs", "overlap_decode", "decode_attention", "prefill_attention", "linear_ops")
log = logging.getLogger(__name__)
SAFER = {"cuda_graphs": "eager", "overlap_decode": "serial decode", "decode_attention": "gather",
         "prefill_attention": "sdpa", "linear_ops": "torch"}


class SelfCheckError(RuntimeError):
    """The engine disagrees with the reference even on every reference path: a bug, not a kernel."""


@dataclasses.dataclass
class Trial:
    ok: bool
    detail: str  # "max rel err 3e-07 (tol 0.001)", or what failed
    component: str | None = None  # the component an error names, when it names one
    max_rel_err: float | None = None


def _probe(engine: Any) -> torch.Tensor:
    model = getattr(engine.runner, "model", None)
    dtype = next(model.parameters()).dtype if model is not None else torch.float32
    return torch.empty(1, 1, 1, dtype=dtype, device=engine.runner.device)


def current_paths(engine: Any) -> dict[str, str]:
    """Which path each component takes now (what `Engine.paths` reports, verdict aside)."""
    runner, t = engine.runner, _probe(engine)
    try:
        fla = backend.use_fla(t)
    except backend.BackendUnavailableError:  # RAXDOC_OPS=fla where it cannot run: the ops will say so
        fla = False
    triton = backend.use_triton(t)
    graphs = getattr(runner, "graphs", None)
    error = getattr(runner, "graph_error", None)
    return {
        "linear_ops": "+".join(n for n, on in (("fla", fla), ("triton", triton)) if on) or "torch",
        "prefill_attention": backend.prefill_attention_path(t),
        "decode_attention": getattr(getattr(runner, "attention", None), "name", "n/a"),
        "cuda_graphs": "on" if graphs is not None else f"off ({error})" if error else "off",
        "overlap_decode": "on" if engine.overlap else "off",
    }


def format_paths(paths: dict[str, str]) -> str:
    """One line for a run's metadata: `linear_ops=fla+triton; ...; self_check=passed`."""
    return "; ".join(f"{k}={v}" for k, v in paths.items())


class _Switches:
    """Turns each component's fast path off and on again, remembering what it was."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.runner = engine, engine.runner
        self.graphs = getattr(self.runner, "graphs", None)
        self.attention = getattr(self.runner, "attention", None)
        self.overlap = engine.overlap

    def active(self) -> list[str]:
        paths = current_paths(self.engine)
        on = {"cuda_graphs": paths["cuda_graphs"] == "on", "overlap_decode": self.engine.overlap,
              "decode_attention": paths["decode_attention"] not in ("gather", "n/a"),
              "prefill_attention": paths["prefill_attention"] != "sdpa",
              "linear_ops": paths["linear_ops"] != "torch"}
        return [c for c in COMPONENTS if on[c]]

    def set(self, component: str, on: bool) -> None:
        r = self.runner
        if component == "cuda_graphs":
            r.graphs = self.graphs if on else None
        elif component == "overlap_decode":
            self.engine.overlap = on and self.overlap
        elif component == "decode_attention":
            from raxdoc.model.ops.attention import GatherAttention

            r.attention = self.attention if on else GatherAttention()
            if r.graphs is not None:  # captured graphs hold the old kernel: capture afresh
                from raxdoc.engine.cuda_graphs import DecodeGraphs

                r.graphs = self.graphs = DecodeGraphs(r._decode_step, r._park, r.device)
        elif component == "prefill_attention":
            (backend.enable if on else backend.disable)("prefill_flash")
        elif component == "linear_ops":
            for path in ("fla", "triton"):
                (backend.enable if on else backend.disable)(path)
        else:
            raise ValueError(f"unknown component {component!r}; one of {COMPONENTS}")


class _Recorder:
    """Stands in for the runner during a trial: every logits row it returns, per sequence, on the host."""

    def __init__(self, runner: Any) -> None:
        self._runner, self.rows = runner, {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)

    def _keep(self, seqs, logits):
        for seq, row in zip(seqs, logits.float().cpu()):
            self.rows.setdefault(seq.seq_id, []).append(row)
        return logits

    def prefill(self, seqs):
        return self._keep(seqs, self._runner.prefill(seqs))

    def decode(self, seqs, next_tokens=None):
        return self._keep(seqs, self._runner.decode(seqs, next_tokens=next_tokens))


def default_prompts(processor: Any, seed: int = 0) -> list[dict]:
    """Four short requests: two with a small random page, two text only."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for text, size in [("Total?", (72, 48)), ("Say hello.", None), ("Lines", (40, 88)), ("Hi", None)]:
        pages = [] if size is None else [rng.integers(0, 256, (*size, 3), dtype=np.uint8)]
        inputs = processor(text, pages)
        out.append({"input_ids": inputs.input_ids.tolist(), "pixel_values": inputs.pixel_values if pages else None,
                    "image_grid_thw": inputs.image_grid_thw if pages else None})
    return out


def _trial(engine: Any, prompts: list[dict], max_new_tokens: int, tolerance: float) -> Trial:
    runner = engine.runner
    error_before = getattr(runner, "graph_error", None)
    recorder = _Recorder(runner)
    first_id = engine._next_id
    engine.runner = recorder
    try:
        with warnings.catch_warnings():  # the runner's own graph warning: this check reports it once
            warnings.simplefilter("ignore", RuntimeWarning)
            results = engine.generate(prompts, SamplingParams(max_new_tokens=max_new_tokens, ignore_eos=True))
    except Exception as err:  # any failure of a fast path: one policy, fall back and re-check
        return Trial(False, f"{type(err).__name__}: {err}")
    finally:
        engine.runner = runner
    if getattr(runner, "graph_error", None) != error_before:
        return Trial(False, str(runner.graph_error), "cuda_graphs")
    bad = [r for r in results if not r.ok]
    if bad:
        return Trial(False, f"{bad[0].error_type}: {bad[0].error}")
    worst, agree, total = 0.0, 0, 0
    with torch.inference_mode(), backend.reference_only():
        for i, (prompt, result) in enumerate(zip(prompts, results)):
            out = list(result.token_ids)
            ids = torch.tensor([prompt["input_ids"] + out[:-1]], device=runner.device)  # (1, P + n - 1)
            vision = {k: prompt.get(k) for k in ("pixel_values", "image_grid_thw") if prompt.get(k) is not None}
            vision = {k: v.to(runner.device) for k, v in vision.items()}
            out_ref = runner.model(ids, **vision)
            ref = getattr(out_ref, "logits", out_ref)[0, len(prompt["input_ids"]) - 1:].float().cpu()  # (n, V)
            fast = torch.stack(recorder.rows[first_id + i][: len(out)])
            err = (fast - ref).abs().amax(-1) / ref.abs().amax(-1).clamp_min(1e-6)
            err = torch.nan_to_num(err, nan=float("inf"))  # a NaN row must fail, not compare as 0
            worst = max(worst, float(err.max()))
            agree += int((fast.argmax(-1) == ref.argmax(-1)).sum())
            total += len(out)
    detail = f"max rel logit error {worst:.3g} (tolerance {tolerance:g}), top-1 agreement {agree}/{total}"
    return Trial(worst <= tolerance, detail, max_rel_err=worst)


def run_self_check(engine: Any, prompts: list[dict] | None = None, *, max_new_tokens: int = 6,
                   tolerance: float | None = None) -> dict[str, Any]:
    """Check, fall back until a trial passes, warn once; -> {"verdict", "paths", "trials"}.

    `prompts`: engine prompts (default: `default_prompts(engine.processor)`). Sets
    `engine.self_check_verdict`, which `engine.paths` reports."""
    runner = engine.runner
    if getattr(runner, "model", None) is None:
        engine.self_check_verdict = "not run (the runner has no model to compare with)"
        return {"verdict": engine.self_check_verdict, "paths": engine.paths, "trials": []}
    if prompts is None:
        if engine.processor is None:
            raise ValueError("run_self_check needs prompts when the engine has no processor")
        prompts = default_prompts(engine.processor)
    dtype = str(next(runner.model.parameters()).dtype).removeprefix("torch.")
    tol = TOLERANCES.get(dtype, TOLERANCES["bfloat16"]) if tolerance is None else tolerance
    switches = _Switches(engine)
    fast = switches.active()
    trials = [("all fast paths", _trial(engine, prompts, max_new_tokens, tol))]
    off: list[str] = []

    def attempt(label: str) -> bool:
        trials.append((label, _trial(engine, prompts, max_new_tokens, tol)))
        return trials[-1][1].ok

    passed = trials[0][1].ok
    named = trials[0][1].component
    if not passed and named in fast:  # the error says which one: keep it off
        switches.set(named, False)
        off.append(named)
        passed = attempt(f"{named} off")
    for comp in ([] if passed else [c for c in fast if c not in off]):
        switches.set(comp, False)
        if attempt(f"{comp} off"):
            off.append(comp)
            passed = True
            break
        switches.set(comp, True)
    for comp in ([] if passed else [c for c in fast if c not in off]):
        switches.set(comp, False)  # no single culprit: everything safer, in order
        off.append(comp)
        if attempt(f"{', '.join(off)} off"):
            passed = True
            break
    first = trials[0][1]
    if not passed:
        engine.self_check_verdict = f"FAILED on the reference paths too: {trials[-1][1].detail}"
        raise SelfCheckError(f"engine self-check: {engine.self_check_verdict} (first trial: {first.detail})")
    if off:
        engine.self_check_verdict = (f"fell back: {', '.join(f'{c} -> {SAFER[c]}' for c in off)} "
                                     f"(fast path: {first.detail})")
        log.warning("engine self-check: %s failed against the plain-torch reference (%s); switched to %s. "
                    "Output stays correct; this engine runs slower.", ", ".join(off), first.detail,
                    ", ".join(SAFER[c] for c in off))
    else:
        engine.self_check_verdict = f"passed ({first.detail})"
    return {"verdict": engine.self_check_verdict, "paths": engine.paths,
            "trials": [{"trial": label, "ok": t.ok, "detail": t.detail} for label, t in trials]}
