import pytest

from raxdoc.profiles import PROFILES, pick_profile, resolve_profile


@pytest.mark.parametrize(
    "name,memory_gib,tier",
    [
        (None, None, "cpu"),
        ("NVIDIA H100 80GB HBM3", 80, "h100"),
        ("NVIDIA H200", 141, "h100"),
        ("NVIDIA A100-SXM4-40GB", 40, "a100"),
        ("NVIDIA A10G", 24, "a10g"),
        ("NVIDIA L4", 24, "l4"),
        ("NVIDIA RTX 6000 Ada", 48, "a100"),
        ("Tesla T4", 16, "l4"),
    ],
)
def test_pick_profile_by_name_then_memory(name, memory_gib, tier):
    memory = None if memory_gib is None else memory_gib * 2**30
    assert pick_profile(name, memory).name == tier


def test_auto_on_cpu_machine_is_cpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("machine has a GPU")
    assert resolve_profile("auto").name == "cpu"


def test_overrides_replace_fields_and_are_validated():
    p = resolve_profile("l4", max_num_seqs=8, cuda_graphs=False, dtype=None)
    assert (p.max_num_seqs, p.cuda_graphs, p.dtype) == (8, False, "bfloat16")
    assert PROFILES["l4"].max_num_seqs == 64  # the table is never written back
    with pytest.raises(ValueError, match="unknown profile field"):
        resolve_profile("l4", max_num_sequences=8)
    with pytest.raises(ValueError, match="max_num_seqs"):
        resolve_profile("l4", max_num_seqs=0)
    with pytest.raises(ValueError, match="dtype"):
        resolve_profile("cpu", dtype="int8")
    with pytest.raises(ValueError, match="min_pixels"):
        resolve_profile("cpu", min_pixels=10**7)
    with pytest.raises(ValueError, match="unknown profile"):
        resolve_profile("tpu")


def test_every_profile_fits_a_page_and_its_output():
    for p in PROFILES.values():
        visual_tokens = p.max_pixels // (32 * 32)
        assert visual_tokens + 300 + p.max_new_tokens <= p.max_model_len, p.name
        assert p.vit_token_budget >= 4 * visual_tokens, p.name


def test_memory_share_and_dtype_flow_from_the_profile_into_the_engine_config():
    from raxdoc.engine import EngineConfig

    cfg = EngineConfig.from_profile(resolve_profile("l4", gpu_memory_utilization=0.5))
    assert (cfg.gpu_memory_utilization, cfg.dtype) == (0.5, "bfloat16")
    assert EngineConfig.from_profile(resolve_profile("cpu")).dtype == "float32"
    assert EngineConfig.from_profile(resolve_profile("h100")).gpu_memory_utilization == \
        PROFILES["h100"].gpu_memory_utilization
    with pytest.raises(ValueError, match="gpu_memory_utilization"):
        resolve_profile("l4", gpu_memory_utilization=1.5)
    with pytest.raises(ValueError, match="gpu_memory_utilization"):  # the engine checks its own copy
        EngineConfig(gpu_memory_utilization=0.0)
    with pytest.raises(ValueError, match="dtype"):
        EngineConfig(dtype="int8")
