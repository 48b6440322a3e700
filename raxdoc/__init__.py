"""raxdoc: bulk invoice PDFs to validated line items in Parquet, with Rax 4.5 on Ray."""

__version__ = "0.1.0"
