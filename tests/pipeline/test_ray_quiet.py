"""`ray_start`'s driver-side quieting, without starting Ray: the C++ log level only while the driver
connects, the level notice dropped from stderr (nothing else), and SIGTERM handlers kept."""

from __future__ import annotations

import os
import signal

import ray._private.worker as ray_worker

from raxdoc.pipeline import ray_start


def test_the_driver_alone_gets_the_level_and_a_users_level_wins(monkeypatch):
    seen = []
    monkeypatch.setattr(ray_worker, "connect", lambda *a, **k: seen.append(os.environ.get("RAY_BACKEND_LOG_LEVEL")))
    monkeypatch.delenv("RAY_BACKEND_LOG_LEVEL", raising=False)
    with ray_start._quiet_driver_core(True):
        assert "RAY_BACKEND_LOG_LEVEL" not in os.environ  # GCS / raylet start with the environment as it was
        ray_worker.connect()
    with ray_start._quiet_driver_core(False):  # a joined cluster: as it is
        ray_worker.connect()
    monkeypatch.setenv("RAY_BACKEND_LOG_LEVEL", "debug")
    with ray_start._quiet_driver_core(True):
        ray_worker.connect()
    assert seen == [ray_start.DRIVER_CORE_LOG_LEVEL, None, "debug"]
    assert os.environ["RAY_BACKEND_LOG_LEVEL"] == "debug"


def test_only_the_level_notice_leaves_stderr(capfd):
    with ray_start._without_level_notice():
        os.write(2, b"[2026 I 1 1] logging.cc:303: Set ray log level from environment variable "
                    b"RAY_BACKEND_LOG_LEVEL to 3\n")
        os.write(2, b"a real problem\n")
    assert capfd.readouterr().err == "a real problem\n"


def test_a_python_sigterm_handler_survives_ray_init():
    def mine(signum, frame):
        pass

    def rays(signum, frame):
        pass

    before = signal.signal(signal.SIGTERM, mine)
    try:
        with ray_start._keep_sigterm_handler():
            signal.signal(signal.SIGTERM, rays)  # what ray.init does
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, before)
