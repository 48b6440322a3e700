"""Rax 4.5 model package: architecture, weights, processor."""

from raxdoc.model.processor import RaxProcessor

__all__ = ["RaxProcessor"]
