"""Rax 4.5 (Qwen3.5 architecture): config, model, loader, processor."""

from raxdoc.model.cache import RaxCache
from raxdoc.model.config import ConfigError, RaxConfig, RaxTextConfig, RaxVisionConfig
from raxdoc.model.loader import LoaderError
from raxdoc.model.processor import RaxProcessor
from raxdoc.model.rax import RaxForConditionalGeneration
from raxdoc.model.rope import rope_index

__all__ = ["ConfigError", "LoaderError", "RaxCache", "RaxConfig", "RaxForConditionalGeneration", "RaxProcessor",
           "RaxTextConfig", "RaxVisionConfig", "rope_index"]
