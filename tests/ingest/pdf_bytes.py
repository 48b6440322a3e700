"""PDF files written byte by byte, for page trees and objects PyMuPDF would not write itself."""

from __future__ import annotations


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1, object 1 the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def nested_pages(root_count: bytes, mid_count: bytes, *extra: bytes) -> bytes:
    """Root [mid [page 0, page 1], page 2] with these /Count values as written ("3", "11 0 R"), each
    page printing "page N"; `extra` objects are numbered from 11 (for counts given by reference)."""
    def page(parent: int, content: int) -> bytes:
        return (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 200 100] /Contents %d 0 R "
                b"/Resources << /Font << /F1 10 0 R >> >> >>" % (parent, content))

    def text(i: int) -> bytes:
        body = b"BT /F1 12 Tf 20 50 Td (page %d) Tj ET" % i
        return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(body), body)

    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count %s >>" % root_count,
        b"<< /Type /Pages /Parent 2 0 R /Kids [4 0 R 5 0 R] /Count %s >>" % mid_count,
        page(3, 7), page(3, 8), page(2, 9), text(0), text(1), text(2),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *extra,
    ])


def page_texts(doc) -> list[str]:
    """Each page's words joined, or the type of the error the page became."""
    from raxdoc.ingest import PageImage

    return [" ".join(w.text for w in p.words) if isinstance(p, PageImage) else type(p).__name__ for p in doc.pages()]
