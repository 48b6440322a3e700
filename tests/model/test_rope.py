"""rope_index equals transformers' get_rope_index; decode positions continue from the rope deltas."""

import pytest
import torch

from raxdoc.model import RaxConfig, rope_index
from raxdoc.testing.presets import preset_config
from tests.model.conftest import transformers_model_class

CFG = RaxConfig.from_dict(preset_config("tiny"))
IMG, START, END = CFG.image_token_id, CFG.vision_start_token_id, CFG.vision_end_token_id


def _row(parts):
    out = []
    for p in parts:
        out += [START] + [IMG] * (p[0] * p[1] * p[2] // 4) + [END] if isinstance(p, tuple) else list(range(p))
    return out


@pytest.fixture(scope="module")
def hf_rope_index():
    from transformers import Qwen3_5Config

    cls = transformers_model_class()
    hf_model = cls(Qwen3_5Config(**{k: v for k, v in preset_config("tiny").items() if "pixels" not in k})).model
    return lambda ids, grid: hf_model.get_rope_index(ids, (ids == IMG).int(), grid)


@pytest.mark.parametrize("rows", [
    [[4, (1, 4, 6), 3, (1, 8, 4), 1, (1, 2, 2), 5]],
    [[(1, 2, 8), 9], [3, (2, 4, 4), 2]],  # batch of two; an image with 2 temporal patches; image first
    [[9]],
])
def test_matches_transformers(rows, hf_rope_index):
    ids = torch.tensor([_row(r) for r in rows])
    grids = [p for r in rows for p in r if isinstance(p, tuple)]
    grid = torch.tensor(grids) if grids else None
    pos, deltas = rope_index(ids, grid, CFG)
    ref_pos, ref_deltas = hf_rope_index(ids, grid)
    assert torch.equal(pos, ref_pos) and torch.equal(deltas, ref_deltas.long())


def test_wrong_image_token_count_is_an_error():
    ids = torch.tensor([_row([2, (1, 4, 4), 2])])
    with pytest.raises(ValueError, match="needs 8 image tokens"):
        rope_index(ids, torch.tensor([[1, 4, 8]]), CFG)
    with pytest.raises(ValueError, match="more rows"):
        rope_index(ids, torch.tensor([[1, 4, 4], [1, 2, 2]]), CFG)
