"""Field markers and storage constants shared by the built-in and custom schemas.

Scope: the small vocabulary a schema author uses to say what a field *means*
(currency code, internal bookkeeping) and the one decimal width every money
column is stored with. No parsing or normalisation lives here (that is
`raxdoc.postprocess`), so schemas stay importable with pydantic alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

# Money and quantities are stored as decimal128(18, 6): 12 integer digits cover
# any invoice total, 6 decimals cover per-kWh / per-gram unit prices (3-5 places
# are common on energy and fuel invoices). Precision <= 18 keeps DuckDB on its
# int64 decimal path. A value that does not fit is rejected during
# normalisation (reported as an issue), never rounded.
DECIMAL_PRECISION = 18
DECIMAL_SCALE = 6


@dataclass(frozen=True)
class Marker:
    """Annotated metadata tag; compared by name."""

    name: str  # "currency" or "internal"


# An ISO 4217 code after normalisation (the model may write "€", "euros", "EUR").
CURRENCY = Marker("currency")
# Set by raxdoc (e.g. page_index), never asked of the model: left out of the JSON Schema.
INTERNAL = Marker("internal")

CurrencyCode = Annotated[str, CURRENCY]
