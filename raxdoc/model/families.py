"""Reader families as data: which checkpoints run on which reader, and each family's defaults.

A family is picked from a checkpoint's `config.json` alone (`model_type`, then `architectures`):
`qwen3_5` (Rax 4.5, and Rax 3.5 Chat when its config says `qwen3_5`) runs on our engine; every other
image-text-to-text checkpoint runs on the transformers backend (`raxdoc.engine.hf_reader`), with
the defaults of its family when it has one, else `GENERIC`.

Defaults: the chat-template switch that turns thinking off (extraction wants the answer, and
`postprocess.strip_thinking` removes whatever thinking a model writes anyway); sampling used only
when a run asks for sampling (raxdoc extracts greedily by default: deterministic, resumable, and
the grammar already keeps output on the schema); image pixel bounds for the image processor
(None: the checkpoint's own). `Family.with_overrides` replaces fields by name, like profiles;
`check_reader_options` is what a run may replace (`--reader-option KEY=VALUE`, `extract(reader_options=)`).

Not here: loading anything (torch / transformers), the up-front checkpoint check (`loader`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ReaderKind = Literal["rax", "transformers"]


@dataclass(frozen=True)
class Family:
    name: str
    # Human name(s) for `raxdoc models`.
    label: str
    # config.json `model_type` values this family covers.
    model_types: tuple[str, ...]
    # Which reader runs it: our engine or the transformers backend.
    runs: ReaderKind = "transformers"
    # config.json `architectures` entries that also identify it (remote-code models).
    architectures: tuple[str, ...] = ()
    # Passed to `apply_chat_template`: the family's own switch that turns thinking off.
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    # Sampling when a run samples (temperature > 0): temperature, top_p, top_k, presence_penalty.
    sampling: dict[str, float] = field(default_factory=dict)
    # Image processor pixel bounds; None keeps the checkpoint's preprocessor_config.json.
    min_pixels: int | None = None
    max_pixels: int | None = None
    # Needs `--trust-remote-code` (its modelling code ships with the checkpoint).
    remote_code: bool = False
    # One line for `raxdoc models`.
    note: str = ""

    def __post_init__(self) -> None:
        if self.runs not in ("rax", "transformers"):
            raise ValueError(f"family {self.name}: runs must be 'rax' or 'transformers', got {self.runs!r}")
        unknown = set(self.sampling) - {"temperature", "top_p", "top_k", "presence_penalty"}
        if unknown:
            raise ValueError(f"family {self.name}: unknown sampling key(s) {sorted(unknown)}")
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(f"family {self.name}: min_pixels {self.min_pixels} > max_pixels {self.max_pixels}")

    def with_overrides(self, **overrides: Any) -> "Family":
        """A copy with fields replaced by name; unknown names are errors naming the field."""
        known = {f.name for f in dataclasses.fields(self)} - {"name", "model_types", "runs"}
        unknown = sorted(k for k in overrides if k not in known)
        if unknown:
            raise ValueError(f"unknown family field(s) {unknown}; known: {sorted(known)}")
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("rax", "Rax 4.5, Rax 3.5 Chat", ("qwen3_5",), runs="rax",
           architectures=("Qwen3_5ForConditionalGeneration",),
           note="our engine: packed prefill, continuous batching, CUDA graphs, grammar"),
    Family("exaone4_5", "EXAONE 4.5", ("exaone4_5",),
           chat_template_kwargs={"enable_thinking": False},
           sampling={"temperature": 0.6, "top_p": 0.95, "top_k": 20, "presence_penalty": 1.5},
           note="thinking on by default in its template: enable_thinking=False"),
    Family("ernie4_5_vl", "ERNIE-4.5-VL (incl. -Thinking, AWQ INT8 compressed-tensors)",
           ("ernie4_5_vl_moe",), chat_template_kwargs={"enable_thinking": False},
           note="the Thinking checkpoint may reason anyway: its <think> text is stripped"),
    Family("r_4b", "R-4B", ("r", "r_vl"), architectures=("RForConditionalGeneration",),
           chat_template_kwargs={"thinking_mode": "short"}, remote_code=True,
           note="remote code (--trust-remote-code); thinking_mode='short' answers without thinking"),
)}

# Any other image-text-to-text checkpoint: its template as written, greedy, its own pixel bounds.
GENERIC = Family("generic", "any other image-text-to-text checkpoint", (),
                 chat_template_kwargs={"enable_thinking": False},
                 note="transformers' AutoModelForImageTextToText; enable_thinking=False is ignored "
                      "by templates without it")


def read_config(folder: Path) -> dict[str, Any]:
    """config.json of a checkpoint folder as a dict (ValueError when missing or not JSON)."""
    path = Path(folder) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from e
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a JSON object")
    return config


def family_for(config: dict[str, Any]) -> Family:
    """The family of a checkpoint config (`model_type` first, then `architectures`); GENERIC if none."""
    model_type = config.get("model_type")
    for family in FAMILIES.values():
        if isinstance(model_type, str) and model_type in family.model_types:
            return family
    arch = config.get("architectures")
    arch = set(arch) if isinstance(arch, list) and all(isinstance(a, str) for a in arch) else set()
    for family in FAMILIES.values():
        # Our engine by architecture only when model_type is absent: a config naming another
        # model_type is that model, whatever class it lists.
        if arch & set(family.architectures) and (family.runs != "rax" or model_type is None):
            return family
    return GENERIC


def reader_kind_of(config: dict[str, Any]) -> ReaderKind:
    """'rax' for our engine (qwen3_5 configs), 'transformers' for everything else."""
    return family_for(config).runs


# What a run may replace (`--reader-option`): each a whole value, the family's default dropped.
# Not `sampling`: extraction decodes greedily, so sampling defaults never apply to a run.
READER_OPTIONS: dict[str, str] = {
    "chat_template_kwargs": "a JSON object passed to apply_chat_template, e.g. {\"enable_thinking\": false}",
    "min_pixels": "an integer: the image processor's lower pixel bound",
    "max_pixels": "an integer: the image processor's upper pixel bound",
}


def check_reader_options(options: dict[str, Any], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """`options` checked (ValueError naming the valid keys or the wrong value), as given.

    With the checkpoint's `config`: a checkpoint that runs on our engine (qwen3_5) takes none, since
    its chat prompt is raxdoc's own and its pixel budget the profile's (`--max-pixels`)."""
    unknown = sorted(k for k in options if k not in READER_OPTIONS)
    if unknown:
        valid = "; ".join(f"{k} ({what})" for k, what in READER_OPTIONS.items())
        raise ValueError(f"unknown reader option(s) {', '.join(unknown)}; valid: {valid}")
    for key, value in options.items():
        ok = isinstance(value, dict) if key == "chat_template_kwargs" else \
            isinstance(value, int) and not isinstance(value, bool) and value > 0
        if not ok:
            raise ValueError(f"reader option {key}={value!r}: expected {READER_OPTIONS[key]}")
    if config is not None and options:
        family = family_for(config)
        if family.runs == "rax":
            raise ValueError(f"reader options ({', '.join(sorted(options))}) apply to the transformers reader only; "
                             f"this checkpoint ({config.get('model_type')}) runs on raxdoc's engine, whose prompt "
                             f"is raxdoc's own and whose pixel budget is the profile's (--max-pixels)")
        family.with_overrides(**options)  # min_pixels > max_pixels against the family's own bounds
    return options
