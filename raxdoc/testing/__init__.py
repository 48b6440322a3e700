"""Fixtures for tests and benchmarks: random Rax checkpoints by preset, and a small tokenizer;
synthetic invoice PDFs with truth (`invoices`) and the stand-in reader's core (`standin`).

Nothing in raxdoc's runtime imports this package. `presets.write_random_checkpoint` needs
transformers (the `test` extra), imported when called, so the package still imports without it.
"""
