"""Helpers for the model tests: random checkpoints from ``raxdoc.testing.presets`` and transformers'
``Qwen3_5ForConditionalGeneration`` loaded from the same folder as the oracle.

transformers is imported with ``sys.modules["fla"] = None`` so it binds to its own torch fallbacks
(fla's Triton kernels cannot run on CPU).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from raxdoc.testing.presets import write_random_checkpoint


def transformers_model_class():
    sys.modules.setdefault("fla", None)  # must precede the transformers import
    from transformers import Qwen3_5ForConditionalGeneration

    return Qwen3_5ForConditionalGeneration


def checkpoint(path: Path, **kwargs) -> tuple[Path, torch.nn.Module]:
    """Write a tiny random checkpoint (``write_random_checkpoint`` kwargs) and load the oracle from it."""
    write_random_checkpoint(path, "tiny", **kwargs)
    hf = transformers_model_class().from_pretrained(path, dtype=torch.float32).eval()
    return path, hf


def token_ids(path: Path) -> dict[str, int]:
    cfg = json.loads((Path(path) / "config.json").read_text())
    return {k: cfg[k] for k in ("image_token_id", "vision_start_token_id", "vision_end_token_id")}


def hf_logits(hf, input_ids, pixel_values=None, grid=None):
    with torch.no_grad():
        kw = {}
        if pixel_values is not None:
            image = hf.config.image_token_id
            kw = dict(pixel_values=pixel_values, image_grid_thw=grid, mm_token_type_ids=(input_ids == image).int())
        return hf(input_ids=input_ids, **kw).logits


def image_prompt(path: Path, grids, text_lens, seed=0, text_vocab=200):
    """[text] (<start> pad * t*h*w/4 <end> [text])* as (1, T) ids, with random pixel_values and grid."""
    ids_of = token_ids(path)
    g = torch.Generator().manual_seed(seed)
    ids = [torch.randint(0, text_vocab, (text_lens[0],), generator=g)]
    for (t, h, w), n in zip(grids, text_lens[1:]):
        ids += [torch.tensor([ids_of["vision_start_token_id"]]),
                torch.full((t * h * w // 4,), ids_of["image_token_id"]),
                torch.tensor([ids_of["vision_end_token_id"]]), torch.randint(0, text_vocab, (n,), generator=g)]
    grid = torch.tensor(grids)
    pixels = torch.randn(int(grid.prod(-1).sum()), 3 * 2 * 16 * 16, generator=g)
    return torch.cat(ids)[None], pixels, grid


def assert_close(ours, ref, rtol=1e-4):
    """Relative to the reference's scale: max |diff| <= rtol * max |ref|."""
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    err = (ours.float() - ref.float()).abs().max().item()
    scale = ref.float().abs().max().item()
    assert err <= rtol * scale, f"max abs diff {err:.3e} > {rtol} * {scale:.3e}"
