"""The wheelhouse of a guest bundle and its hash-pinned lock file.

trove-core and the plugins are pbr projects. A wheel is built from a
*copy* of the project's git-tracked files (working-tree content) made the
root of a fresh git repository: pbr then lists the package data from git
(a plugin inside a larger repository would otherwise lose its
``elements/``), no stale ``build/`` or ``*.egg-info`` of the source tree
leaks in, and the version is the one pbr computes in the real tree (or
``PBR_VERSION`` when set).
"""

import hashlib
import importlib.metadata
import json
import logging
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile

from trove_core.image import errors

__all__ = ["build_project_wheel", "build_wheelhouse", "find_interpreter",
           "find_source", "lock_lines", "wheel_files", "write_lock"]

LOG = logging.getLogger(__name__)

_SKIP_DIRS = {".git", ".tox", ".venv", "build", "dist", "__pycache__",
              ".pytest_cache", ".ruff_cache"}
_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.*\.whl$")
_GIT_ENV = {"GIT_AUTHOR_NAME": "trove-guest-image",
            "GIT_AUTHOR_EMAIL": "trove-guest-image@localhost",
            "GIT_COMMITTER_NAME": "trove-guest-image",
            "GIT_COMMITTER_EMAIL": "trove-guest-image@localhost"}


def _run(argv, what, datastore, cwd=None, env=None):
    LOG.debug("running %s", argv)
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip()
                         .splitlines()[-15:])
        raise errors.ImageBuildError(
            datastore=datastore, reason="%s failed (exit %d):\n%s"
            % (what, proc.returncode, tail))
    return proc.stdout


def find_source(distribution):
    """The source directory of an installed distribution, if it has one.

    Editable installs and installs from a local directory record it in
    ``direct_url.json`` (PEP 610).

    :returns: a :class:`pathlib.Path` or ``None``.
    """
    try:
        raw = importlib.metadata.distribution(distribution).read_text(
            "direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    if not raw:
        return None
    url = json.loads(raw).get("url", "")
    if not url.startswith("file://"):
        return None
    path = pathlib.Path(urllib.request.url2pathname(
        urllib.parse.urlparse(url).path))
    if (path / "setup.cfg").is_file() or (path / "pyproject.toml").is_file():
        return path
    return None


def _tracked_files(source):
    inside = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "--is-inside-work-tree"],
        capture_output=True, text=True, check=False)
    if inside.returncode == 0 and inside.stdout.strip() == "true":
        out = subprocess.run(["git", "-C", str(source), "ls-files", "-z"],
                             capture_output=True, text=True, check=True)
        return [p for p in out.stdout.split("\0")
                if p and (source / p).is_file()], True
    found = []
    for root, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS
                   and not d.endswith(".egg-info")]
        rel = pathlib.Path(root).relative_to(source)
        found.extend(str(rel / f) for f in files if not f.endswith(".pyc"))
    return found, False


def _pbr_version(source, datastore):
    if os.environ.get("PBR_VERSION"):
        return os.environ["PBR_VERSION"]
    out = _run([sys.executable, "setup.py", "-q", "--version"],
               "computing the version of %s with pbr" % source, datastore,
               cwd=source)
    return out.strip().splitlines()[-1].strip()


