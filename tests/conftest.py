"""Session fixtures shared by every test package: random checkpoints built once, no downloads."""

from __future__ import annotations

import os
import sys

import pytest
import torch

# Our Triton kernels run on CPU under Triton's interpreter, which Triton reads once, when it is
# first imported: set it before any test module can import it. No effect where Triton is absent.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# The CPU suite as CI runs it (no fla) on a machine that has fla, the GPU one: with fla importable,
# transformers binds Qwen3.5 to fla's CUDA-only kernels and the CPU parity tests cannot run.
if os.environ.get("RAXDOC_TEST_HIDE_FLA") == "1":
    sys.modules["fla"] = None


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A random `tiny` Rax checkpoint folder (float32, untied), written once per session."""
    from raxdoc.testing.presets import write_random_checkpoint

    return write_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", "tiny")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_checkpoint):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
