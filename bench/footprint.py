"""Footprint of each single-datastore guest against the floor and Trove.

For every datastore: build its guest bundle (trove-core's wheel built once),
install it offline into a clean virtualenv exactly as ``trove-guest-image
verify`` does, and measure the virtualenv (MB of files, distributions) and
the import time of the guest entry point plus the manager. The same is
measured for:

* the *floor*: oslo.messaging + oslo.config + stevedore + zope.interface +
  pbr + the datastore's driver, installed the same way (empty virtualenv
  without pip, this process's pip, same index);
* the guest with trove-core's ``[secure]`` extra (cryptography, opt-in
  with ``--secure``), to show what secure RPC costs;
* ``trove==26.0.0`` with ``--trove26`` (slow, optional); otherwise the
  figures measured earlier on this machine are quoted.

Usage::

    .venv/bin/python bench/footprint.py [--datastore NAME ...] [--trove26]

Writes ``bench/results/footprint.md`` and ``footprint.json``. This is a
benchmark, not a test: it asserts nothing.
"""

import argparse
import json
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

from trove_core.tools.image import build
from trove_core.tools.image import verify
from trove_core.tools.image import wheels

RESULTS = pathlib.Path(__file__).parent / "results"
FLOOR = ["oslo.messaging", "oslo.config", "stevedore", "zope.interface",
         "pbr"]
DRIVERS = {"mysql": "PyMySQL", "redis": "redis", "mongodb": "pymongo",
           "cassandra": "cassandra-driver"}
TROVE26_GIVEN = {"mb": 297.0, "distributions": 127}
TARGET_RATIO = 1.1


def _install(venv, args, offline, python=None):
    python = verify.create_venv(venv, python)
    proc = verify.pip_install(python, args, offline=offline)
    if proc.returncode != 0:
        raise SystemExit("pip install %s failed:\n%s" % (
            " ".join(args), proc.stderr[-3000:]))
    return verify.footprint(venv)


def _import_once(venv, modules):
    code = ("import time; t = time.perf_counter(); import %s; "
            "print((time.perf_counter() - t) * 1000)" % modules)
    out = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", code],
                         capture_output=True, text=True, check=True,
                         cwd=str(venv))
    return float(out.stdout)


def _import_ms(pairs, runs=7):
    """Import times of several ``(venv, modules)``, interleaved run by
    run so they share the machine's noise; the best of ``runs`` each (one
    warm-up run first, which also writes byte code)."""
    best = [None] * len(pairs)
    for attempt in range(runs + 1):
        for i, (venv, modules) in enumerate(pairs):
            value = _import_once(venv, modules)
            if attempt and (best[i] is None or value < best[i]):
                best[i] = value
    return [round(value, 1) for value in best]


def measure(names, trove26, scratch):
    """Measure every datastore; returns the results dict."""
    core_src = wheels.find_source("trove-core")
    core = wheels.build_project_wheel(core_src, scratch / "core",
                                      "trove-core")
    results = {"python": platform.python_version(), "datastores": {},
               "trove26": dict(TROVE26_GIVEN, measured=False)}
    for name in names:
        print("== %s" % name, flush=True)
        out = scratch / ("bundle-" + name)
        manifest = build.build(name, out, os_id="debian-12",
                               prebuilt=[core], core_extras=["secure"],
                               progress=build.Progress(6, quiet=True))
        venv = scratch / ("guest-" + name)
        started = time.perf_counter()
        report = verify.verify(out, venv_dir=venv,
                               progress=build.Progress(4, quiet=True))
        install_s = time.perf_counter() - started
        wh = out / "wheelhouse"
        plugin = next(p for p in wh.glob("trove_ds_*.whl"))
        core_in = next(p for p in wh.glob("trove_core-*.whl"))
        # The guest's interpreter (the OS's exact Python when present),
        # for the floor too: markers and byte code then match.
        python = verify.interpreter(manifest["python"],
                                    manifest["python_full"])
        plain = _install(scratch / ("plain-" + name),
                         ["--no-index", "--find-links", str(wh),
                          str(core_in), "%s[guest]" % plugin],
                         offline=True, python=python)
        floor = _install(scratch / ("floor-" + name),
                         FLOOR + [DRIVERS[name]], offline=False,
                         python=python)
        drivers = ", ".join(manifest["driver_modules"])
        package = plugin.name.split("-", 1)[0]
        guest_ms, floor_ms = _import_ms([
            (scratch / ("plain-" + name),
             "trove_guest_base.service, oslo_messaging, %s.manager, %s"
             % (package, drivers)),
            (scratch / ("floor-" + name),
             "oslo_messaging, oslo_config.cfg, stevedore, zope.interface, "
             + drivers)])
        results["datastores"][name] = {
            "guest": {"mb": plain["mb"],
                      "distributions": plain["distributions"],
                      "import_ms": guest_ms},
            "guest_secure": {"mb": report["footprint_mb"],
                             "distributions": report["distributions"],
                             "verify_s": round(install_s, 1)},
            "floor": {"mb": floor["mb"],
                      "distributions": floor["distributions"],
                      "import_ms": floor_ms},
            "added_over_floor": sorted(set(plain["names"])
                                       - set(floor["names"])),
            "added_by_secure": sorted(set(report["distribution_names"])
                                      - set(plain["names"])),
            "missing_from_guest": sorted(set(floor["names"])
                                         - set(plain["names"])),
            "wheels": len(manifest["wheels"]),
        }
        print(json.dumps(results["datastores"][name], indent=1), flush=True)
    if trove26:
        print("== trove==26.0.0", flush=True)
        size = _install(scratch / "trove26", ["trove==26.0.0"],
                        offline=False)
        results["trove26"] = {"mb": size["mb"],
                              "distributions": size["distributions"],
                              "measured": True}
    return results


