"""Benchmark: ``trove-datastores list`` with 4 plugins and with 504.

Not a test. Each scenario runs ``list -f json`` (``--format`` for
another) in fresh interpreters (``python -S`` plus an explicit site
directory, so only the plugins meant for the scenario are installed):

* ``real-4``: the four real plugins (test plugins hidden). They are
  editable installs here, so neither their descriptor data nor the
  descriptor cache is used: they are imported on every run, cold or warm;
* ``gen-500``: the same plus 500 generated tiny distributions laid out
  as pip lays out a wheel install (a package with a descriptor module and
  its descriptor data ``plugin.descriptor.json``; a ``*.dist-info`` with
  ``METADATA``, ``WHEEL``, ``INSTALLER``, ``entry_points.txt`` and a
  ``RECORD`` of sha256 hashes; no ``direct_url.json``, so not editable)
  in a temporary directory put on ``PYTHONPATH``;
* ``gen-500 no data`` (``--without-data``): the same 500 without
  descriptor data, which are imported (and then cached).

Each scenario has a private ``XDG_CACHE_HOME`` (listing index and
descriptor cache) and ``PYTHONPYCACHEPREFIX`` (bytecode). A first,
unmeasured run compiles the bytecode, as a pip install would have. Then,
``--runs`` times and interleaved across scenarios so that load from other
processes hits them alike: a ``cold`` run (index and cache deleted first:
the first listing after installing or upgrading) followed by a ``warm``
run (as the cold run left them). Reported per scenario and state: process
wall time (median and minimum), the process's CPU time (user + system;
steadier than wall time on a busy machine), the CPU time spent inside
``main()``, the number of modules imported, and how many of them are
generated plugins' modules. ``--compare-core GITREF`` adds the large
scenario with ``trove_core`` as of another commit.

Usage::

    .venv/bin/python bench/list_plugins.py [--runs 7] [--plugins 500]
        [--without-data] [--compare-core GITREF] [--format table]
"""

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]

PROBE = """
import time
t0 = time.perf_counter()
c0 = time.process_time()
import io, json, site, sys
site.addsitedir(sys.argv[1])
from trove_core.tools import cli
out = io.StringIO()
code = cli.main(["list", "-f", sys.argv[2]], stream=out)
t1 = time.perf_counter()
c1 = time.process_time()
figures = {"code": code, "core": cli.__file__, "main_s": t1 - t0,
           "main_cpu_s": c1 - c0, "modules": len(sys.modules),
           "gen_modules": sum(1 for m in sys.modules
                              if m.startswith("trove_ds_gen"))}
text = out.getvalue()
if sys.argv[2] == "json":
    health = [d["health"] for d in json.loads(text)]
elif sys.argv[2] == "csv":
    import csv
    health = [row[6] for row in list(csv.reader(io.StringIO(text)))[1:]]
else:  # a table: rows after the '+===' rule whose name cell is set
    body = text.split("=+\\n", 1)[1].splitlines()
    health = [line.split(" | ")[6].strip() for line in body
              if line.startswith("| ") and line[2:].split(" | ")[0].strip()]
figures.update(plugins=len(health),
               ok=sum(1 for h in health if h == "ok"))
json.dump(figures, sys.stdout)
"""

DESCRIPTOR = '''from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name=%(name)r, tier="experimental", summary="generated plugin",
    capabilities=frozenset({"lifecycle", "databases", "users"}),
    engine_versions=("1.0",),
    strategies=(Strategy("%(name)s-dump", "backup", "experimental"),),
    image=ImageSpec(supported_os=(OSSupport("debian-12", ("pkg",)),)),
    driver_modules=("%(name)s_driver",),
)
'''

ENTRY_POINTS = """[trove.datastores]
%(name)s = trove_ds_%(name)s.plugin:DESCRIPTOR

[trove.guestagent.managers]
%(name)s = trove_ds_%(name)s.manager:Manager

[oslo.config.opts]
trove.datastore.%(name)s.server = trove_ds_%(name)s.options:list_server_opts
trove.datastore.%(name)s.guest = trove_ds_%(name)s.options:list_guest_opts
"""


