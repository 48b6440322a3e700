"""Weight loading: a Hugging Face checkpoint folder or hub id -> a materialised Rax model.

The module tree is built on the ``meta`` device (the model keeps no buffers: rotary tables are
computed per call), then each checkpoint tensor is read with ``safe_open`` straight onto the caller's device, cast
to the caller's dtype one tensor at a time, and installed as the parameter. Checkpoint names map to
module names through ``CHECKPOINT_RULES`` (data, first match wins) and ``TRANSFORMS``. Missing or
unexpected tensors raise ``LoaderError`` listing them. Not here: quantisation, tensor parallelism.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from torch import nn

from raxdoc.model.config import RaxConfig


class LoaderError(RuntimeError):
    """The checkpoint cannot be found or does not fit the model; the message says what and where."""


# (checkpoint prefix, module prefix): transformers' layout first, then the older Qwen-VL layout
# (``visual.*`` at the root, decoder under bare ``model.*``). ``None`` drops the tensor on purpose.
CHECKPOINT_RULES: tuple[tuple[str, str | None], ...] = (
    ("model.visual.", "visual."),
    ("model.language_model.", "language_model."),
    ("lm_head.", "lm_head."),
    ("mtp.", None),  # multi-token-prediction head shipped with Qwen3.5 checkpoints; unused for decoding
    ("visual.", "visual."),
    ("model.", "language_model."),
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


WEIGHT_FILES = ("*.json", "*.safetensors", "*.txt", "*.jinja", "*.model")


def resolve(path_or_id: str | Path, *, allow_patterns: tuple[str, ...] = WEIGHT_FILES,
            revision: str | None = None) -> Path:
    """A local folder as is; otherwise a hub id fetched (or found in the HF_HOME cache) by huggingface_hub."""
    path = Path(path_or_id).expanduser()
    if path.is_dir():
        return path
    if path.exists() or str(path_or_id).startswith((".", "/")):
        raise LoaderError(f"{path_or_id} is not a checkpoint folder")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:  # snapshot_download reads HF_HOME and HF_HUB_OFFLINE itself
        return Path(snapshot_download(str(path_or_id), revision=revision, allow_patterns=list(allow_patterns)))
    except LocalEntryNotFoundError as e:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        hint = "HF_HUB_OFFLINE is set and it is not in the cache" if offline else "not cached and not reachable"
        home = os.environ.get("HF_HOME", "~/.cache/huggingface")
        raise LoaderError(f"cannot load {path_or_id!r}: {hint} (HF_HOME={home})") from e
    except (HfHubHTTPError, OSError, ValueError) as e:  # unknown repo / auth; network; malformed id
        raise LoaderError(f"cannot fetch {path_or_id!r} from the hub: {type(e).__name__}: {e}") from e


def check_checkpoint(folder: Path, *, trust_remote_code: bool = False) -> None:
    """Cheap up-front check (no tensor read) that `folder` holds a checkpoint a reader can run: a
    config.json, and weights. A `qwen3_5` config must read as a Rax config (our engine runs it);
    any other model_type goes to the transformers backend, which needs `--trust-remote-code` for
    remote code and the package of a quantized format (`hf_checks`). The driver runs it before Ray
    starts, so a wrong folder is one message, not a traceback from every engine actor."""
    from raxdoc.model.families import read_config, reader_kind_of

    config = folder / "config.json"
    if not config.is_file():
        raise LoaderError(f"{folder} is not a checkpoint folder: no config.json")
    try:
        raw = read_config(folder)
    except ValueError as e:
        raise LoaderError(f"{config} is not valid JSON: {e}") from e
    if "model_type" not in raw:
        raise LoaderError(f"{config} is not a checkpoint config: it has no model_type")
    if reader_kind_of(raw) == "rax":
        try:
            RaxConfig.from_file(config)
        except (ValueError, TypeError, KeyError, OSError) as e:  # from_dict may trip on odd types
            raise LoaderError(f"{config} is not a Rax checkpoint config: {e}") from e
    else:
        from raxdoc.model.hf_checks import check_transformers_checkpoint

        check_transformers_checkpoint(folder, raw, trust_remote_code=trust_remote_code)
    if not (folder / "model.safetensors.index.json").is_file() and not any(folder.glob("*.safetensors")):
        raise LoaderError(f"{folder} holds no weights (no *.safetensors, no model.safetensors.index.json)")


def checkpoint_files(folder: Path) -> dict[str, Path]:
    """Checkpoint tensor name -> the safetensors file holding it."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {name: folder / file for name, file in weight_map.items()}
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise LoaderError(f"no *.safetensors in {folder}")
    out = {}
    for file in files:
        with safe_open(file, framework="pt") as f:
            out.update({name: file for name in f.keys()})
    return out


def _set_param(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    owner, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(owner), leaf, nn.Parameter(tensor, requires_grad=False))


def load_model(cls, path_or_id: str | Path, dtype: torch.dtype | str = torch.float32,
               device: str | torch.device = "cpu") -> nn.Module:
    if isinstance(dtype, str):  # "bfloat16", "float32", ...
        dtype = getattr(torch, dtype.removeprefix("torch."))
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise LoaderError(f"dtype must be a floating torch dtype, got {dtype!r}")
    folder = resolve(path_or_id)
    config = RaxConfig.from_file(folder / "config.json")
    with torch.device("meta"):  # no memory and no random init; every tensor comes from the checkpoint
        model = cls(config)
    expected = dict(model.named_parameters())  # tied lm_head appears once, as embed_tokens
    tied = config.tie_word_embeddings
    files = checkpoint_files(folder)

    plan: dict[str, str] = {}  # checkpoint name -> module name
    unexpected = []
    for ck in files:
        name = module_name(ck)
        if name is None or (tied and name == "lm_head.weight"):
            continue  # dropped on purpose; a tied head is embed_tokens
        (plan.__setitem__(ck, name) if name in expected else unexpected.append(ck))
    missing = sorted(set(expected) - set(plan.values()))
    if missing or unexpected:
        raise LoaderError(f"checkpoint {folder} does not fit the model: missing {missing[:20]}"
                          f"{' ...' if len(missing) > 20 else ''}; unexpected {sorted(unexpected)[:20]}"
                          f"{' ...' if len(unexpected) > 20 else ''}")

    device = torch.device(device)
    by_file: dict[Path, list[str]] = {}
    for ck in plan:
        by_file.setdefault(files[ck], []).append(ck)
    for file, names in by_file.items():
        # safe_open reads onto the target device; the cast happens per tensor there.
        with safe_open(file, framework="pt", device=str(device)) as f:
            for ck in names:
                name = plan[ck]
                t = f.get_tensor(ck)
                t = TRANSFORMS.get(name, lambda x: x)(t).to(dtype)
                if t.shape != expected[name].shape:
                    raise LoaderError(f"tensor {ck} in {file.name} has shape {tuple(t.shape)}, "
                                      f"the model expects {tuple(expected[name].shape)}")
                _set_param(model, name, t)
    if tied:
        model.lm_head.weight = model.language_model.embed_tokens.weight
    left = [n for n, p in model.named_parameters() if p.is_meta]
    if left:
        raise LoaderError(f"parameters left unloaded: {left}")
    return model.eval()
