"""Image preprocessing against transformers' Qwen2VLImageProcessorPil, on awkward images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from transformers.models.qwen2_vl import image_processing_pil_qwen2_vl as hf_qwen2vl

from raxdoc.model.image_processor import (
    ImageInputError,
    ImageProcessorConfig,
    patchify,
    preprocess_images,
    smart_resize,
    to_rgb,
)

# Both sides resize uint8 pixels with the same Pillow bicubic kernel and rescale/normalise with
# the same float64 -> float32 steps, so values agree bit for bit. A different resampler would
# show up as multiples of one uint8 step, 2/255 ~ 0.008 after normalising with std 0.5.
PIXEL_ATOL = 0.0

CFG = ImageProcessorConfig(min_pixels=64 * 64, max_pixels=512 * 512, image_mean=(0.48, 0.46, 0.41),
                           image_std=(0.27, 0.26, 0.28))


@pytest.fixture(scope="module")
def reference():
    return hf_qwen2vl.Qwen2VLImageProcessorPil(
        min_pixels=CFG.min_pixels, max_pixels=CFG.max_pixels, patch_size=CFG.patch_size,
        temporal_patch_size=CFG.temporal_patch_size, merge_size=CFG.merge_size,
        image_mean=list(CFG.image_mean), image_std=list(CFG.image_std),
    )


def _noise(h, w, channels=3, seed=0):
    shape = (h, w) if channels == 1 else (h, w, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _images():
    """(name, image) pairs covering every resize branch and every colour mode we convert."""
    palette = Image.fromarray(_noise(45, 70, 1, 7)).convert("P")
    palette.info["transparency"] = 3
    return [
        ("tiny_upscaled", Image.fromarray(_noise(10, 10))),
        ("huge_downscaled", Image.fromarray(_noise(1700, 2400, seed=1))),
        ("wide_40x3000", Image.fromarray(_noise(40, 3000, seed=2))),
        ("tall_3000x40", Image.fromarray(_noise(3000, 40, seed=3))),
        ("odd_1001x777", Image.fromarray(_noise(1001, 777, seed=4))),
        ("odd_33x65", Image.fromarray(_noise(33, 65, seed=5))),
        ("exact_64x96", Image.fromarray(_noise(64, 96, seed=6))),
        ("grayscale", Image.fromarray(_noise(50, 70, 1, 8), "L")),
        ("rgba", Image.fromarray(_noise(50, 70, 4, 9), "RGBA")),
        ("gray_alpha", Image.fromarray(_noise(50, 70, 4, 10), "RGBA").convert("LA")),
        ("palette_transparent", palette),
        ("cmyk", Image.fromarray(_noise(40, 40, seed=11)).convert("CMYK")),
    ]


@pytest.mark.parametrize("name,image", _images(), ids=[n for n, _ in _images()])
def test_matches_transformers_one_image(reference, name, image):
    ref = reference([image], return_tensors="pt")
    pixel_values, grid = preprocess_images([image], CFG)
    assert grid.dtype == torch.int64
    assert grid.tolist() == ref["image_grid_thw"].tolist()
    assert pixel_values.dtype == torch.float32 and pixel_values.shape == ref["pixel_values"].shape
    torch.testing.assert_close(pixel_values, ref["pixel_values"], atol=PIXEL_ATOL, rtol=0)


def test_matches_transformers_batch_of_mixed_images(reference):
    images = [image for _, image in _images()[:7]]
    ref = reference(images, return_tensors="pt")
    pixel_values, grid = preprocess_images(images, CFG)
    assert grid.tolist() == ref["image_grid_thw"].tolist()
    torch.testing.assert_close(pixel_values, ref["pixel_values"], atol=PIXEL_ATOL, rtol=0)


@pytest.mark.parametrize("channels", [3, 4])
def test_numpy_arrays_match_transformers(reference, channels):
    array = _noise(37, 91, channels, seed=12)
    ref = reference([array], return_tensors="pt", input_data_format="channels_last")
    pixel_values, grid = preprocess_images([array], CFG)
    assert grid.tolist() == ref["image_grid_thw"].tolist()
    torch.testing.assert_close(pixel_values, ref["pixel_values"], atol=PIXEL_ATOL, rtol=0)


def test_numpy_gray_equals_pil_gray():
    gray = _noise(30, 50, 1, seed=13)
    a, _ = preprocess_images([gray], CFG)
    b, _ = preprocess_images([gray[..., None]], CFG)
    c, _ = preprocess_images([Image.fromarray(gray, "L")], CFG)
    assert torch.equal(a, b) and torch.equal(a, c)


def test_smart_resize_matches_transformers_and_bounds():
    for h in (1, 7, 31, 32, 33, 100, 511, 1000, 4000):
        for w in (1, 5, 32, 64, 333, 2048, 7000):
            if max(h, w) / min(h, w) > 200:
                with pytest.raises(ImageInputError):
                    smart_resize(h, w, 32, CFG.min_pixels, CFG.max_pixels)
                continue
            ours = smart_resize(h, w, 32, CFG.min_pixels, CFG.max_pixels)
            assert ours == hf_qwen2vl.smart_resize(h, w, 32, CFG.min_pixels, CFG.max_pixels)
            assert ours[0] % 32 == 0 and ours[1] % 32 == 0
            assert ours[0] * ours[1] <= CFG.max_pixels
            # smart_resize rounds up to min_pixels unless the max bound forbids it
            assert ours[0] * ours[1] >= CFG.min_pixels or math.isclose(h * w, 0)


def test_patch_layout_is_merge_window_major():
    """Patch k of window (R, C) at (r, c) inside it is the image block at patch row 2R+r, col 2C+c."""
    cfg = ImageProcessorConfig(patch_size=2, merge_size=2, temporal_patch_size=2, min_pixels=16, max_pixels=4096)
    image = torch.arange(3 * 8 * 12, dtype=torch.float32).reshape(3, 8, 12)
    patches = patchify(image, cfg)  # grid 4 x 6 patches, windows 2 x 3
    assert patches.shape == (24, 3 * 2 * 2 * 2)
    k = 0
    for R in range(2):
        for C in range(3):
            for r in range(2):
                for c in range(2):
                    row, col = 2 * R + r, 2 * C + c
                    block = image[:, 2 * row : 2 * row + 2, 2 * col : 2 * col + 2]  # (3, p, p)
                    expected = block[:, None].expand(3, 2, 2, 2).reshape(-1)  # frame repeated
                    assert torch.equal(patches[k], expected), (R, C, r, c)
                    k += 1


def test_config_from_dict_prefers_top_level_pixels():
    cfg = ImageProcessorConfig.from_dict({
        "size": {"shortest_edge": 1000, "longest_edge": 2000000}, "max_pixels": 500000,
        "patch_size": 14, "image_mean": [0.1, 0.2, 0.3],
    })
    assert (cfg.min_pixels, cfg.max_pixels, cfg.patch_size, cfg.image_mean) == (1000, 500000, 14, (0.1, 0.2, 0.3))
    with pytest.raises(ValueError):
        ImageProcessorConfig(min_pixels=10, max_pixels=5)


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 2), np.uint8),
                                 np.zeros((0, 10, 3), np.uint8), "page.png", np.zeros((2, 500, 3), np.uint8)])
def test_bad_images_raise_typed_errors(bad):
    with pytest.raises(ImageInputError):
        preprocess_images([bad], CFG)


def test_rgba_composites_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red-ish, bottom half fully transparent
    rgb = to_rgb(rgba)
    assert rgb[0, 0].tolist() == [200, 0, 0] and rgb[3, 3].tolist() == [255, 255, 255]


def test_empty_list():
    pixel_values, grid = preprocess_images([], CFG)
    assert pixel_values.shape == (0, CFG.patch_dim) and grid.shape == (0, 3)
