"""A stopped (SIGSTOP) server is reported, not waited for."""

import os
import signal

import pytest

from trove_core import discovery
from trove_guest_base import endpoint

pytestmark = pytest.mark.redis


def test_sigstopped_server_reported_blocked(make):
    """health answers 'blocked' while the server is stopped, and the
    real status once it runs again."""
    mgr = make("stuck")
    mgr.prepare(memory_mb=256, packages=[], databases=[], users=[])
    runtime = endpoint.GuestRuntime(mgr, discovery.find("redis"), "g1")
    runtime.probe_timeout = 1
    pid = mgr.runner.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        assert runtime.health()["status"] == "blocked"
    finally:
        os.kill(pid, signal.SIGCONT)
        runtime.gate.close(timeout=5)
    probe = runtime._probe
    probe["done"].wait(60)
    assert runtime.probe_status().is_running
