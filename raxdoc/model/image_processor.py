"""Page images -> vision patches, exactly as Qwen2-VL's image processor makes them.

For each image: convert to RGB (transparency composited onto white), `smart_resize`
(both sides multiples of patch_size * merge_size, pixel count clamped to
[min_pixels, max_pixels], aspect ratio kept), bicubic resize with Pillow on uint8 as
transformers' PIL backend does, rescale by 1/255, normalise with the checkpoint's
mean/std, then cut into flat patches of C * temporal_patch_size * patch_size^2 values
(the still image repeated temporal_patch_size times), ordered merge window by merge
window so the 2x2 merger sees its four patches next to each other.

Outputs: pixel_values float32 (sum of patches, 3*2*16*16) and image_grid_thw int64
(n_images, 3) = (1, h / patch, w / patch).

Not here: videos, tokenisation (processor.py), reading files or PDFs (ingest).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_ASPECT_RATIO = 200


class ImageInputError(ValueError):
    """An image the processor cannot take (type, shape, dtype, size or aspect ratio)."""


@dataclass(frozen=True)
class ImageProcessorConfig:
    """What `preprocessor_config.json` says about images."""

    min_pixels: int = 256 * 256  # smallest resized area; smaller images are upscaled
    max_pixels: int = 4096 * 4096  # largest resized area; larger images are downscaled
    patch_size: int = 16  # ViT patch side in pixels
    temporal_patch_size: int = 2  # frames per patch; a still image is repeated this often
    merge_size: int = 2  # patches merged per side into one text token
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # per RGB channel, after rescale
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    rescale_factor: float = 1 / 255  # uint8 -> [0, 1]

    def __post_init__(self) -> None:
        if min(self.patch_size, self.temporal_patch_size, self.merge_size) < 1:
            raise ValueError(f"patch sizes must be positive: {self}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels; got {self.min_pixels}, {self.max_pixels}")
        if len(self.image_mean) != 3 or len(self.image_std) != 3 or min(self.image_std) <= 0:
            raise ValueError(f"image_mean/std need 3 values, std positive; got {self.image_mean}, {self.image_std}")

    @property
    def factor(self) -> int:
        """Side multiple of a resized image: one merged token covers factor x factor pixels."""
        return self.patch_size * self.merge_size

    @property
    def patch_dim(self) -> int:
        return 3 * self.temporal_patch_size * self.patch_size**2

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> "ImageProcessorConfig":
        """From preprocessor_config.json; top-level min/max_pixels win over size{} as in transformers."""
        size = cfg.get("size") or {}
        kw: dict[str, Any] = {}
        for field, size_key in (("min_pixels", "shortest_edge"), ("max_pixels", "longest_edge")):
            value = cfg.get(field, size.get(size_key, size.get(field)))
            if value is not None:
                kw[field] = int(value)
        for field in ("patch_size", "temporal_patch_size", "merge_size"):
            if cfg.get(field) is not None:
                kw[field] = int(cfg[field])
        for field in ("image_mean", "image_std"):
            if cfg.get(field) is not None:
                kw[field] = tuple(float(x) for x in cfg[field])
        if cfg.get("rescale_factor") is not None:
            kw["rescale_factor"] = float(cfg["rescale_factor"])
        return cls(**kw)


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Target (height, width): multiples of `factor`, area within [min_pixels, max_pixels]."""
    if min(height, width) < 1:
        raise ImageInputError(f"empty image {height}x{width}")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ImageInputError(f"aspect ratio of {height}x{width} is over {MAX_ASPECT_RATIO}")
    h = round(height / factor) * factor
    w = round(width / factor) * factor
    if h * w > max_pixels:
        shrink = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / shrink / factor) * factor)
        w = max(factor, math.floor(width / shrink / factor) * factor)
    elif h * w < min_pixels:
        grow = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * grow / factor) * factor
        w = math.ceil(width * grow / factor) * factor
    return h, w


def to_rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 from a PIL image of any mode or an (H, W[, 1|3|4]) uint8 array."""
    if isinstance(image, Image.Image):
        if "A" in image.getbands() or image.info.get("transparency") is not None:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba)
        return np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise ImageInputError(f"expected a PIL image or a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageInputError(f"arrays must be uint8 (H, W, C); got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ImageInputError(f"arrays must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {image.shape}")
    if image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    if image.shape[-1] == 4:
        # Same blend and rounding as transformers' convert_to_rgb for arrays.
        alpha = image[..., 3:4] / 255
        return np.round(alpha * image[..., :3] + (1 - alpha) * 255).astype(np.uint8)
    return image


def patchify(image: torch.Tensor, config: ImageProcessorConfig) -> torch.Tensor:
    """(3, H, W) normalised image -> (H/p * W/p, 3 * tp * p * p) patches, merge window by window."""
    c, height, width = image.shape
    p, m, tp = config.patch_size, config.merge_size, config.temporal_patch_size
    gh, gw = height // p, width // p
    # (C, H, W) -> (C, gh/m, m, p, gw/m, m, p)
    x = image.reshape(c, gh // m, m, p, gw // m, m, p)
    # -> (gh/m, gw/m, m, m, C, p, p): windows row-major, then patches inside a window
    x = x.permute(1, 4, 2, 5, 0, 3, 6)
    # the still image stands in for every frame of a temporal patch: (..., C, tp, p, p)
    x = x.unsqueeze(5).expand(*x.shape[:5], tp, p, p)
    return x.reshape(gh * gw, c * tp * p * p)


def preprocess_images(
    images: Sequence[Image.Image | np.ndarray], config: ImageProcessorConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images -> (pixel_values float32 (patches, patch_dim), image_grid_thw int64 (n, 3))."""
    if isinstance(images, (Image.Image, np.ndarray)):
        images = [images]
    mean = np.asarray(config.image_mean, dtype=np.float32)
    std = np.asarray(config.image_std, dtype=np.float32)
    patches, grids = [], []
    for image in images:
        rgb = to_rgb(image)
        height, width = smart_resize(rgb.shape[0], rgb.shape[1], config.factor, config.min_pixels, config.max_pixels)
        if (height, width) != rgb.shape[:2]:
            rgb = np.asarray(Image.fromarray(rgb).resize((width, height), resample=Image.Resampling.BICUBIC))
        # float64 rescale then float32, as transformers does, so values match bit for bit
        pixels = (rgb.astype(np.float64) * config.rescale_factor).astype(np.float32)
        pixels = (pixels - mean) / std  # (H, W, 3)
        chw = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))  # (3, H, W)
        patches.append(patchify(chw, config))
        grids.append((1, height // config.patch_size, width // config.patch_size))
    if not patches:
        return torch.zeros(0, config.patch_dim), torch.zeros(0, 3, dtype=torch.int64)
    return torch.cat(patches), torch.tensor(grids, dtype=torch.int64)
