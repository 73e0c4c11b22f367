"""Readiness polling and free ports (for guests and tests alike)."""

import socket
import time

from trove_guest_base import exceptions

__all__ = ["free_port", "port_open", "wait_for_port", "wait_until"]


def free_port(host="127.0.0.1"):
    """Return a TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host, port, timeout=0.5):
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout, what, interval=0.05, max_interval=0.5):
    """Poll ``predicate`` until it returns a true value and return it.

    Exceptions from ``predicate`` count as "not yet"; the last one is
    named if time runs out.

    :raises ReadinessTimeout: ``predicate`` stayed false for ``timeout``
        seconds.
    """
    deadline = time.monotonic() + timeout
    last = "it never became true"
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # any failure means "not ready yet"
            last = "%s: %s" % (type(exc).__name__, exc)
        if time.monotonic() >= deadline:
            raise exceptions.ReadinessTimeout(what=what, timeout=timeout,
                                              reason=last)
        time.sleep(interval)
        interval = min(max_interval, interval * 1.5)


def wait_for_port(host, port, timeout=30):
    """Wait until ``host:port`` accepts connections."""
    return wait_until(lambda: port_open(host, port), timeout,
                      "%s:%d" % (host, port))
