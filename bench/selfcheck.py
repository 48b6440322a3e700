"""The engine's start-up self-check on a random checkpoint, its verdict written as JSON (the GPU session's).

    PYTHONPATH=. python bench/selfcheck.py --ckpt-dir /tmp/ckpt [--preset rax-4.5] [--profile h100] \\
        [--out bench/results/selfcheck-<device>.json]

Loads the checkpoint (`bench.workload.ensure_checkpoint`), runs `Engine.self_check()` (fast paths
vs the plain-torch reference: `raxdoc.engine.selfcheck`) and writes the verdict, the chosen paths,
every trial and the worst logit error, with device, commit, date and command. Exit status 1 when
the check had to fall back (the run still works, slower) or failed outright.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shlex
import sys

import torch

from bench.engine_run import _device_name, _version
from bench.provenance import git_commit, write_result
from bench.workload import ensure_checkpoint


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="rax-4.5", choices=("tiny", "rax-4.5"))
    ap.add_argument("--profile", default="auto")
    ap.add_argument("--ckpt-dir", default="/tmp/ckpt")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from raxdoc.engine import Engine
    from raxdoc.engine.selfcheck import SelfCheckError
    from raxdoc.profiles import resolve_profile

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ckpt = ensure_checkpoint(args.preset, args.ckpt_dir)
    prof = resolve_profile(args.profile)
    engine = Engine.from_pretrained(str(ckpt), profile=prof, device=str(dev), self_check=False, max_num_seqs=4)
    try:
        report = engine.self_check()
        failed = False
    except SelfCheckError as err:
        report, failed = {"verdict": str(err), "paths": engine.paths, "trials": []}, True
    out = {
        "benchmark": "raxdoc-selfcheck/1",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in sys.argv), "commit": git_commit(short=False),
        "device": _device_name(dev), "torch": torch.__version__, "fla": _version("fla-core"),
        "triton": _version("triton"), "preset": args.preset, "profile": prof.name,
        **report,
    }
    print(json.dumps(out, indent=2))
    if args.out:
        write_result(args.out, out)
    return 1 if failed or not report["verdict"].startswith("passed") else 0


if __name__ == "__main__":
    sys.exit(main())
