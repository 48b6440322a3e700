"""Rax 4.5 (Qwen3.5 architecture): config, model, loader."""

from raxdoc.model.config import ConfigError, RaxConfig, RaxTextConfig, RaxVisionConfig
from raxdoc.model.loader import LoaderError
from raxdoc.model.rax import RaxForConditionalGeneration
from raxdoc.model.rope import rope_index

__all__ = ["ConfigError", "LoaderError", "RaxConfig", "RaxForConditionalGeneration", "RaxTextConfig",
           "RaxVisionConfig", "rope_index"]
