"""Load a non-qwen3_5 checkpoint onto the transformers backend: `load_hf_reader(path, ...)` -> `HfReader`.

transformers is imported here, lazily (`raxdoc.engine` imports without it). The tokenizer (its
chat template) and the image processor are loaded on their own, never `AutoProcessor` (see
`hf_prompt`). Weights in the profile's dtype; `device_map="auto"` spreads a checkpoint over the
GPUs when asked, or when its weights exceed one GPU's share (`gpu_memory_utilization`).

Batch size (`memory_batch_size`), a simple rule: on CUDA, the memory left on the device after the
weights, within the profile's share, divided by one sequence's worst case (KV cache over
`max_model_len` tokens, doubled for activations and generate's temporaries), capped by the
profile's `max_num_seqs`; on CPU, `max_num_seqs`.

Not here: the checks that run before Ray (`raxdoc.model.hf_checks`), batching (`hf_reader`).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from raxdoc.engine.hf_prompt import HfPrompter
from raxdoc.engine.hf_reader import HfReader


def load_hf_reader(path_or_id: str | Path, *, profile: Any = None, device: str | None = None,
                   trust_remote_code: bool = False, device_map: str | None = None,
                   family_overrides: dict[str, Any] | None = None) -> HfReader:
    """`profile`: a `raxdoc.profiles.Profile` (dtype, max_num_seqs, max_model_len, memory share)."""
    from transformers import AutoImageProcessor, AutoTokenizer, GenerationConfig

    from raxdoc.model.families import family_for, read_config
    from raxdoc.model.hf_checks import chat_template, check_transformers_checkpoint
    from raxdoc.model.loader import resolve
    from raxdoc.model.weights import tensor_shapes, weight_files

    folder = resolve(path_or_id)
    raw = read_config(folder)
    check_transformers_checkpoint(folder, raw, trust_remote_code=trust_remote_code)
    tensor_shapes(weight_files(folder))  # unreadable or missing weight files: a LoaderError naming them
    family = family_for(raw).with_overrides(**(family_overrides or {}))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = _dtype(getattr(profile, "dtype", None), device)
    util = float(getattr(profile, "gpu_memory_utilization", 0.9))
    if device_map is None and device.startswith("cuda") and torch.cuda.device_count() > 1 \
            and _weight_bytes(folder) > util * torch.cuda.get_device_properties(0).total_memory:
        device_map = "auto"

    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    if not getattr(tokenizer, "chat_template", None):  # kept where the tokenizer does not look (chat_template.json)
        tokenizer.chat_template = chat_template(folder)
    pixel_kwargs = {}
    if family.min_pixels or family.max_pixels:
        base = AutoImageProcessor.from_pretrained(folder, trust_remote_code=trust_remote_code)
        size = dict(getattr(base, "size", None) or {})
        size.update({k: v for k, v in (("shortest_edge", family.min_pixels), ("longest_edge", family.max_pixels)) if v})
        pixel_kwargs["size"] = size
        # Top-level min_pixels / max_pixels in preprocessor_config.json (older Qwen-VL files) win over
        # size{} in transformers: replace those too, else the bound asked for is silently ignored.
        saved = _json_or_empty(folder / "preprocessor_config.json")
        for key, edge in (("min_pixels", "shortest_edge"), ("max_pixels", "longest_edge")):
            if saved.get(key) is not None and size.get(edge):
                pixel_kwargs[key] = size[edge]
    image_processor = AutoImageProcessor.from_pretrained(folder, trust_remote_code=trust_remote_code, **pixel_kwargs)
    model = _load_model(folder, dtype, device_map, trust_remote_code)
    if device_map is None:
        model.to(device)
    model.eval()

    accepted = inspect.signature(model.forward).parameters
    extra = tuple(n for n in ("mm_token_type_ids", "moe_mm_token_type_ids") if n in accepted)
    prompter = HfPrompter(tokenizer, image_processor, model.config, family.chat_template_kwargs, extra)
    eos = _eos_ids(folder, tokenizer, GenerationConfig)
    max_batch = memory_batch_size(model.config, profile, device, dtype)
    return HfReader(model, tokenizer, prompter, max_batch=max_batch, family=family, eos_ids=eos,
                    pad_id=tokenizer.pad_token_id)


def memory_batch_size(config: Any, profile: Any, device: str, dtype: torch.dtype) -> int:
    """Sequences one generate call takes (see the module docstring for the rule)."""
    cap = int(getattr(profile, "max_num_seqs", 8))
    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        return cap
    text = getattr(config, "text_config", None) or config
    layers = int(getattr(text, "num_hidden_layers", 32))
    kv_heads = int(getattr(text, "num_key_value_heads", None) or getattr(text, "num_attention_heads", 8))
    head_dim = int(getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads)
    max_len = int(getattr(profile, "max_model_len", 4096))
    per_seq = 2 * layers * kv_heads * head_dim * max_len * torch.finfo(dtype).bits // 8 * 2
    free, total = torch.cuda.mem_get_info()
    budget = min(free, float(getattr(profile, "gpu_memory_utilization", 0.9)) * total
                 - torch.cuda.memory_allocated())
    return max(1, min(cap, int(budget // per_seq)))


def _load_model(folder: Path, dtype: torch.dtype, device_map: str | None, trust_remote_code: bool) -> Any:
    from transformers import AutoModel, AutoModelForImageTextToText

    kwargs = dict(dtype=dtype, device_map=device_map, trust_remote_code=trust_remote_code)
    try:
        return AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
    except ValueError:
        if not trust_remote_code:
            raise
        # Remote-code models (R-4B) often register only AutoModel in their auto_map.
        return AutoModel.from_pretrained(folder, **kwargs)


def _dtype(name: str | None, device: str) -> torch.dtype:
    if name is None:
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def _eos_ids(folder: Path, tokenizer: Any, generation_config_cls: Any) -> tuple[int, ...]:
    """The checkpoint's end ids: generation_config.json's eos_token_id, else the tokenizer's."""
    ids: list[int] = []
    if (folder / "generation_config.json").is_file():
        eos = generation_config_cls.from_pretrained(folder).eos_token_id
        ids = [eos] if isinstance(eos, int) else list(eos or [])
    if not ids and tokenizer.eos_token_id is not None:
        ids = [tokenizer.eos_token_id]
    if not ids:
        raise ValueError(f"{folder}: no eos_token_id in generation_config.json or the tokenizer")
    return tuple(int(i) for i in ids)


def _json_or_empty(path: Path) -> dict:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _weight_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for pattern in ("*.safetensors", "pytorch_model*.bin") for f in folder.glob(pattern))
