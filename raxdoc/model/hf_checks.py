"""Checks a transformers-backend checkpoint needs before Ray starts (config.json only, no torch).

- remote code (`auto_map` in config.json) runs only with `--trust-remote-code`;
- a quantized checkpoint (`quantization_config`) needs its package installed;
- the files beside the weights the backend loads: a tokenizer, a chat template (`chat_template.jinja`,
  `chat_template.json`, or in `tokenizer_config.json` / `processor_config.json`), an image processor
  config (`preprocessor_config.json` or `processor_config.json`).
Called by `loader.check_checkpoint` for every non-qwen3_5 checkpoint.

Not here: which reader runs what (`families`), loading (`raxdoc.engine.hf_loading`).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from raxdoc.model.loader import LoaderError


class RemoteCodeRequired(LoaderError):
    """The checkpoint ships its own modelling code and `--trust-remote-code` was not given."""


class QuantizationPackageMissing(LoaderError):
    """The checkpoint is quantized in a format whose Python package is not installed."""


# quant_method in config.json -> (import name, pip package) transformers needs to load it.
QUANT_PACKAGES: dict[str, tuple[str, str]] = {
    "compressed-tensors": ("compressed_tensors", "compressed-tensors"),
    "awq": ("awq", "autoawq"),
    "gptq": ("gptqmodel", "gptqmodel"),
    "bitsandbytes": ("bitsandbytes", "bitsandbytes"),
}


def needs_remote_code(config: dict[str, Any]) -> bool:
    return bool(config.get("auto_map"))


def check_transformers_checkpoint(folder: Path, config: dict[str, Any], *, trust_remote_code: bool = False) -> None:
    """Raise a `LoaderError` (subclass) saying what is missing for the transformers backend."""
    remote = needs_remote_code(config)
    if importlib.util.find_spec("transformers") is None:
        raise LoaderError(f"{folder} is a {config.get('model_type')!r} checkpoint, which runs on the transformers "
                          f"backend: install it with pip install 'raxdoc[readers]' (our own engine runs "
                          f"model_type 'qwen3_5' only)")
    if not remote and not _image_text_to_text(config.get("model_type")):
        raise LoaderError(f"{folder / 'config.json'}: model_type {config.get('model_type')!r} is not a vision-language "
                          f"(image-text-to-text) model transformers knows: model_type must be 'qwen3_5' for our "
                          f"engine, or an image-text-to-text model (see `raxdoc models`)")
    if remote and not trust_remote_code:
        raise RemoteCodeRequired(
            f"{folder} ships its own modelling code (auto_map in config.json): it runs only with "
            f"--trust-remote-code (trust_remote_code=True), which executes that code on every engine "
            f"node; read it first, and pass the flag if you trust its source")
    _check_side_files(folder, remote)
    method = quant_method(config)
    if method in QUANT_PACKAGES:
        module, package = QUANT_PACKAGES[method]
        if importlib.util.find_spec(module) is None:
            raise QuantizationPackageMissing(
                f"{folder} is quantized ({method}): loading it needs the `{package}` package "
                f"(pip install {package})")


def quant_method(config: dict[str, Any]) -> str | None:
    """`quantization_config.quant_method` of the config or its text config; None when not quantized."""
    for cfg in (config, config.get("text_config") or {}):
        q = cfg.get("quantization_config") if isinstance(cfg, dict) else None
        if isinstance(q, dict) and q.get("quant_method"):
            return str(q["quant_method"])
    return None


def _image_text_to_text(model_type: Any) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return isinstance(model_type, str) and model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


# Vocabulary files a tokenizer loads from: the fast tokenizer's, BPE's, WordPiece's, SentencePiece's, tiktoken's.
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "vocab.txt", "*.model", "*.tiktoken")


def chat_template(folder: Path) -> str | None:
    """The checkpoint's chat template, wherever transformers' tokenizer or processor keeps it; None when absent.
    A list of named templates (tokenizer_config.json) gives its "default" one."""
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text()
    for name in ("tokenizer_config.json", "chat_template.json", "processor_config.json"):
        try:
            template = json.loads((folder / name).read_text()).get("chat_template")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(template, list):
            template = next((t.get("template") for t in template if isinstance(t, dict)
                             and t.get("name") == "default"), None)
        if isinstance(template, str) and template.strip():
            return template
    return None


def _check_side_files(folder: Path, remote: bool) -> None:
    has = lambda *patterns: any(next(folder.glob(p), None) for p in patterns)  # noqa: E731
    if not has(*TOKENIZER_FILES) and not (remote and has("tokenizer_config.json")):
        raise LoaderError(f"{folder} has no tokenizer files (looked for {', '.join(TOKENIZER_FILES)}; "
                          f"tokenizer_config.json alone holds settings, not the vocabulary)")
    if chat_template(folder) is None:
        raise LoaderError(f"{folder} has no chat template (looked for chat_template.jinja, chat_template.json, "
                          f"and a chat_template in tokenizer_config.json or processor_config.json): raxdoc "
                          f"builds each page's prompt with it")
    if not has("preprocessor_config.json", "processor_config.json"):
        raise LoaderError(f"{folder} has no preprocessor_config.json (the image processor's settings)")
