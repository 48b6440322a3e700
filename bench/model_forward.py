"""One full forward of Rax over a page of visual tokens: milliseconds, peak memory, tokens/s.

    PYTHONPATH=. python bench/model_forward.py                 # rax-4.5, ~1,240 visual tokens, CUDA bf16
    PYTHONPATH=. python bench/model_forward.py --preset tiny   # CPU smoke run

Random weights (built in place from the preset config, no checkpoint written). Prints a summary
and writes bench/results/model_forward-<preset>-<stamp>.json with device, commit, date, command.
Not here: decode throughput (the engine's benchmark) or parity (tests/model).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.provenance import git_commit, write_result  # noqa: E402  (after the path: run as a script)
from raxdoc.model import RaxConfig, RaxForConditionalGeneration
from raxdoc.model.ops import use_fla
from raxdoc.testing.presets import preset_config


def build(preset: str, device: torch.device, dtype: torch.dtype) -> RaxForConditionalGeneration:
    config = RaxConfig.from_dict(preset_config(preset))
    with torch.device(device):
        model = RaxForConditionalGeneration(config)
    with torch.no_grad():  # Linear/Embedding keep their init; fill what torch.empty left raw
        for name, p in model.named_parameters():
            if name.endswith("conv1d.weight"):
                p.normal_(0, 0.1)
    return model.to(dtype).eval()


def page_inputs(config: RaxConfig, grid_hw: tuple[int, int], text_tokens: int, device: torch.device):
    """A prompt of text + one page image: grid (1, h, w) patches -> h*w/merge**2 image tokens."""
    h, w = grid_hw
    merge = config.vision.spatial_merge_size
    n_image = h * w // merge ** 2
    text = torch.randint(0, min(1000, config.text.vocab_size), (text_tokens,))
    ids = torch.cat([text[: text_tokens // 2], torch.tensor([config.vision_start_token_id]),
                     torch.full((n_image,), config.image_token_id), torch.tensor([config.vision_end_token_id]),
                     text[text_tokens // 2:]])[None].to(device)
    grid = torch.tensor([[1, h, w]], device=device)
    pixels = torch.randn(h * w, config.vision.patch_dim, device=device)
    return ids, pixels, grid, n_image


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="rax-4.5")
    ap.add_argument("--grid", default="80x62", help="patch grid HxW (80x62 -> 1,240 visual tokens)")
    ap.add_argument("--text-tokens", type=int, default=200)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default=None, help="default bfloat16 on CUDA, float32 on CPU")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    torch.manual_seed(0)
    model = build(args.preset, device, dtype)
    h, w = (int(v) for v in args.grid.lower().split("x"))
    ids, pixels, grid, n_image = page_inputs(model.config, (h, w), args.text_tokens, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    times, vision_times = [], []
    with torch.inference_mode():
        for i in range(args.warmup + args.iters):
            if device.type == "cuda" and i == args.warmup:
                torch.cuda.reset_peak_memory_stats()
            sync()
            t0 = time.perf_counter()
            logits = model(ids, pixel_values=pixels, image_grid_thw=grid)
            sync()
            t1 = time.perf_counter()
            model.visual(pixels, grid)  # the tower alone, to split the total
            sync()
            if i >= args.warmup:
                times.append(t1 - t0)
                vision_times.append(time.perf_counter() - t1)
    assert torch.isfinite(logits.float()).all(), "non-finite logits"
    ms = sorted(times)[len(times) // 2] * 1e3
    vision_ms = sorted(vision_times)[len(vision_times) // 2] * 1e3
    result = {
        "bench": "model_forward", "preset": args.preset, "device": torch.cuda.get_device_name(device)
        if device.type == "cuda" else "cpu", "dtype": str(dtype).removeprefix("torch."),
        "commit": git_commit(), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([sys.executable.rsplit("/", 1)[-1], *sys.argv]) if argv is None
        else "model_forward " + " ".join(argv),
        # What ran, not what was asked: RAXDOC_OPS=auto falls back to the torch ops without fla.
        "ops": "fla" if use_fla(torch.empty(0, device=device)) else "torch",
        "ops_mode": __import__("os").environ.get("RAXDOC_OPS", "auto"),
        "tokens": int(ids.shape[1]), "visual_tokens": n_image, "patches": h * w,
        "median_ms": round(ms, 2), "all_ms": [round(t * 1e3, 2) for t in times],
        "vision_median_ms": round(vision_ms, 2),
        "tokens_per_s": round(ids.shape[1] / (ms / 1e3), 1),
        # CUDA: peak allocated by torch; CPU: peak resident set of the process (includes Python itself)
        "peak_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 3) if device.type == "cuda"
        else round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "params": sum(p.numel() for p in model.parameters()),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    write_result(out / f"model_forward-{args.preset}-{stamp}.json", result)
    print(f"{args.preset} on {result['device']} ({result['dtype']}, ops {result['ops']}): {result['tokens']} tokens "
          f"({n_image} visual) in {ms:.1f} ms (vision tower {vision_ms:.1f} ms) = {result['tokens_per_s']} tok/s, "
          f"peak {result['peak_mem_gib']} GiB")
    return result


if __name__ == "__main__":
    main()
