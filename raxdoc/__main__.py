"""`python -m raxdoc ...` is the `raxdoc` command."""

from raxdoc.cli import main

main()