def build_project_wheel(source, dest, datastore="", python=None):
    """Build the wheel of a pbr project from its source tree.

    :param source: the project directory (``setup.cfg`` inside).
    :param dest: the directory the wheel is written to.
    :param datastore: the datastore being built, for messages.
    :param python: the interpreter that runs pip (default: this one).
    :returns: the wheel's :class:`pathlib.Path`.
    :raises ImageBuildError: outside git without ``PBR_VERSION``, or the
        build failed.
    """
    source = pathlib.Path(source).resolve()
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    files, in_git = _tracked_files(source)
    if not in_git and not os.environ.get("PBR_VERSION"):
        raise errors.ImageBuildError(
            datastore=datastore, reason="%s is not a git checkout, so pbr "
            "cannot compute its version; set PBR_VERSION (for example "
            "PBR_VERSION=1.0.0)" % source)
    version = _pbr_version(source, datastore)
    env = dict(os.environ, PBR_VERSION=version, **_GIT_ENV)
    with tempfile.TemporaryDirectory(prefix="trove-wheel-") as tmp:
        copy = pathlib.Path(tmp) / source.name
        for rel in files:
            target = copy / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, target)
        git = ["git", "-C", str(copy), "-c", "commit.gpgsign=false",
               "-c", "core.hooksPath=/dev/null"]
        _run(git[:3] + ["init", "-q"], "git init", datastore, env=env)
        _run(git + ["add", "-A"], "git add", datastore, env=env)
        _run(git + ["commit", "-q", "-m", "export"], "git commit",
             datastore, env=env)
        out = pathlib.Path(tmp) / "out"
        isolation = ["--no-build-isolation"] if _has_pbr() else []
        _run([python or sys.executable, "-m", "pip", "wheel", "--no-deps",
              "--progress-bar", "off", "-q", "-w", str(out)] + isolation
             + [str(copy)],
             "building the wheel of %s" % source, datastore, env=env)
        built = sorted(out.glob("*.whl"))
        if len(built) != 1:
            raise errors.ImageBuildError(
                datastore=datastore, reason="building %s gave %d wheels"
                % (source, len(built)))
        final = dest / built[0].name
        shutil.copy2(built[0], final)
    return final


def _has_pbr():
    try:
        importlib.metadata.distribution("pbr")
        importlib.metadata.distribution("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _version_of(python):
    proc = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def find_interpreter(full, minor):
    """A local Python for a target OS: its exact version if possible.

    :param full: the target's exact version, e.g. ``3.11.2``.
    :param minor: its ``major.minor``.
    :returns: ``(path, version)`` or ``(None, None)``.
    """
    candidates = [sys.executable, "/usr/bin/python%s" % minor,
                  "/usr/bin/python3", shutil.which("python%s" % minor),
                  shutil.which("python3")]
    pyenv = pathlib.Path(os.environ.get("PYENV_ROOT",
                                        os.path.expanduser("~/.pyenv")))
    candidates += [str(p) for p in sorted(
        pyenv.glob("versions/%s*/bin/python%s" % (minor, minor)))]
    seen, same_minor = set(), None
    for path in candidates:
        if not path or path in seen or not os.access(path, os.X_OK):
            continue
        seen.add(path)
        version = _version_of(path)
        if version == full:
            return path, version
        if version and version.rsplit(".", 1)[0] == minor and \
                same_minor is None:
            same_minor = (path, version)
    return same_minor or (None, None)


def build_wheelhouse(requirements, wheelhouse, target_os, datastore,
                     find_links=()):
    """Fill ``wheelhouse`` with ``requirements`` and all their dependencies.

    ``pip --python <interpreter> wheel`` resolves them with a local
    interpreter of the target's Python version (its exact version when
    there is one): dependencies' environment markers are evaluated by the
    interpreter that resolves them (``pip download --python-version``
    does not apply the version to markers: ``redis`` on Python 3.10
    silently loses ``async-timeout``), and source-only dependencies
    become wheels.

    :param requirements: pip requirement strings (local wheel paths with
        extras, e.g. ``/tmp/x.whl[guest]``).
    :param wheelhouse: the output directory.
    :param target_os: the :class:`~trove_core.image.target.TargetOS`.
    :param datastore: for messages.
    :param find_links: extra local wheel directories pip may use.
    :returns: ``(wheel paths sorted, the Python version resolved for)``.
    :raises ImageBuildError: no interpreter of the target's Python
        version is found, or pip failed.
    """
    wheelhouse = pathlib.Path(wheelhouse)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    links = []
    for link in find_links:
        links += ["--find-links", str(link)]
    python, version = find_interpreter(target_os.python_full,
                                       target_os.python)
    if python is None:
        raise errors.ImageBuildError(
            datastore=datastore, reason="building for %s needs its Python "
            "%s on this machine (python%s on PATH, /usr/bin or pyenv): "
            "dependencies are resolved by the interpreter they will run "
            "on; install it or build on %s" % (
                target_os.id, target_os.python, target_os.python,
                target_os.id))
    argv = [sys.executable, "-m", "pip", "--python", python, "wheel",
            "--progress-bar", "off", "-q", "-w", str(wheelhouse)] + links
    _run(argv + list(requirements), "collecting the wheelhouse",
         datastore)
    found = wheel_files(wheelhouse)
    stray = [p.name for p in wheelhouse.iterdir()
             if p.is_file() and p.suffix != ".whl"]
    if stray:
        raise errors.ImageBuildError(
            datastore=datastore, reason="the wheelhouse holds non-wheel "
            "files %s; every dependency must be a wheel" % sorted(stray))
    too_new = incompatible(found, target_os.glibc)
    if too_new:
        raise errors.ImageBuildError(
            datastore=datastore, reason="wheels %s need a newer C library "
            "than %s's glibc %d.%d; build on %s or pin older releases"
            % (too_new, target_os.id, target_os.glibc[0],
               target_os.glibc[1], target_os.id))
    return found, version


_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_")
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12),
           "manylinux2014": (2, 17)}


