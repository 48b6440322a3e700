"""Engine + ReferenceRunner on real (tiny) torch models: batched engine output == one-at-a-time greedy."""

import pytest
import torch
from tests.engine.conftest import MOCK_VOCAB

from raxdoc.engine import Engine, EngineConfig, ModelRunner, ReferenceRunner, SamplingParams


class TinyLM(torch.nn.Module):
    """Embedding + GRU + head: output depends on the whole history, not just the last token."""

    def __init__(self, vocab: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(vocab, 16)
        self.rnn = torch.nn.GRU(16, 24, batch_first=True)
        self.head = torch.nn.Linear(24, vocab)
        self.seen_pixels = []

    def forward(self, input_ids, pixel_values=None, image_grid_thw=None):
        if pixel_values is not None:
            self.seen_pixels.append(pixel_values)
        h, _ = self.rnn(self.emb(input_ids))  # (1, T, 24)
        return self.head(h) * 4.0  # (1, T, V)


def greedy(model, ids, n):
    ids = list(ids)
    out = []
    with torch.no_grad():
        for _ in range(n):
            t = int(model(torch.tensor([ids]))[0, -1].argmax())
            out.append(t)
            ids.append(t)
    return out


def test_engine_matches_one_at_a_time_greedy(tokenizer):
    model = TinyLM(MOCK_VOCAB).eval()
    runner = ReferenceRunner(model, MOCK_VOCAB, num_slots=2)
    assert isinstance(runner, ModelRunner)
    engine = Engine(runner, tokenizer, EngineConfig(max_num_seqs=2, max_model_len=64, prefill_token_budget=32,
                                                    eos_token_ids=(MOCK_VOCAB - 1,)))
    prompts = [list(range(30, 30 + n)) for n in (3, 7, 1, 5)]
    pixels = torch.ones(2, 3)
    results = engine.generate(
        [{"input_ids": p, "pixel_values": pixels if i == 1 else None, "image_grid_thw": None}
         for i, p in enumerate(prompts)],
        SamplingParams(max_new_tokens=6, ignore_eos=True))
    for p, r in zip(prompts, results):
        assert list(r.token_ids) == greedy(model, p, 6)
    assert model.seen_pixels and all(px is pixels for px in model.seen_pixels)  # vision inputs reach the model


@pytest.mark.slow
def test_engine_matches_transformers_generate_on_tiny_qwen3_5(tokenizer):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.Qwen3_5TextConfig(
        vocab_size=MOCK_VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, linear_num_key_heads=2, linear_num_value_heads=2,
        linear_key_head_dim=8, linear_value_head_dim=8, linear_conv_kernel_dim=4, max_position_embeddings=128)
    torch.manual_seed(0)
    model = transformers.Qwen3_5ForCausalLM(cfg).eval()
    engine = Engine(ReferenceRunner(model, MOCK_VOCAB, num_slots=3), tokenizer,
                    EngineConfig(max_num_seqs=3, max_model_len=64, prefill_token_budget=64))
    prompts = [list(range(40, 40 + n)) for n in (5, 2, 9)]
    results = engine.generate([{"input_ids": p} for p in prompts], SamplingParams(max_new_tokens=6, ignore_eos=True))
    for p, r in zip(prompts, results):
        with torch.no_grad():
            ref = model.generate(torch.tensor([p]), max_new_tokens=6, do_sample=False, eos_token_id=None,
                                 pad_token_id=0)
        assert list(r.token_ids) == ref[0, len(p):].tolist()
