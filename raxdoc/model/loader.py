"""Weight loading: a Hugging Face checkpoint folder or hub id -> a materialised Rax model.

The module tree is built on the ``meta`` device (the model keeps no buffers: rotary tables are
computed per call), then each checkpoint tensor is read (``weights``: safetensors or PyTorch pickles,
sharded or not) straight onto the caller's device, cast to the caller's dtype one tensor at a time,
and installed as the parameter. Checkpoint names map to module names through ``CHECKPOINT_RULES``
(data, first match wins) and ``TRANSFORMS``. ``check_checkpoint`` runs the same plan on headers only,
before anything loads. Missing, unexpected or misshapen tensors raise ``LoaderError`` listing them.
Not here: quantisation, tensor parallelism.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from raxdoc.model.config import RaxConfig


class LoaderError(RuntimeError):
    """The checkpoint cannot be found or does not fit the model; the message says what and where."""


# (checkpoint prefix, module prefix): transformers' layout first, then the older Qwen-VL layout
# (``visual.*`` at the root, decoder under bare ``model.*``), then the LLaVA-style one
# (``language_model.model.*``, ``language_model.lm_head.*``); names already ours fall through
# unchanged. ``None`` drops the tensor on purpose.
CHECKPOINT_RULES: tuple[tuple[str, str | None], ...] = (
    ("model.visual.", "visual."),
    ("model.language_model.", "language_model."),
    ("lm_head.", "lm_head."),
    ("mtp.", None),  # multi-token-prediction head shipped with Qwen3.5 checkpoints; unused for decoding
    ("model.mtp.", None),
    ("visual.", "visual."),
    ("model.", "language_model."),
    ("language_model.model.", "language_model."),
    ("language_model.lm_head.", "lm_head."),
)

# Module name -> reshape from the checkpoint's shape to ours.
TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    # Conv3d (out, C, t, p, p) with kernel == stride is a Linear over the flattened patch.
    "visual.patch_embed.proj.weight": lambda w: w.reshape(w.shape[0], -1),
}


def module_name(checkpoint_name: str) -> str | None:
    """Module parameter name for a checkpoint tensor name; None if deliberately dropped."""
    for src, dst in CHECKPOINT_RULES:
        if checkpoint_name.startswith(src):
            return None if dst is None else dst + checkpoint_name[len(src):]
    return checkpoint_name


# What a hub checkpoint needs: configs, weights, tokenizer vocabularies (BPE, SentencePiece,
# tiktoken), the chat template, and the modelling code of a remote-code checkpoint (run only with
# --trust-remote-code). PyTorch pickles only when a repo has no safetensors: never both, twice the bytes.
WEIGHT_FILES = ("*.json", "*.safetensors", "*.txt", "*.jinja", "*.model", "*.tiktoken", "*.py")
BIN_WEIGHTS = ("pytorch_model*.bin",)


def resolve(path_or_id: str | Path, *, allow_patterns: tuple[str, ...] = WEIGHT_FILES,
            revision: str | None = None) -> Path:
    """A local folder as is; otherwise a hub id fetched (or found in the HF_HOME cache) by huggingface_hub."""
    path = Path(path_or_id).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise LoaderError(f"{path_or_id} is a file, not a checkpoint folder (pass the folder holding config.json)")
    if str(path_or_id).startswith((".", "/", "~")):
        raise LoaderError(f"{path_or_id} is not a checkpoint folder: no such folder")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from raxdoc.model.weights import has_weights

    try:  # snapshot_download reads HF_HOME and HF_HUB_OFFLINE itself
        folder = Path(snapshot_download(str(path_or_id), revision=revision, allow_patterns=list(allow_patterns)))
        if allow_patterns == WEIGHT_FILES and not has_weights(folder):
            folder = Path(snapshot_download(str(path_or_id), revision=revision, allow_patterns=list(BIN_WEIGHTS)))
        return folder
    except LocalEntryNotFoundError as e:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        hint = "HF_HUB_OFFLINE is set and it is not in the cache" if offline else "not cached and not reachable"
        home = os.environ.get("HF_HOME", "~/.cache/huggingface")
        raise LoaderError(f"cannot load {path_or_id!r}: {hint} (HF_HOME={home})") from e
    except (HfHubHTTPError, OSError, ValueError) as e:  # unknown repo / auth; network; malformed id
        raise LoaderError(f"cannot fetch {path_or_id!r} from the hub: {type(e).__name__}: {e}") from e


def check_checkpoint(folder: Path, *, trust_remote_code: bool = False) -> None:
    """Up-front check that `folder` holds a checkpoint a reader can run, reading JSON and weight
    headers only (no tensor data): a config.json whose model_type (or architectures) names a reader,
    and readable weights. A `qwen3_5` checkpoint must read as a Rax config, carry tokenizer.json and
    preprocessor_config.json, and its tensor names and shapes must fit the model (`plan_weights`);
    any other goes to the transformers backend's checks (`hf_checks`). The driver runs it before Ray
    starts, so a wrong folder is one message, not a traceback from every engine actor."""
    from raxdoc.model.families import family_for, read_config
    from raxdoc.model.weights import tensor_shapes, weight_files

    config = folder / "config.json"
    if not config.is_file():
        raise LoaderError(f"{folder} is not a checkpoint folder: no config.json")
    try:
        raw = read_config(folder)
    except ValueError as e:
        reason = str(e).removeprefix(f"{config}: ")
        raise LoaderError(f"{config} must hold a JSON object" if reason == "not a JSON object" else
                          f"{config} is not valid JSON: {reason}") from e
    family = family_for(raw)
    if "model_type" not in raw and family.runs != "rax":
        raise LoaderError(f"{config} is not a checkpoint config: it has no model_type")
    if family.runs == "rax":
        rax = rax_config(folder, raw)
        for name in ("tokenizer.json", "preprocessor_config.json"):
            if not (folder / name).is_file():
                raise LoaderError(f"{folder} has no {name}, which raxdoc's engine reads for a qwen3_5 checkpoint")
        from raxdoc.model.rax import RaxForConditionalGeneration

        files = weight_files(folder)
        plan_weights(folder, rax, raw, _meta_model(RaxForConditionalGeneration, rax), files, tensor_shapes(files))
    else:
        from raxdoc.model.hf_checks import check_transformers_checkpoint

        check_transformers_checkpoint(folder, raw, trust_remote_code=trust_remote_code)
        tensor_shapes(weight_files(folder))


def rax_config(folder: Path, raw: dict, *, wrap: bool = True) -> RaxConfig:
    """The Rax config of a qwen3_5 checkpoint; a `LoaderError` naming the field when it is not one
    (`wrap=False`: the `ConfigError` itself, as `from_pretrained` has always raised)."""
    quant = raw.get("quantization_config")
    if quant:  # a hand-edited config may hold a string or a list here: quantized all the same
        method = quant.get("quant_method", "?") if isinstance(quant, dict) else quant
        raise LoaderError(f"{folder} is quantized ({method}): raxdoc's engine runs unquantized qwen3_5 weights "
                          f"(bf16, fp16 or fp32) only; use the unquantized checkpoint")
    if not wrap:
        return RaxConfig.from_dict(raw)
    try:
        return RaxConfig.from_dict(raw)
    except (ValueError, TypeError, KeyError, AttributeError) as e:  # from_dict may trip on odd types
        raise LoaderError(f"{folder / 'config.json'} is not a Rax checkpoint config: {e}") from e


def _meta_model(cls, config: RaxConfig) -> nn.Module:
    with torch.device("meta"):  # no memory and no random init; every tensor comes from the checkpoint
        return cls(config)


def plan_weights(folder: Path, config: RaxConfig, raw: dict, model: nn.Module, files: dict[str, Path],
                 shapes: dict[str, tuple[int, ...]]) -> tuple[dict[str, str], bool]:
    """(checkpoint name -> module name for every tensor to load, whether lm_head is tied), or a
    `LoaderError` naming missing, unexpected and misshapen tensors.

    Tied: config.json's top-level tie_word_embeddings (what transformers reads). A file without
    lm_head.weight whose text_config alone says tied is tied too: the head it means is the
    embedding, where transformers would leave a random one."""
    expected = {n: tuple(p.shape) for n, p in model.named_parameters()}  # tied lm_head appears once
    tied = config.tie_word_embeddings
    mapped = {ck: module_name(ck) for ck in files}
    if not tied and "lm_head.weight" not in mapped.values() and \
            isinstance(raw.get("text_config"), dict) and raw["text_config"].get("tie_word_embeddings") is True:
        tied = True
    plan: dict[str, str] = {}
    unexpected = []
    for ck, name in mapped.items():
        if name is None or (tied and name == "lm_head.weight"):
            continue  # dropped on purpose; a tied head is embed_tokens
        (plan.__setitem__(ck, name) if name in expected else unexpected.append(ck))
    missing = sorted(set(expected) - set(plan.values()) - ({"lm_head.weight"} if tied else set()))
    if missing or unexpected:
        hint = ("; lm_head.weight is not in the checkpoint and config.json says tie_word_embeddings: false"
                if "lm_head.weight" in missing else "")
        raise LoaderError(f"checkpoint {folder} does not fit the model: missing {missing[:20]}"
                          f"{' ...' if len(missing) > 20 else ''}; unexpected {sorted(unexpected)[:20]}"
                          f"{' ...' if len(unexpected) > 20 else ''}{hint}")
    for ck, name in plan.items():
        shape = tuple(TRANSFORMS.get(name, lambda x: x)(torch.empty(shapes[ck], device="meta")).shape)
        if shape != expected[name]:
            raise LoaderError(f"tensor {ck} in {files[ck].name} has shape {tuple(shapes[ck])}, "
                              f"the model expects {expected[name]}")
    return plan, tied


def _set_param(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    owner, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(owner), leaf, nn.Parameter(tensor, requires_grad=False))


def load_model(cls, path_or_id: str | Path, dtype: torch.dtype | str = torch.float32,
               device: str | torch.device = "cpu") -> nn.Module:
    from raxdoc.model.families import read_config
    from raxdoc.model.weights import open_weights, tensor_shapes, weight_files

    if isinstance(dtype, str):  # "bfloat16", "float32", ...
        dtype = getattr(torch, dtype.removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise LoaderError(f"dtype must be a floating torch dtype, got {dtype!r}")
    folder = resolve(path_or_id)
    try:
        raw = read_config(folder)
    except ValueError as e:
        raise LoaderError(f"cannot read the checkpoint's config: {e}") from e
    config = rax_config(folder, raw, wrap=False)
    model = _meta_model(cls, config)
    files = weight_files(folder)
    plan, tied = plan_weights(folder, config, raw, model, files, tensor_shapes(files))

    device = torch.device(device)
    by_file: dict[Path, list[str]] = {}
    for ck in plan:
        by_file.setdefault(files[ck], []).append(ck)
    for file, names in by_file.items():
        # safetensors reads onto the target device; the cast happens per tensor there.
        with open_weights(file, device=str(device)) as f:
            for ck in names:
                name = plan[ck]
                t = f.get_tensor(ck)
                _set_param(model, name, TRANSFORMS.get(name, lambda x: x)(t).to(dtype))
    if tied:
        model.lm_head.weight = model.language_model.embed_tokens.weight
    left = [n for n, p in model.named_parameters() if p.is_meta]
    if left:
        raise LoaderError(f"parameters left unloaded: {left}")
    return model.eval()
