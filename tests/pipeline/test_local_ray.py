"""A local run's Ray listens on loopback only, and Ray's auth token file is owner-only."""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path

import psutil
import pytest
import ray

from raxdoc.pipeline.ray_start import init_ray, private_token


def _is_loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:  # ::ffff:127.0.0.1
        addr = addr.ipv4_mapped
    return addr.is_loopback


def _listening(procs) -> list[tuple[str, str, int]]:
    """(process name, address, port) of every listening TCP socket of `procs`."""
    found = []
    for proc in procs:
        try:
            conns = proc.net_connections(kind="inet")
            name = proc.name()
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            pytest.skip("this platform does not let a process list its children's sockets")
        found += [(name, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    return found


def test_local_ray_listens_on_loopback_only():
    if ray.is_initialized():  # another test's Ray: ours must be started here
        ray.shutdown()
    assert init_ray(None)
    try:
        # A worker process (its own gRPC server) too; a lambda travels by value (workers cannot import tests).
        ray.get(ray.remote(num_cpus=0)(lambda: os.getpid()).remote())
        me = psutil.Process()
        sockets = _listening([me, *me.children(recursive=True)])
        names = " ".join(name for name, _, _ in sockets)
        # The check means something only if Ray's own servers were seen.
        assert "gcs_server" in names and "raylet" in names, sockets
        exposed = [s for s in sockets if not _is_loopback(s[1])]
        assert not exposed, f"listening beyond loopback: {exposed}"
        token = Path.home() / ".ray" / "auth_token"
        if token.exists():
            assert stat.S_IMODE(token.stat().st_mode) == 0o600
    finally:
        ray.shutdown()
    from ray._private import ray_constants

    assert ray_constants.ENABLE_RAY_CLUSTER, "init_ray left Ray's single-machine switch on"


def test_token_file_made_owner_only(tmp_path, monkeypatch):
    token = tmp_path / "auth_token"
    token.write_text("0" * 32)
    token.chmod(0o644)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    private_token()
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    private_token()  # idempotent; a missing file is no error either
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "none"))
    private_token()
