"""Generated invoices read by the stand-in reader, for the grounding, correction and line-repair tests.

`pdf_words` is a generated PDF's text layer per page, as the pipeline hands it to postprocess;
`noisy_read` reads every page of a document with one kind of injected error and parses the result.
"""

from __future__ import annotations

import random

from raxdoc.ingest import read_document
from raxdoc.pipeline.rows import page_words
from raxdoc.postprocess import parse_document
from raxdoc.testing.standin import read_page


def pdf_words(pdf: bytes) -> dict:
    """{page index: the page's words} of a PDF, normalised as the pipeline passes them on."""
    with read_document(pdf) as doc:
        return {p: page_words(doc.page(p).words, doc.page(p).width, doc.page(p).height)
                for p in range(doc.render_count)}


def noisy_read(truth, words: dict, seed: int, noise: float, kind: str):
    """(the parsed document, the injected errors) for pages read with `kind` errors at rate `noise`."""
    texts, log = [], []
    for p in range(len(words)):
        text, injected = read_page(truth, p, rng=random.Random(seed), noise=noise, kinds=(kind,))
        texts.append(text)
        log += injected
    return parse_document(texts, constrained=True, page_words=words), log
