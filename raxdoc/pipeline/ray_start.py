"""Starting (or joining) Ray for a run: `init_ray`, `quiet_ray`.

A local run's Ray is this machine's only: every Ray server listens on loopback, no dashboard, and
Ray's auth token file is owner-only. With an address (or RAY_ADDRESS) the cluster is joined as it is.

Not here: the Ray Data graph (`graph`), which re-exports `init_ray` for `run`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


@contextlib.contextmanager
def _loopback_node(local: bool):
    """While a local Ray starts: keep its node address loopback, so every Ray server (GCS, raylet,
    object manager, workers, agents, metrics) listens on 127.0.0.1 only. `ray.init` swaps a loopback
    `_node_ip_address` for the machine's outside address unless Ray's single-machine switch
    (`ray_constants.ENABLE_RAY_CLUSTER`, read per call; what macOS and Windows use) is off."""
    from ray._private import ray_constants

    if not local or not hasattr(ray_constants, "ENABLE_RAY_CLUSTER"):
        yield
        return
    before, ray_constants.ENABLE_RAY_CLUSTER = ray_constants.ENABLE_RAY_CLUSTER, False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


def private_token() -> None:
    """Make Ray's token file (~/.ray/auth_token, written when token auth is on) readable by its owner only:
    anyone who reads it can run code on the cluster."""
    from pathlib import Path

    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")  # as Ray finds it
    try:
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError as exc:  # not ours to fix (another user's home, a read-only one): say so, run on
        log.warning("could not make %s owner-only: %s", path, exc)


def quiet_ray() -> None:
    """Keep Ray's chatter (per-dataset INFO lines, its own deprecations, C++ core-worker notices) off
    the user's terminal; raxdoc reports progress and problems itself. Errors still surface."""
    import warnings

    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")  # read when ray.data configures its logger
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
    warnings.filterwarnings("ignore", message=r".*ray_remote_args.*", module=r"raxdoc\.pipeline(\.|$)")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


def init_ray(address: str | None) -> bool:
    """Join `address` / RAY_ADDRESS, or start a quiet local Ray sized to the machine. True if we started it.

    A local Ray is this machine's only: its node address is loopback (so every Ray server listens
    there, `_loopback_node`), no dashboard, and Ray's auth token file is made owner-only.
    """
    import ray

    if ray.is_initialized():
        return False
    quiet_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = dict(logging_level=logging.ERROR, log_to_driver=False)
    if address is None:
        kwargs.update(include_dashboard=False, num_cpus=os.cpu_count(), _node_ip_address=LOOPBACK)
        private_token()  # one already there: tightened before Ray reads it
    with _loopback_node(address is None):
        # "local", not None: with None, Ray joins any cluster it finds running on this machine
        # (another user's `ray start`, a test's cluster) instead of starting this run's own.
        ray.init(address=address or "local", **kwargs)
    if address is None:
        private_token()  # one Ray wrote just now (with the default umask)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the CLI draws its own
    ctx.print_on_execution_start = False
    return True
