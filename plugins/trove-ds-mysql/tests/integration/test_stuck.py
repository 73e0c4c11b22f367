"""A stopped (SIGSTOP) server is reported, not waited for."""

import os
import signal

import pytest

from trove_core import discovery
from trove_guest_base import endpoint

pytestmark = pytest.mark.mariadb


def test_sigstopped_server_reported_blocked(mysql):
    """health answers 'blocked' while the server is stopped, and the
    real status once it runs again."""
    runtime = endpoint.GuestRuntime(mysql, discovery.find("mysql"), "g1")
    runtime.probe_timeout = 1
    pid = mysql.server.runner.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        assert runtime.health()["status"] == "blocked"
    finally:
        os.kill(pid, signal.SIGCONT)
        runtime.gate.close(timeout=5)
    runtime._probe["done"].wait(60)
    assert runtime.probe_status().is_running
