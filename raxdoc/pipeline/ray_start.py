"""Starting (or joining) Ray for a run: `init_ray`, `quiet_ray`.

A local run's Ray is this machine's only: every Ray server listens on loopback, no dashboard, and
Ray's auth token file is owner-only. With an address (or RAY_ADDRESS) the cluster is joined as it is.
A local run's driver keeps Ray's C++ notices off the terminal (`_quiet_driver_core`), and any
driver keeps its own SIGTERM handler through `ray.init` (`_keep_sigterm_handler`).

Not here: the Ray Data graph (`graph`), which re-exports `init_ray` for `run`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# The driver's C++ log level in a local run, unless the user set RAY_BACKEND_LOG_LEVEL (module doc).
DRIVER_CORE_LOG_LEVEL = "fatal"


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


@contextlib.contextmanager
def _quiet_driver_core(local: bool):
    """While a local `ray.init` connects its driver: RAY_BACKEND_LOG_LEVEL=fatal for this process's
    C++ core worker only. Ray's C++ logger copies every ERROR line to stderr whatever the level of its
    log file, and Ray Data's actor pools make the driver log one each run (an actor whose constructor
    arguments sit in the object store, ray#53727: harmless here, the driver holds them). The level
    is read once, when the driver's core worker starts; GCS, raylet and workers were spawned before
    with the environment as it was, so their logs keep every line. Nothing is lost to the user: a
    failure reaches the driver as a Python exception, which raxdoc reports.
    A user's own RAY_BACKEND_LOG_LEVEL wins; a joined cluster is left as it is."""
    import ray._private.worker as ray_worker

    if not local or "RAY_BACKEND_LOG_LEVEL" in os.environ or not hasattr(ray_worker, "connect"):
        yield
        return
    connect = ray_worker.connect

    def quiet_connect(*args, **kwargs):
        os.environ["RAY_BACKEND_LOG_LEVEL"] = DRIVER_CORE_LOG_LEVEL
        try:
            with _without_level_notice():
                return connect(*args, **kwargs)
        finally:
            os.environ.pop("RAY_BACKEND_LOG_LEVEL", None)

    ray_worker.connect = quiet_connect
    try:
        yield
    finally:
        ray_worker.connect = connect


@contextlib.contextmanager
def _without_level_notice():
    """Ray's C++ logger announces a level read from RAY_BACKEND_LOG_LEVEL on stderr (at INFO, before
    the level applies). While the driver connects, stderr (fd 2, where C++ writes) goes to a file;
    then everything written there is put back on stderr but that one notice."""
    import sys
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no stderr at all (a daemon): nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().splitlines(keepends=True)
                    if b"Set ray log level from environment variable" not in line]
            if kept:
                os.write(2, b"".join(kept))


@contextlib.contextmanager
def _keep_sigterm_handler():
    """`ray.init` takes SIGTERM over twice: a Python handler (sys.exit) and, in C++, a failure
    handler that dumps stack frames before dying. Afterwards the Python handler the process had
    (the CLI's: stop like Ctrl-C, say how to resume) is put back; without one, Ray's Python handler
    stays, and either way the C++ frame dump is gone (a Python handler replaces it in the OS).
    SIGSEGV and friends keep Ray's crash handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set one
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        handler = before if callable(before) else signal.getsignal(signal.SIGTERM)
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


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
    with _loopback_node(address is None), _quiet_driver_core(address is None), _keep_sigterm_handler():
        # "local", not None: with None, Ray joins any cluster it finds running on this machine
        # (another user's `ray start`, a test's cluster) instead of starting this run's own.
        ray.init(address=address or "local", **kwargs)
    if address is None:
        private_token()  # one Ray wrote just now (with the default umask)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the CLI draws its own
    ctx.print_on_execution_start = False
    return True
