"""Shared pieces of the guest runtime benchmarks (``guest_*.py``).

Not a test. Helpers to write a guest's two config files, start
``trove-guestagent`` and time it until it consumes, and take medians.
"""

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

URL = "rabbit://guest:guest@127.0.0.1:5672/"
VENV_BIN = os.path.dirname(sys.executable)
CONSUMING = "consuming on topic"


def write_guest_config(workdir, datastore="mysql", guest_id=None,
                       extra_default=""):
    """Write guest_info.conf and trove-guestagent.conf under ``workdir``.

    :returns: ``(guest_id, argv)`` to start the guest.
    """
    guest_id = guest_id or "bench-%s" % uuid.uuid4()
    os.makedirs(workdir, exist_ok=True)
    info = os.path.join(workdir, "guest_info.conf")
    main = os.path.join(workdir, "trove-guestagent.conf")
    with open(info, "w", encoding="utf-8") as handle:
        handle.write("[DEFAULT]\nguest_id = %s\ndatastore_manager = %s\n"
                     % (guest_id, datastore))
    with open(main, "w", encoding="utf-8") as handle:
        handle.write(
            "[DEFAULT]\ntransport_url = %s\nstate_path = %s\n"
            "report_interval = 60\nconductor_queue = bench-conductor\n"
            "allowed_tiers = stable,technical-preview,experimental\n%s"
            "[%s]\nmount_point = %s\n"
            % (URL, os.path.join(workdir, "state"), extra_default,
               datastore, os.path.join(workdir, "data")))
    argv = [os.path.join(VENV_BIN, "trove-guestagent"),
            "--config-file", info, "--config-file", main]
    return guest_id, argv


def start_until_consuming(argv, timeout=60):
    """Start a guest; return ``(process, seconds until it logged that it
    consumes)``."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        if CONSUMING in line:
            elapsed = time.perf_counter() - started
            # Keep draining, or a chatty guest blocks on a full pipe.
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, elapsed
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError("guest did not start consuming: %s" % argv)


def stop(proc):
    """SIGTERM a guest and wait for it."""
    proc.terminate()
    proc.wait(timeout=60)


def median_ms(samples):
    """Median of seconds, in milliseconds."""
    return statistics.median(samples) * 1000.0
