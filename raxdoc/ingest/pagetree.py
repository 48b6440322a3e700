"""A PDF page tree whose /Count entries lie, recounted from its /Kids: `recount_pages(doc)`.

MuPDF takes the root's /Count as the page count and each node's /Count to find a page, so a
wrong count (a writer bug, a hand-edited or merged file) loses pages silently (/Count 1 over
three kids: one page), invents pages that fail to load (/Count 5: two "page not in document"
errors), or refuses the file outright (/Count -1 or 100000: "Invalid number of pages"). Viewers
such as pdf.js count the kids instead; so do we, before anything asks for the page count, and
correct the counts in the open document (in memory only; the file's bytes and id are unchanged).

A node is a leaf (a page) unless it has a /Kids array and is not typed /Page, as MuPDF reads it.
Only a tree whose root states an integer /Count is recounted; one with no /Count, a cycle or a
shared node, or too large to walk, is left as it is, and MuPDF says what it makes of it.
Not here: rendering (`pdf.py`), any other repair (MuPDF's own).
"""

from __future__ import annotations

import re

import pymupdf

# Nodes walked at most: far beyond any invoice, and a bound on a hostile tree's cost (the walk
# takes ~40 us a node, next to tens of ms to render a page; 100,000 nodes are ~4 s).
MAX_NODES = 100_000
_REF = re.compile(r"(\d+)\s+\d+\s+R")
_INT = re.compile(r"[+-]?\d+")
_MUPDF_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, ValueError) + (
    (pymupdf.mupdf.FzErrorBase,) if hasattr(pymupdf.mupdf, "FzErrorBase") else ())


def _kids(doc: pymupdf.Document, xref: int) -> list[int] | None:
    """The object numbers of a node's /Kids, or None when it has no /Kids array (a leaf)."""
    kind, value = doc.xref_get_key(xref, "Kids")
    if kind == "xref":  # an indirect array
        value = doc.xref_object(int(value.split()[0]), compressed=True)
        kind = "array" if value.lstrip().startswith("[") else kind
    if kind != "array" or doc.xref_get_key(xref, "Type") == ("name", "/Page"):
        return None
    return [int(number) for number in _REF.findall(value)]


def _declared(doc: pymupdf.Document, xref: int) -> int | None:
    kind, value = doc.xref_get_key(xref, "Count")
    if kind == "xref":  # an indirect number ("/Count 12 0 R"): legal, and MuPDF reads through it
        value = doc.xref_object(int(value.split()[0]), compressed=True).strip()
        kind = "int" if _INT.fullmatch(value) else kind
    return int(value) if kind == "int" else None


def recount_pages(doc: pymupdf.Document) -> str | None:
    """Give every node of `doc`'s page tree the /Count of the pages below it, if any /Count is wrong.

    Returns a warning saying what changed, or None (counts right, or a tree it will not touch);
    never raises for a broken tree.
    """
    try:
        return _recount(doc)
    except _MUPDF_ERRORS:  # a kid that is no object, a number out of range: MuPDF will say so
        return None


def _recount(doc: pymupdf.Document) -> str | None:
    kind, value = doc.xref_get_key(doc.pdf_catalog(), "Pages")
    if kind != "xref":
        return None
    root = int(value.split()[0])
    said = _declared(doc, root)
    if said is None:  # no count at all is a different breakage: MuPDF reads it as no pages
        return None
    counts: dict[int, int] = {}  # pages below each node
    inner: list[int] = []  # nodes that are not pages
    seen = {root}
    # (node, its kids or None for a leaf, how many kids are done): post-order, no recursion.
    stack: list[tuple[int, list[int] | None, int]] = [(root, _kids(doc, root), 0)]
    while stack:
        node, kids, done = stack[-1]
        if kids is None or done == len(kids):
            stack.pop()
            counts[node] = 1 if kids is None else sum(counts[k] for k in kids)
            if kids is not None:
                inner.append(node)
            continue
        stack[-1] = (node, kids, done + 1)
        kid = kids[done]
        if kid in seen or len(seen) >= MAX_NODES:
            return None  # a cycle or a shared node: no count is right for it
        seen.add(kid)
        stack.append((kid, _kids(doc, kid), 0))
    wrong = [node for node in inner if _declared(doc, node) != counts[node]]
    for node in wrong:
        doc.xref_set_key(node, "Count", str(counts[node]))
    if not wrong:
        return None
    if root in wrong:
        return f"page tree /Count said {said} but it holds {counts[root]} pages; recounted"
    return f"page tree: /Count of {len(wrong)} inner node(s) wrong; recounted ({counts[root]} pages)"