def _span(values, fmt):
    low, high = fmt % min(values), fmt % max(values)
    return low if low == high else "%s-%s" % (low, high)


def render(results):
    """The Markdown report."""
    t26 = results["trove26"]
    lines = [
        "# Guest footprint: one datastore per guest",
        "",
        "Measured by `bench/footprint.py` (run by Python %s): each bundle "
        "built by `trove-guest-image build --os debian-12`, installed "
        "offline into an empty virtualenv (no pip) of Debian 12's own "
        "Python 3.11.2 as `trove-guest-image verify` does; MB are 10^6 "
        "bytes of files in the virtualenv. The floor is oslo.messaging + "
        "oslo.config + stevedore + zope.interface + pbr + the driver, "
        "installed the same way (same interpreter) in the same run. "
        "trove==26.0.0: %.0f MB, %d distributions (%s)."
        % (results["python"], t26["mb"], t26["distributions"],
           "measured in this run" if t26["measured"]
           else "figures measured earlier on this machine, not re-measured"),
        "",
        "| datastore | guest MB | dists | floor MB | dists | guest/floor "
        "| guest/trove 26 | with `--secure` MB | dists | import ms guest "
        "/ floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in sorted(results["datastores"].items()):
        g, f, sec = r["guest"], r["floor"], r["guest_secure"]
        ratio = g["mb"] / f["mb"]
        lines.append(
            "| %s | %.1f | %d | %.1f | %d | **%.2fx** (%s) | %.2fx | %.1f "
            "(%.2fx) | %d | %.0f / %.0f |" % (
                name, g["mb"], g["distributions"], f["mb"],
                f["distributions"], ratio,
                "target <= %.1fx %s" % (
                    TARGET_RATIO, "met" if ratio <= TARGET_RATIO
                    else "missed"),
                g["mb"] / t26["mb"], sec["mb"], sec["mb"] / f["mb"],
                sec["distributions"], g["import_ms"], f["import_ms"]))
    lines += ["", "What a guest carries beyond the floor:", ""]
    for name, r in sorted(results["datastores"].items()):
        lines.append("- %s: %s" % (name, ", ".join(r["added_over_floor"])
                                   or "nothing"))
    secure = [r["guest_secure"]["mb"] - r["guest"]["mb"]
              for r in results["datastores"].values()]
    ratios = [r["guest"]["mb"] / r["floor"]["mb"]
              for r in results["datastores"].values()]
    added = sorted({d for r in results["datastores"].values()
                    for d in r["added_by_secure"]})
    if secure:
        lines += [
            "",
            "## Findings",
            "",
            "- A guest is %sx its floor (target <= %.1fx): trove-core adds "
            "itself and the plugin and nothing else." % (
                _span(ratios, "%.2f"), TARGET_RATIO),
            "- The one heavy thing trove-core can bring is its `[secure]` "
            "extra (%s: +%s MB, about +27%%), needed only to enable "
            "`[secure_rpc]` or backup encryption on the guest. Both are "
            "off by default and import cryptography only when enabled, so "
            "bundles carry it only with `trove-guest-image build "
            "--secure`." % (", ".join(added), _span(secure, "%.1f")),
            "- Import times, best of 7 fresh interpreters, guest and "
            "floor interleaved (after one warm-up each): guest = "
            "`trove_guest_base.service` (the `trove-guestagent` entry "
            "point), `oslo_messaging`, the plugin's manager and its driver "
            "(some managers import their driver only when first used; "
            "it is imported here so both sides load the same driver); "
            "floor = what the floor installs: "
            "`oslo_messaging`, `oslo_config`, `stevedore`, "
            "`zope.interface` and the driver (the floor of "
            "`bench/guest_startup.py`). The guest imports a superset of "
            "the floor's modules (31 to 36 more, counted in the "
            "development venv), so a guest measured below its floor is "
            "noise: on this shared machine these figures move by up to "
            "30% between runs (the Cassandra floor, the same imports in "
            "three runs on 2026-11-22: 344, 390 and 453 ms). The start-up "
            "ratio "
            "is measured with more runs, from exec to consuming, in "
            "`bench/guest_startup.py` (`runtime.md`).",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Run the benchmark and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datastore", action="append",
                        choices=sorted(DRIVERS))
    parser.add_argument("--trove26", action="store_true",
                        help="also install trove==26.0.0 (slow)")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite footprint.md from footprint.json")
    args = parser.parse_args(argv)
    names = args.datastore or sorted(DRIVERS)
    if args.render_only:
        results = json.loads((RESULTS / "footprint.json").read_text())
    else:
        with tempfile.TemporaryDirectory(prefix="trove-footprint-") as tmp:
            results = measure(names, args.trove26, pathlib.Path(tmp))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "footprint.json").write_text(
            json.dumps(results, indent=2) + "\n")
    report = render(results)
    (RESULTS / "footprint.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
