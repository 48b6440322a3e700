"""Entrypoint for `ray job submit`: extract a corpus on the cluster the job runs in.

    ray job submit --working-dir . --runtime-env jobs/runtime_env.yaml -- \
        python jobs/extract_invoices.py --input s3://bucket/invoices/ --output s3://bucket/raxdoc-out/

Inside a job, RAY_ADDRESS is set by Ray, so the pipeline joins the cluster instead of starting a
local one. Arguments are the CLI's (`raxdoc extract --help`); the exit code is the CLI's too:
0 all documents ok, 1 some partial/failed, 2 usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python jobs/extract_invoices.py` puts jobs/ on sys.path; the package sits one level up in the
# uploaded working directory.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str]) -> int:
    import click

    from raxdoc.cli import app

    # Accept --input as the job-style spelling of the CLI's positional INPUT arguments.
    args: list[str] = []
    inputs: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in ("--input", "-i"):
            value = next(it, None)
        elif arg.startswith("--input="):
            value = arg.split("=", 1)[1]
        else:
            args.append(arg)
            continue
        # An empty input would expand to the job's working directory (this repository): refuse it.
        if not value or value.startswith("-"):
            print(f"error: {arg} needs a path or URL (got {value!r})", file=sys.stderr)
            return 2
        inputs.append(value)
    try:
        # standalone_mode=False: click returns the command's exit code instead of calling sys.exit.
        code = app(["extract", *inputs, *args], standalone_mode=False)
    except click.UsageError as exc:
        exc.show()
        return 2
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