def glibc_needed(wheel):
    """The C library a wheel needs: ``(2, N)``, ``None`` for pure
    wheels, ``"local"`` for a wheel built here (``linux_*``)."""
    platforms = pathlib.Path(wheel).name[:-4].split("-")[-1].split(".")
    if platforms == ["any"]:
        return None
    needs = []
    for tag in platforms:
        match = _MANYLINUX.match(tag)
        if match:
            needs.append((int(match.group(1)), int(match.group(2))))
        elif tag.split("_", 1)[0] in _LEGACY:
            needs.append(_LEGACY[tag.split("_", 1)[0]])
        elif tag.startswith("linux_"):
            return "local"
    return min(needs) if needs else None


def incompatible(wheels, glibc):
    """The wheels that need a newer C library than ``glibc``."""
    return [pathlib.Path(w).name for w in wheels
            if isinstance(glibc_needed(w), tuple)
            and glibc_needed(w) > tuple(glibc)]


def wheel_files(wheelhouse):
    """The wheels in a directory, sorted by name."""
    return sorted(pathlib.Path(wheelhouse).glob("*.whl"))


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def project_of(wheel):
    """``(normalized name, version)`` from a wheel's file name."""
    match = _WHEEL_NAME.match(pathlib.Path(wheel).name)
    if not match:
        raise ValueError("not a wheel file name: %s" % wheel)
    name = re.sub(r"[-_.]+", "-", match.group("name")).lower()
    return name, match.group("version")


def lock_lines(wheels, extras=None):
    """The lock file's lines: one pinned, hashed requirement per project.

    :param wheels: wheel paths.
    :param extras: ``{project: "guest"}`` extras to spell on a project.
    :returns: a list of lines in pip's ``--require-hashes`` format.
    """
    extras = extras or {}
    by_project = {}
    for wheel in wheels:
        by_project.setdefault(project_of(wheel), []).append(wheel)
    lines = []
    for (name, version), paths in sorted(by_project.items()):
        spec = name + ("[%s]" % extras[name] if name in extras else "")
        lines.append("%s==%s \\" % (spec, version))
        hashes = sorted("--hash=sha256:%s" % _sha256(p) for p in paths)
        for i, hashed in enumerate(hashes):
            tail = " \\" if i < len(hashes) - 1 else ""
            lines.append("    %s%s" % (hashed, tail))
    return lines


def write_lock(path, wheels, header, extras=None):
    """Write the hash-pinned lock file for ``wheels``.

    :returns: the number of projects pinned.
    """
    lines = ["# %s" % line for line in header] + lock_lines(wheels, extras)
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return len({project_of(w) for w in wheels})


def wheel_has(wheel, prefix):
    """The members of ``wheel`` under ``prefix`` (a ``/`` path)."""
    with zipfile.ZipFile(wheel) as archive:
        return sorted(n for n in archive.namelist()
                      if n.startswith(prefix) and not n.endswith("/"))
