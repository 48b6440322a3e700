"""The benchmark's workload: a cached random checkpoint and engine prompts for synthetic invoice pages.

`ensure_checkpoint` writes a preset's random checkpoint once under a folder and reuses it (rax-4.5 in
bf16 is ~4.5 GB). `build_prompts` draws pages (`pages.py`), preprocesses them at the profile's
pixel bounds, and prefixes the constrained `Invoice` instruction through the checkpoint's chat
prompt. Not here: running or timing anything (engine_timer.py, engine_run.py).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.pages import invoice_page


def ensure_checkpoint(preset: str, ckpt_dir: str | Path) -> Path:
    """`ckpt_dir/<preset>-random`, written once (rax-4.5 in bf16 is ~4.5 GB) and reused after."""
    from raxdoc.testing.presets import write_random_checkpoint

    path = Path(ckpt_dir) / f"{preset}-random"
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file() \
            and any(path.glob("*.safetensors")):
        if preset == "rax-4.5":  # written before it carried Qwen's real tokenizer: swap that in
            from raxdoc.testing.qwen_tokenizer import qwen_tokenizer_json

            real = qwen_tokenizer_json()
            if (path / "tokenizer.json").stat().st_size != real.stat().st_size:
                shutil.copyfile(real, path / "tokenizer.json")
        return path
    # Written beside (same filesystem) and renamed, so a killed write never looks like a checkpoint.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{preset}-", dir=path.parent))
    write_random_checkpoint(tmp, preset)
    tmp.rename(path)
    return path


def build_prompts(processor: Any, profile: Any, pages: int, *, long_side: int = 1288,
                  unique_pages: int = 16, seed: int = 0) -> tuple[list[dict], dict[str, Any]]:
    """`pages` engine prompts cycling over `unique_pages` drawn pages, and the workload's sizes.

    Pixels do not change the compute, so a few distinct pages repeated keep host memory
    bounded (one page is ~30 MB of float32 patches) without changing the figures.
    """
    from raxdoc.model.image_processor import preprocess_images
    from raxdoc.schemas.prompt import build_prompt
    from raxdoc.schemas import Invoice

    instruction = build_prompt(Invoice, constrained=True)
    image_config = dataclasses.replace(processor.image_config, min_pixels=profile.min_pixels,
                                       max_pixels=profile.max_pixels)
    distinct = []
    for i in range(min(pages, unique_pages)):
        image = invoice_page(seed + i, long_side=long_side)
        pixel_values, grid = preprocess_images([image], image_config)
        ids = processor.encode(instruction, grid)
        distinct.append({"input_ids": ids, "pixel_values": pixel_values, "image_grid_thw": grid})
    prompts = [distinct[i % len(distinct)] for i in range(pages)]
    grid = [int(v) for v in distinct[0]["image_grid_thw"][0]]
    workload = {
        "page_px": list(invoice_page(seed, long_side=long_side).size),
        "image_grid_thw": grid,
        "visual_tokens_per_page": processor.image_token_counts(distinct[0]["image_grid_thw"])[0],
        # rax-4.5 checkpoints carry Qwen3.5's real tokenizer (248,077 ids; ~170 instruction tokens).
        "tokenizer_vocab": processor.tokenizer.get_vocab_size(),
        "instruction_tokens": len(processor.tokenizer.encode(instruction, add_special_tokens=False).ids),
        "prompt_tokens_per_page": [len(p["input_ids"]) for p in distinct],
        "unique_pages": len(distinct),
    }
    return prompts, workload