def _data(name):
    """The descriptor data file a plugin's build writes (the same text
    ``python -m trove_core.descriptordata`` would)."""
    from trove_core import descriptordata

    namespace = {}
    exec(DESCRIPTOR % {"name": name}, namespace)  # noqa: S102 - our text
    return descriptordata.dumps("trove_ds_%s.plugin" % name,
                                {"DESCRIPTOR": namespace["DESCRIPTOR"]})


def generate(root, count, data=True):
    """Write ``count`` tiny plugin distributions under ``root``, laid out
    as pip installs a wheel (not editable), each shipping its descriptor
    data unless ``data`` is false."""
    from trove_core.tools.image import wheels

    for i in range(count):
        name = "gen%03d" % i
        package = "trove_ds_%s" % name
        info = "%s-1.0.0.dist-info" % package
        files = {
            package + "/__init__.py": "",
            package + "/plugin.py": DESCRIPTOR % {"name": name},
            info + "/METADATA": "Metadata-Version: 2.1\nName: trove-ds-%s"
                                "\nVersion: 1.0.0\nSummary: generated\n"
                                % name,
            info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\n"
                             "Root-Is-Purelib: true\nTag: py3-none-any\n",
            info + "/INSTALLER": "pip\n",
            info + "/entry_points.txt": ENTRY_POINTS % {"name": name},
        }
        if data:
            files[package + "/plugin.descriptor.json"] = _data(name)
        record = []
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(exist_ok=True)
            raw = text.encode()
            target.write_bytes(raw)
            record.append(wheels.record_line(path, raw))
        record.append(info + "/RECORD,,")
        (root / info / "RECORD").write_text("\n".join(record) + "\n")


def real_site(root):
    """A site dir of symlinks to site-packages minus test and fake plugins."""
    site = pathlib.Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if "trove_test_plugins" in entry.name or "trove_ds_fake" in entry.name:
            continue
        (root / entry.name).symlink_to(entry)


def run(site_dir, pythonpath, cache, evidence, core=REPO, cold=False,
        fmt="json"):
    """One fresh interpreter running ``list``; returns its figures.

    :param cold: delete the descriptor cache first.
    :param fmt: the output format (``-f``).
    """
    if cold:
        shutil.rmtree(cache / "trove-core", ignore_errors=True)
    # bytecode is cached (as after a pip install) in a private prefix, so
    # runs of both scenarios read .pyc files and the repo stays clean
    env = dict(os.environ, XDG_CACHE_HOME=str(cache),
               TROVE_EVIDENCE_DIR=str(evidence),
               PYTHONPYCACHEPREFIX=str(cache / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("TROVE_PLUGIN_CACHE", None)
    paths = [str(core)] + ([str(pythonpath)] if pythonpath else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # a neutral working directory: ``-c`` puts it first on sys.path, and
    # the repository's own trove_core would shadow --compare-core's
    proc = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, str(site_dir), fmt],
        capture_output=True, text=True, env=env, timeout=600, check=False,
        cwd=str(cache.parent))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit("list failed:\n%s" % proc.stderr)
    figures = json.loads(proc.stdout)
    if not figures["core"].startswith(str(core) + os.sep):
        raise SystemExit("ran trove_core from %s, not from %s"
                         % (figures["core"], core))
    figures["wall_s"] = wall
    figures["cpu_s"] = (after.ru_utime - before.ru_utime
                        + after.ru_stime - before.ru_stime)
    return figures


def summarize(name, state, runs):
    """Figures of one scenario in one state (cold or warm)."""
    return {
        "scenario": name, "state": state, "plugins": runs[0]["plugins"],
        "ok": runs[0]["ok"],
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "wall_min_s": min(r["wall_s"] for r in runs),
        "main_s": statistics.median(r["main_s"] for r in runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "main_cpu_s": statistics.median(r["main_cpu_s"] for r in runs),
        "modules": runs[0]["modules"],
        "gen_modules": max(r["gen_modules"] for r in runs),
    }


def scenarios(specs, runs, tmp, fmt="json"):
    """Compile each scenario's bytecode once, then run it cold and warm
    ``runs`` times, interleaved so that load from other processes hits
    every scenario and state alike."""
    evidence = tmp / "evidence"
    first = {}
    for name, site_dir, pythonpath, core in specs:
        first[name] = run(site_dir, pythonpath, tmp / ("cache-" + name),
                          evidence, core, cold=True, fmt=fmt)
    results = {(spec[0], state): [] for spec in specs
               for state in ("cold", "warm")}
    for _ in range(runs):
        for name, site_dir, pythonpath, core in specs:
            for state in ("cold", "warm"):
                results[name, state].append(run(
                    site_dir, pythonpath, tmp / ("cache-" + name),
                    evidence, core, cold=state == "cold", fmt=fmt))
    rows = [summarize(spec[0], state, results[spec[0], state])
            for state in ("cold", "warm") for spec in specs]
    return rows, first


def export_core(ref, tmp):
    """Extract ``trove_core`` as of git ``ref`` into a directory."""
    target = tmp / ("core-" + ref)
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "trove_core"],
        capture_output=True, check=True, timeout=60).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive,
                   check=True, timeout=60)
    return target


