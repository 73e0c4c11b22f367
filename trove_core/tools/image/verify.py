"""Verifying a guest bundle offline, and measuring a guest's footprint.

The bundle is installed into a clean virtualenv from its wheelhouse only
(``--no-index``, every hash checked, pip configuration ignored), then
checked from inside that virtualenv: exactly one datastore plugin, no
other datastore's driver, the guest self-check passes.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from trove_core.tools.image import errors

__all__ = ["FOREIGN_DRIVERS", "create_venv", "footprint", "pip_install",
           "verify"]

#: Datastore driver modules a guest of another datastore must not carry.
FOREIGN_DRIVERS = ("pymysql", "MySQLdb", "redis", "pymongo", "cassandra",
                   "psycopg2", "psycopg")

_PROBE = r"""
import importlib.metadata as md
import importlib.util
import json
import sys
import time

name, foreign = sys.argv[1], sys.argv[2].split(",")
out = {"plugins": sorted(ep.name for ep in
                         md.entry_points(group="trove.datastores")),
       "present_drivers": [m for m in foreign
                           if importlib.util.find_spec(m) is not None]}
start = time.perf_counter()
try:
    eps = [ep for ep in md.entry_points(group="console_scripts")
           if ep.name == "trove-guestagent"]
    out["entry_point"] = eps[0].value if eps else None
    if eps:
        eps[0].load()
    from trove_core import discovery
    discovery.load_manager_class(name)
    out["import_error"] = None
except Exception as exc:
    out["import_error"] = "%s: %s" % (type(exc).__name__, exc)
