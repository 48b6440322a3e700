"""When a sequence stops, and what text it leaves behind.

`StopPolicy.apply(seq)` runs after each new token: it advances the sequence's
grammar matcher, then checks, in order, a rejected token (error), EOS /
`<|im_end|>` (ids given by the caller, read from the tokenizer or config), a
terminated grammar, stop strings on the decoded tail, `max_new_tokens` and
`max_model_len`. On finish it sets `seq.text`: decoded without special tokens
and cut before the stop string, otherwise what the model wrote. Thinking is
kept: the one rule that strips `<think>` blocks is
`raxdoc.postprocess.strip_thinking`, applied to every reader's text when it
becomes a record (and the raw text, thinking included, is what a failed page
keeps). Torch-free; slot release is the scheduler's job.
"""

from __future__ import annotations

from typing import Callable, Iterable

from raxdoc.engine.sequence import Sequence

Decode = Callable[[list[int]], str]

# Tokens a stop string can need beyond its length in UTF-8 bytes (every text token
# holds at least one byte): a skipped special token decodes to nothing.
_TAIL_SLACK = 4


def eos_ids_from_tokenizer(tokenizer, names: Iterable[str] = ("<|im_end|>", "<|endoftext|>")) -> tuple[int, ...]:
    """Ids of the end tokens the tokenizer knows, by name (never hard-coded ids)."""
    ids = []
    for name in names:
        tid = tokenizer.token_to_id(name)
        if tid is not None:
            ids.append(int(tid))
    return tuple(ids)


class StopPolicy:
    def __init__(self, decode: Decode, eos_ids: Iterable[int], max_model_len: int) -> None:
        # decode(ids) -> text without special tokens.
        self.decode = decode
        self.eos_ids = frozenset(int(i) for i in eos_ids)
        self.max_model_len = max_model_len

    def apply(self, seq: Sequence) -> bool:
        """Check the sequence's newest token; finish it (and set its text) when it should stop."""
        token = seq.output_ids[-1]
        params = seq.params
        if seq.matcher is not None and not seq.matcher.accept(token):
            seq.finish("error", error_type="GrammarError",
                       error=f"token {token} rejected by the grammar: {seq.matcher.error()}")
            return self._finalize(seq, stop=None)
        if token in self.eos_ids and (not params.ignore_eos or seq.matcher is not None):
            seq.finish("eos")
            return self._finalize(seq, stop=None)
        if seq.matcher is not None and seq.matcher.is_terminated():
            seq.finish("stop")
            return self._finalize(seq, stop=None)
        if params.stop:
            # In bytes, not characters: byte-level BPE spells a rare character with up to 4 tokens.
            longest = max(len(s.encode("utf-8")) for s in params.stop)
            tail = self.decode(seq.output_ids[-(longest + _TAIL_SLACK):])
            for s in params.stop:
                if s in tail:
                    seq.finish("stop")
                    return self._finalize(seq, stop=s)
        if seq.num_completion_tokens >= params.max_new_tokens or seq.num_tokens >= self.max_model_len:
            seq.finish("length")
            return self._finalize(seq, stop=None)
        return False

    def _finalize(self, seq: Sequence, stop: str | None) -> bool:
        text = self.decode(seq.output_ids)
        if stop is not None:
            text = text[: text.find(stop)] if stop in text else text
        seq.text = text
        return True
