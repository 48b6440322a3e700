"""What an e-invoice yields: `EInvoice`, the exact record read from its XML, and its typed errors.

The XML readers (`cii.py` for UN/CEFACT CII incl. Factur-X / ZUGFeRD 2.x and ZUGFeRD 1.0, `ubl.py`
for UBL 2.1 Invoice / CreditNote incl. XRechnung and Peppol BIS 3.0) each turn a parsed XML tree
into an `EInvoice`; `read_einvoice` (the package's entry) finds the XML in a PDF or takes an XML
file and picks the reader.

Sign convention for credit notes (type code 381, or a UBL `CreditNote`): amounts are stored as
the XML states them (positive in a well-formed credit note) and `is_credit_note` says what the
document is; `document_type_code` keeps the code. (The README states this for users.)

Not here: XML parsing safety (`xml.py`), finding attachments (`attachments.py`), the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from raxdoc.errors import EInvoiceError  # defined with the other typed errors so ERROR_TYPES lists it
from raxdoc.schemas.invoice import Invoice

__all__ = ["EInvoice", "EInvoiceError"]


@dataclass(frozen=True)
class EInvoice:
    invoice: Invoice  # the exact values, validated; line items in document order
    syntax: str  # "CII" (Factur-X / ZUGFeRD 2.x / XRechnung CII), "ZUGFeRD1", or "UBL"
    # The guideline the XML declares, short: MINIMUM, BASIC WL, BASIC, EN16931, EXTENDED, XRECHNUNG,
    # PEPPOL, ... ("" when none); `guideline_id` is the full URN as written.
    profile: str
    guideline_id: str = ""
    document_type_code: str = ""  # 380 invoice, 381 credit note, 384 corrected, ...
    is_credit_note: bool = False
    # Where the XML came from: "attachment:<name>" inside a PDF, or "file" for an XML input.
    origin: str = "file"
    # Things a reader noticed and did not fail on (an unknown unit code, a rounding difference): kind, message.
    notes: tuple[tuple[str, str], ...] = field(default=())
