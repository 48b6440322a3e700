"""The short profile name of an e-invoice guideline id: `profile_of(urn) -> "EN16931"`.

The guideline id (CII `GuidelineSpecifiedDocumentContextParameter/ID`, UBL `CustomizationID`) is a URN
such as `urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic`: the core standard, then after
`#compliant#` / `#conformant#` the specification that narrows or extends it. The most specific part
names the profile, so the keywords below are tried from the most specific (XRechnung, Peppol,
EXTENDED-CTC-FR) to the core (EN16931). Shared by the CII and UBL readers.

Not here: reading the id from the XML, or anything a profile implies about which fields exist.
"""

from __future__ import annotations

# (keyword in the casefolded id, profile): first match wins, so longer keywords come first.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("xrechnung", "XRECHNUNG"),
    ("peppol", "PEPPOL"),
    ("extended-ctc-fr", "EXTENDED-CTC-FR"),
    ("extended", "EXTENDED"),
    ("basicwl", "BASIC WL"),
    ("basic-wl", "BASIC WL"),
    ("basic", "BASIC"),
    ("minimum", "MINIMUM"),
    ("comfort", "COMFORT"),  # ZUGFeRD 1.0's middle profile (EN16931's ancestor)
    ("en16931", "EN16931"),
)


def profile_of(guideline_id: str) -> str:
    """MINIMUM, BASIC WL, BASIC, EN16931, EXTENDED, XRECHNUNG, PEPPOL, ... ("" when unknown or empty).

    urn:factur-x.eu:1p0:minimum -> MINIMUM; urn:cen.eu:en16931:2017 -> EN16931;
    urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended -> EXTENDED;
    urn:ferd:CrossIndustryDocument:invoice:1p0:comfort -> COMFORT (ZUGFeRD 1.0).
    """
    key = guideline_id.strip().casefold()
    for word, profile in _KEYWORDS:
        if word in key:
            return profile
    return ""
