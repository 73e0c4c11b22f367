"""Benchmark: import time and module count against trove==26.0.0's guest.

Not a test, and optional (it downloads Trove and its ~130 dependencies).
It installs ``trove==26.0.0`` into a throwaway virtualenv (or reuses the
one given with ``--venv``), then in one run, alternating, times fresh
interpreters importing:

* *floor*: oslo.messaging, oslo.config, stevedore, zope.interface and
  PyMySQL (this repository's virtualenv);
* *trove-core guest*: what ``trove-guestagent`` imports for the MySQL
  datastore (runtime, discovery, the verified manager, its options);
* *Trove 26 guest*: ``trove.guestagent.datastore.mysql.manager`` and
  ``trove.cmd.guest`` in the throwaway virtualenv.

Usage::

    .venv/bin/python bench/guest_trove26.py [--venv /tmp/trove26] [--runs 7]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import guest_startup  # noqa: E402

TROVE_GUEST = ("import trove.cmd.guest, "
               "trove.guestagent.datastore.mysql.manager")


def ensure_venv(path):
    """Create ``path`` with trove==26.0.0 unless it already imports."""
    python = os.path.join(path, "bin", "python")
    if os.path.exists(python) and subprocess.run(
            [python, "-c", "import trove"], capture_output=True,
            check=False).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", path], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "trove==26.0.0",
                    "PyMySQL"], check=True)
    return python


def time_in(python, code):
    """Seconds for a fresh ``python`` to run ``code``."""
    started = time.perf_counter()
    subprocess.run([python, "-W", "ignore", "-c", code], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def modules_in(python, code):
    """Modules loaded by ``code`` in a fresh ``python``."""
    out = subprocess.run(
        [python, "-W", "ignore", "-c",
         code + "\nimport sys; print(len(sys.modules))"], check=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return int(out.stdout.split()[-1])


def main():
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default="/tmp/trove26-venv")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    trove_python = ensure_venv(args.venv)
    series = {
        "floor": (sys.executable, guest_startup.FLOOR),
        "trove-core guest (mysql)": (sys.executable,
                                     guest_startup.GUEST_IMPORTS),
        "trove 26.0.0 guest (mysql)": (trove_python, TROVE_GUEST),
    }
    samples = {name: [] for name in series}
    for python, code in series.values():
        time_in(python, code)  # warm the page cache
    for _ in range(args.runs):
        for name, (python, code) in series.items():
            samples[name].append(time_in(python, code))
    floor = statistics.median(samples["floor"])
    result = {}
    print("median of %d runs" % args.runs)
    for name, (python, code) in series.items():
        seconds = statistics.median(samples[name])
        count = modules_in(python, code)
        result[name] = {"median_ms": seconds * 1000, "modules": count,
                        "ratio": seconds / floor}
        print("%-28s %7.0f ms  %5d modules  %.2fx floor"
              % (name, seconds * 1000, count, seconds / floor))
    out = pathlib.Path(__file__).parent / "results" / "guest_trove26.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("wrote %s" % out)


if __name__ == "__main__":
    main()