out["import_ms"] = (time.perf_counter() - start) * 1000.0
print(json.dumps(out))
"""

_DISTS = r"""
import importlib.metadata as md, json
print(json.dumps(sorted({d.metadata["Name"] for d in md.distributions()})))
"""


def _clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k != "PYTHONPATH"}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def interpreter(version, full=None, bundle=""):
    """A Python of ``major.minor`` ``version`` on this machine, of the
    exact version ``full`` when there is one.

    :raises VerificationFailed: none is found.
    """
    from trove_core.tools.image import wheels

    found, _exact = wheels.find_interpreter(full or version, version)
    if found:
        return found
    raise errors.VerificationFailed(
        bundle=str(bundle), reason="it needs Python %s (the target OS's "
        "python3), which is not on this machine (python%s on PATH, "
        "/usr/bin or pyenv); verify on a machine that has it"
        % (version, version))


def create_venv(path, python=None):
    """Create an empty virtualenv (no pip: it is not part of a guest)."""
    subprocess.run([python or sys.executable, "-m", "venv", "--without-pip",
                    str(path)], check=True, capture_output=True)
    return pathlib.Path(path) / "bin" / "python"


def pip_install(venv_python, args, offline=True):
    """Install into a virtualenv with this process's pip.

    :param venv_python: the virtualenv's interpreter.
    :param args: pip ``install`` arguments.
    :param offline: ignore every pip configuration file and ``PIP_*``
        variable, so only what ``args`` names is used.
    :returns: the completed process.
    """
    argv = [sys.executable, "-m", "pip", "--python", str(venv_python)]
    if offline:
        argv.append("--isolated")
    argv += ["install", "--progress-bar", "off", "-q"] + list(args)
    return subprocess.run(argv, capture_output=True, text=True,
                          check=False, env=_clean_env() if offline
                          else None)


def _tree_bytes(root):
    total = 0
    for base, _dirs, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(base, name)).st_size
    return total


def footprint(venv):
    """The size and the distributions of an installed virtualenv.

    :param venv: the virtualenv directory.
    :returns: ``{"mb": float, "distributions": int, "names": [...]}``;
        MB are 10**6 bytes of the files in the virtualenv.
    """
    venv = pathlib.Path(venv)
    proc = subprocess.run([str(venv / "bin" / "python"), "-I", "-c",
                           _DISTS], capture_output=True, text=True,
                          check=True, cwd=str(venv))
    names = json.loads(proc.stdout)
    return {"mb": round(_tree_bytes(venv) / 1e6, 1),
            "distributions": len(names), "names": names}


def _neutral(venv_python):
    # The virtualenv itself: no source tree (with its *.egg-info) on the
    # path by accident; "-I" keeps the current directory off it too.
    return str(pathlib.Path(venv_python).parent.parent)


def _probe(venv_python, name, own):
    foreign = [m for m in FOREIGN_DRIVERS if m not in own]
    proc = subprocess.run([str(venv_python), "-I", "-c", _PROBE, name,
                           ",".join(foreign)], capture_output=True,
                          text=True, check=False, cwd=_neutral(venv_python))
    if proc.returncode != 0:
        return None, proc.stderr.strip()[-1500:]
    return json.loads(proc.stdout), None


def _selfcheck(venv_python, name):
    proc = subprocess.run([str(venv_python), "-I", "-m",
                           "trove_guest_base.selfcheck", "--datastore",
                           name], capture_output=True, text=True,
                          check=False, cwd=_neutral(venv_python))
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = {"ok": False, "problems": [
            "no JSON report (exit %d): %s" % (proc.returncode,
                                              proc.stderr.strip()[-800:])]}
    report["exit_code"] = proc.returncode
    return report


def verify(bundle, venv_dir=None, progress=None):
    """Install a bundle offline into a clean virtualenv and check it.

    :param bundle: the bundle directory.
    :param venv_dir: where to create the virtualenv (kept); default: a
        temporary directory removed afterwards.
    :param progress: a :class:`~trove_core.tools.image.build.Progress`.
    :returns: the verification report (``footprint``, ``selfcheck``,
        ``import_ms``...).
    :raises VerificationFailed: naming every check that failed.
    """
    from trove_core.tools.image.build import Progress

    progress = progress or Progress(4)
    bundle = pathlib.Path(bundle)
    try:
        manifest = json.loads((bundle / "bundle.json").read_text())
    except (OSError, ValueError) as exc:
        raise errors.VerificationFailed(
            bundle=str(bundle), reason="no readable bundle.json (%s); build"
            " it with trove-guest-image build" % exc) from None
    name = manifest["datastore"]
    python = interpreter(manifest["python"], manifest.get("python_full"),
                         bundle)
    with tempfile.TemporaryDirectory(prefix="trove-verify-") as tmp:
        venv = pathlib.Path(venv_dir) if venv_dir else pathlib.Path(tmp)
        if venv_dir and venv.exists():
            shutil.rmtree(venv)
        progress("creating a clean virtualenv (%s) in %s", python, venv)
        venv_python = create_venv(venv, python)
        progress("installing offline from wheelhouse/ with "
                 "--require-hashes")
        proc = pip_install(venv_python, [
            "--no-index", "--no-cache-dir", "--only-binary", ":all:",
            "--find-links", str(bundle / "wheelhouse"), "--require-hashes",
            "-r", str(bundle / "requirements.lock")])
        if proc.returncode != 0:
            raise errors.VerificationFailed(
                bundle=str(bundle), reason="offline install failed:\n%s"
                % proc.stderr.strip()[-2000:])
        progress("checking plugins, drivers and running the self-check")
        problems = []
        probe, error = _probe(venv_python, name,
                              manifest.get("driver_modules", ()))
        if probe is None:
            problems.append("the probe failed: %s" % error)
            probe = {}
        if probe and probe["plugins"] != [name]:
            problems.append("expected exactly the datastore plugin %r, "
                            "found %s" % (name, probe["plugins"]))
        if probe.get("present_drivers"):
            problems.append("drivers of other datastores are installed: "
                            "%s" % probe["present_drivers"])
        if probe.get("import_error"):
            problems.append("loading the guest entry point failed: %s"
                            % probe["import_error"])
        check = _selfcheck(venv_python, name)
        if not check.get("ok"):
            problems.append("the self-check failed: %s"
                            % "; ".join(check.get("problems", [])))
        progress("measuring the footprint")
        size = footprint(venv)
    report = {"bundle": str(bundle), "datastore": name,
              "os": manifest["os"], "python": manifest["python"],
              "ok": not problems, "problems": problems,
              "plugins": probe.get("plugins"),
              "entry_point": probe.get("entry_point"),
              "import_ms": round(probe.get("import_ms", 0.0), 1),
              "footprint_mb": size["mb"],
              "distributions": size["distributions"],
              "distribution_names": size["names"], "selfcheck": check}
    if problems:
        raise errors.VerificationFailed(bundle=str(bundle),
                                        reason="; ".join(problems))
    return report
