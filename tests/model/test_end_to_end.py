"""RaxProcessor output fed to our model gives transformers' logits: prompt, images and model agree."""

import numpy as np

from raxdoc.model import RaxForConditionalGeneration, RaxProcessor
from tests.model.conftest import assert_close, checkpoint, hf_logits


def test_processor_inputs_through_both_models(tmp_path):
    path, hf = checkpoint(tmp_path)
    proc = RaxProcessor.from_pretrained(path)
    rng = np.random.default_rng(0)
    pages = [rng.integers(0, 256, (100, 70, 3), dtype=np.uint8), rng.integers(0, 256, (64, 200, 3), dtype=np.uint8)]
    inputs = proc("List the line items.", pages)
    ids = inputs.input_ids[None]
    ours = RaxForConditionalGeneration.from_pretrained(path)
    logits = ours(ids, pixel_values=inputs.pixel_values, image_grid_thw=inputs.image_grid_thw)
    assert_close(logits, hf_logits(hf, ids, inputs.pixel_values, inputs.image_grid_thw))