def main(argv=None):
    """Run both scenarios and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--plugins", type=int, default=500)
    parser.add_argument(
        "--without-data", action="store_true",
        help="also run the large scenario with plugins that ship no "
             "descriptor data (imported, then cached)")
    parser.add_argument(
        "--compare-core", metavar="GITREF",
        help="also run the large scenario with trove_core as of GITREF")
    parser.add_argument(
        "--format", default="json", choices=("json", "table", "csv"),
        help="the listing's output format (-f); the command's own default "
             "is table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trove-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        site_dir = tmp / "site"
        site_dir.mkdir()
        real_site(site_dir)
        gen = tmp / "gen"
        gen.mkdir()
        generate(gen, args.plugins)
        big = "gen-%d" % args.plugins
        specs = [("real-4", site_dir, None, REPO),
                 (big, site_dir, gen, REPO)]
        if args.without_data:
            bare = tmp / "gen-bare"
            bare.mkdir()
            generate(bare, args.plugins, data=False)
            specs.append((big + " no data", site_dir, bare, REPO))
        if args.compare_core:
            specs.append(("%s @%s" % (big, args.compare_core), site_dir,
                          gen, export_core(args.compare_core, tmp)))
        rows, first = scenarios(specs, args.runs, tmp, args.format)
    print("| scenario | state | plugins listed (ok) | wall s (median of "
          "%d) | wall min s | process CPU s (median) | CPU in main() s "
          "| modules imported | generated plugin modules imported |"
          % args.runs)
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %s | %d (%d) | %.3f | %.3f | %.3f | %.3f | %d | %d |"
              % (r["scenario"], r["state"], r["plugins"], r["ok"],
                 r["wall_s"], r["wall_min_s"], r["cpu_s"], r["main_cpu_s"],
                 r["modules"], r["gen_modules"]))
    print()
    print("first run (compiles bytecode, cache empty): " + ", ".join(
        "%s %.3f s" % (name, f["wall_s"]) for name, f in first.items()))
    print()
    for state in ("cold", "warm"):
        group = [r for r in rows if r["state"] == state]
        base = group[0]
        for big in group[1:]:
            print("ratio %s %s / %s %s: process CPU %.2fx, wall %.2fx "
                  "(min %.2fx), CPU in main() %.2fx, modules %.2fx" % (
                      big["scenario"], state, base["scenario"], state,
                      big["cpu_s"] / base["cpu_s"],
                      big["wall_s"] / base["wall_s"],
                      big["wall_min_s"] / base["wall_min_s"],
                      big["main_cpu_s"] / base["main_cpu_s"],
                      big["modules"] / base["modules"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
