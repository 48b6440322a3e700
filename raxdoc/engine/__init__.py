"""Generation engine: requests, scheduler, cache pool, runner contract, sampler, grammar.

Imports torch and llguidance, never Ray or PyMuPDF.
"""

from raxdoc.engine.cache_pool import CachePool
from raxdoc.engine.engine import Engine, EngineConfig
from raxdoc.engine.grammar import Grammar, GrammarCompileError, GrammarMatcher, MaskFiller
from raxdoc.engine.model_runner import ModelRunner
from raxdoc.engine.reference_runner import ReferenceRunner
from raxdoc.engine.sampler import Sampler, SamplingBatch
from raxdoc.engine.sampling_params import Result, SamplingParams, SamplingParamsError
from raxdoc.engine.scheduler import Scheduler, SchedulerConfig
from raxdoc.engine.sequence import Sequence, SequenceStatus
from raxdoc.engine.slot_runner import SlotRunner
from raxdoc.engine.slots import CacheDims, CachePlan, CacheTooSmallError, SlotManager, plan_cache
from raxdoc.engine.stop import StopPolicy

__all__ = [
    "CacheDims", "CachePlan", "CachePool", "CacheTooSmallError", "plan_cache",
    "Engine", "EngineConfig",
    "Grammar", "GrammarCompileError", "GrammarMatcher", "MaskFiller",
    "ModelRunner", "ReferenceRunner", "Sampler", "SamplingBatch",
    "Result", "SamplingParams", "SamplingParamsError",
    "Scheduler", "SchedulerConfig", "Sequence", "SequenceStatus", "SlotManager", "SlotRunner",
    "StopPolicy",
]
