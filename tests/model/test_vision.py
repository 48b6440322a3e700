"""The vision tower alone equals transformers' Qwen3_5VisionModel, and images in one batch stay apart."""

import pytest
import torch

from raxdoc.model import RaxForConditionalGeneration
from tests.model.conftest import assert_close, checkpoint


@pytest.fixture(scope="module")
def towers(tmp_path_factory):
    path, hf = checkpoint(tmp_path_factory.mktemp("vision"), overrides={"vision_config": {"depth": 1}})
    return RaxForConditionalGeneration.from_pretrained(path).visual, hf.model.visual


@torch.no_grad()
@pytest.mark.parametrize("grids", [[(2, 4, 4), (1, 6, 2)], [(1, 18, 10)], [(1, 2, 2), (1, 2, 2), (1, 4, 2)]])
def test_matches_transformers(towers, grids):
    ours, hf = towers
    grid = torch.tensor(grids)
    pixels = torch.randn(int(grid.prod(-1).sum()), 3 * 2 * 16 * 16)
    assert_close(ours(pixels, grid), hf(pixels, grid_thw=grid).pooler_output)


@torch.no_grad()
def test_images_do_not_see_each_other(towers):
    ours, _ = towers
    grids = torch.tensor([(1, 4, 6), (1, 2, 2)])
    a, b = torch.randn(24, 1536), torch.randn(4, 1536)
    together = ours(torch.cat([a, b]), grids)
    assert_close(together[:6], ours(a, grids[:1]), rtol=1e-5)
    assert_close(together[6:], ours(b, grids[1:]), rtol=1e-5)


def test_pixel_shape_mismatch_is_an_error(towers):
    ours, _ = towers
    with pytest.raises(ValueError, match="do not match grids"):
        ours(torch.randn(10, 1536), torch.tensor([(1, 4, 4)]))
