"""The output folder's run lock: one raxdoc run writes into a folder at a time.

A second run into the same folder would clean up the first one's in-progress files and write rows
beside its rows, so `OutputStore(..., lock=True)` takes this lock before it touches anything and a
second run stops with `OutputLocked` (a usage error, exit 2) naming the holder.

Local folders: `OUT/.raxdoc.lock`, held with `fcntl.flock` for the run's life and holding the
holder's pid, host and start time (for the message). The kernel drops a flock when its process
dies, kill -9 included, so a lock is never stuck: a run that finds the file unlocked but still
filled (its holder died before removing it) takes it over with a warning naming the dead run.
On NFS, Linux maps flock onto POSIX locks, which the NFS lock manager honours across clients.

Other fsspec folders (s3://, gs://, memory://): best effort. Object stores have neither locks nor
an exclusive create, so the lock is an object with the holder's host, pid, start time and a
heartbeat (a thread rewrites it every HEARTBEAT_S). A run refuses while one exists, unless its
holder is a dead pid on this host or its heartbeat is older than STALE_S (a run killed on another
machine). Two runs that start within the same moment can both write it: each re-reads it after
writing and backs off when the other's token is there, which narrows that window, not closes it.

`busy` tells a store opened without the lock (a reader) that a run holds it: it then cleans nothing.

Not here: the folder's layout and writes (`store`), the run settings record (`manifest`).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import posixpath
import socket
import threading
import time
import uuid
import weakref
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger(__name__)

LOCK_NAME = ".raxdoc.lock"
HEARTBEAT_S = 60.0
STALE_S = 600.0


class OutputLocked(ValueError):
    """Another raxdoc run is writing into the output folder (a usage error: exit 2)."""


def _holder() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "token": uuid.uuid4().hex,
            "since": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"), "heartbeat": time.time()}


def _describe(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('since', '?')}"


def _refusal(holder: dict[str, Any], root: str) -> OutputLocked:
    return OutputLocked(f"another raxdoc run ({_describe(holder)}) is writing into {root}; "
                        f"wait for it or choose another -o")


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True  # another user's live process, or a pid we cannot judge: assume alive
    return True


def _parse(data: bytes) -> dict[str, Any]:
    try:
        holder = json.loads(data.decode() or "{}")
    except (UnicodeDecodeError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


class RunLock:
    """Held from construction until `release()` (also on garbage collection and at exit)."""

    def __init__(self, fs: Any, root: str, *, local: bool):
        self.fs, self.root, self.local = fs, root, local
        self.path = posixpath.join(root, LOCK_NAME)
        self.holder = _holder()
        self._stop = threading.Event()
        if local:
            fd = self._acquire_local()
            self._finalizer = weakref.finalize(self, _release_local, fd, self.path)
        else:
            self._acquire_remote()
            thread = threading.Thread(target=_beat, args=(fs, self.path, self.holder, self._stop),
                                      name="raxdoc-lock-heartbeat", daemon=True)
            thread.start()
            self._finalizer = weakref.finalize(self, _release_remote, fs, self.path, self.holder, self._stop)

    def release(self) -> None:
        self._finalizer()

    def _acquire_local(self) -> int:
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _parse(os.pread(fd, 4096, 0))
                os.close(fd)
                raise _refusal(holder, self.root) from None
            except OSError as exc:  # a filesystem without locks (some FUSE mounts): run, but say so
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
                log.warning("%s: this filesystem has no file locks; another run into it would not be stopped",
                            self.root)
                break
            try:  # a releasing holder unlinks the file: a lock on that old file guards nothing
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        left = _parse(os.pread(fd, 4096, 0))
        if left:
            log.warning("%s: taking over the lock of a raxdoc run that is no longer running (%s)",
                        self.root, _describe(left))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self.holder).encode(), 0)
        return fd

    def _acquire_remote(self) -> None:
        try:
            left = _parse(self.fs.cat_file(self.path))
        except FileNotFoundError:
            left = None
        if left is not None:
            same_host = left.get("host") == self.holder["host"]
            dead = same_host and not _pid_alive(left.get("pid"))
            silent = time.time() - float(left.get("heartbeat") or 0) > STALE_S
            if not (dead or silent):
                raise _refusal(left, self.root)
            log.warning("%s: taking over the lock of a raxdoc run that %s (%s)", self.root,
                        "is no longer running" if dead else f"has not written for over {STALE_S:.0f} s",
                        _describe(left))
        _write(self.fs, self.path, self.holder)
        time.sleep(0.05)  # let a run that wrote at the same moment land, then see who holds it
        now = _parse(self.fs.cat_file(self.path))
        if now.get("token") != self.holder["token"]:
            raise _refusal(now, self.root)


def busy(fs: Any, root: str, *, local: bool) -> bool:
    """Whether a live run holds the folder's lock now: a store opened without the lock (a reader)
    then leaves the folder's in-progress files alone."""
    path = posixpath.join(root, LOCK_NAME)
    if local:
        import fcntl

        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # dropped again by the close below
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False
    try:
        holder = _parse(fs.cat_file(path))
    except FileNotFoundError:
        return False
    return time.time() - float(holder.get("heartbeat") or 0) <= STALE_S


def _write(fs: Any, path: str, holder: dict[str, Any]) -> None:
    holder["heartbeat"] = time.time()
    with fs.open(path, "wb") as f:
        f.write(json.dumps(holder).encode())


def _beat(fs: Any, path: str, holder: dict[str, Any], stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            _write(fs, path, holder)
        except Exception as exc:  # a failed heartbeat only risks a takeover after STALE_S; the run goes on
            log.warning("could not refresh the run lock %s: %s", path, exc)


def _release_local(fd: int, path: str) -> None:
    try:
        os.unlink(path)  # while still holding it: a newcomer re-checks the inode (see _acquire_local)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


def _release_remote(fs: Any, path: str, holder: dict[str, Any], stop: threading.Event) -> None:
    stop.set()
    try:
        if _parse(fs.cat_file(path)).get("token") == holder["token"]:
            fs.rm(path)
    except (FileNotFoundError, OSError):
        pass
