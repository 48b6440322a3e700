"""Samples Ray's object store (bytes in plasma and spilled, all nodes) and the driver's RSS in a thread.

    with Sampler(interval=0.2) as s:
        run()
    s.peak_store, s.peak_rss, s.samples

Used by bench/memory_bound.py and bench/soak.py; needs Ray started (the caller starts it).
"""

from __future__ import annotations

import threading
import time


def store_bytes() -> tuple[int, int]:
    """(bytes in the object store now, bytes spilled so far), summed over the cluster's nodes."""
    from ray._private.internal_api import get_memory_info_reply, get_state_from_address

    stats = get_memory_info_reply(get_state_from_address(None), timeout_seconds=10).store_stats
    return int(stats.object_store_bytes_used), int(stats.spilled_bytes_total)


def rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class Sampler:
    def __init__(self, interval: float = 0.2, probe=None):
        self.interval, self.probe = interval, probe  # probe(): extra figures recorded with each sample
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> dict:
        store, spilled = store_bytes()
        s = {"t": round(time.monotonic() - self.started, 3), "store": store, "spilled": spilled, "rss": rss_bytes()}
        if self.probe is not None:
            s.update(self.probe())
        self.samples.append(s)
        return s

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def peak_store(self) -> int:
        return max((s["store"] for s in self.samples), default=0)

    @property
    def peak_rss(self) -> int:
        return max((s["rss"] for s in self.samples), default=0)

    @property
    def spilled(self) -> int:
        return max((s["spilled"] for s in self.samples), default=0)
