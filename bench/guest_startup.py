"""Benchmark: guest start-up to consuming, against the import floor.

Not a test. In one run, alternating to share the machine's noise:

* *floor*: a fresh interpreter importing oslo.messaging, oslo.config,
  stevedore, zope.interface and the datastore's driver (PyMySQL), then
  exiting;
* *guest*: ``trove-guestagent`` for the MySQL datastore from exec until
  it logs that it consumes its topic (configuration parsed, plugin found
  and tier-checked, manager loaded, transport connected to RabbitMQ,
  queues declared);
* *guest imports*: the same interpreter importing what the guest
  imports, without connecting (the import part of the guest's time).

Usage::

    .venv/bin/python bench/guest_startup.py [--runs 9]

Prints a table and writes ``bench/results/guest_startup.json``; the
figures are quoted in ``bench/results/runtime.md``.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import guest_common  # noqa: E402

FLOOR = ("import oslo_messaging, oslo_config.cfg, stevedore, "
         "zope.interface, pymysql")
GUEST_IMPORTS = (
    "import warnings; warnings.simplefilter('ignore');"
    "import oslo_messaging, pymysql;"
    "from trove_guest_base import service, endpoint, reporter;"
    "from trove_core import discovery, options;"
    "discovery.load_manager_class('mysql');"
    "options.load_side('mysql', 'guest')")


def time_python(code):
    """Seconds for a fresh interpreter to run ``code`` and exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-W", "ignore", "-c", code],
                   check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def module_count(code):
    """Modules loaded after ``code`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c",
         code + "\nimport sys; print(len(sys.modules))"],
        check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True).stdout
    return int(out.split()[-1])


def main():
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    floor, imports, guest = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-guest-") as tmp:
        _gid, argv = guest_common.write_guest_config(tmp)
        time_python(FLOOR)  # warm the page cache for every series
        time_python(GUEST_IMPORTS)
        proc, _warm = guest_common.start_until_consuming(argv)
        guest_common.stop(proc)
        for _ in range(args.runs):
            floor.append(time_python(FLOOR))
            imports.append(time_python(GUEST_IMPORTS))
            proc, seconds = guest_common.start_until_consuming(argv)
            guest.append(seconds)
            guest_common.stop(proc)
    result = {
        "runs": args.runs,
        "floor_ms": guest_common.median_ms(floor),
        "guest_imports_ms": guest_common.median_ms(imports),
        "guest_consuming_ms": guest_common.median_ms(guest),
        "floor_modules": module_count(FLOOR),
        "guest_modules": module_count(GUEST_IMPORTS),
    }
    result["imports_ratio"] = result["guest_imports_ms"] / result[
        "floor_ms"]
    result["consuming_ratio"] = result["guest_consuming_ms"] / result[
        "floor_ms"]
    print("median of %d runs" % args.runs)
    print("%-34s %8.0f ms  %5d modules" % (
        "floor (imports only)", result["floor_ms"], result["floor_modules"]))
    print("%-34s %8.0f ms  %5d modules  %.2fx" % (
        "guest imports (no broker)", result["guest_imports_ms"],
        result["guest_modules"], result["imports_ratio"]))
    print("%-34s %8.0f ms  %13s  %.2fx" % (
        "guest exec -> consuming", result["guest_consuming_ms"], "",
        result["consuming_ratio"]))
    out = pathlib.Path(__file__).parent / "results" / "guest_startup.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("wrote %s" % out)


if __name__ == "__main__":
    main()
