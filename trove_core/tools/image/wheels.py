"""The wheelhouse of a guest bundle and its hash-pinned lock file.

trove-core and the plugins are pbr projects. A wheel is built from a
*copy* of the project's git-tracked files (working-tree content) made the
root of a fresh git repository: pbr then lists the package data from git
(a plugin inside a larger repository would otherwise lose its
``elements/``), no stale ``build/`` or ``*.egg-info`` of the source tree
leaks in, and the version is the one pbr computes in the real tree (or
``PBR_VERSION`` when set). A plugin's descriptor data
(``plugin.descriptor.json``, what listing reads instead of importing the
plugin) is written in that copy from the plugin's descriptor before the
build, so a wheel built here never carries stale data.
"""

import base64
import configparser
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

from trove_core import descriptordata
from trove_core.tools.image import errors

__all__ = ["build_project_wheel", "build_wheelhouse", "can_build_here",
           "find_interpreter", "find_source", "lock_lines",
           "record_line", "repack_installed", "wheel_files",
           "write_descriptor_data", "write_lock"]

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


def _descriptor_targets(setup_cfg):
    """The ``module:attr`` of each ``trove.datastores`` entry point a pbr
    ``setup.cfg`` declares."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(setup_cfg, encoding="utf-8")
    raw = parser.get("entry_points", "trove.datastores", fallback="")
    targets = []
    for line in raw.splitlines():
        _name, sep, target = line.partition("=")
        if sep and target.strip():
            targets.append(target.strip())
    return targets


def write_descriptor_data(copy, datastore="", source=None):
    """Write the descriptor data of the plugin in ``copy`` (a copy of
    its source tree about to be built), so that the wheel carries data
    written from its ``plugin.py`` by this build, whatever the committed
    file says.

    The descriptor is imported from the copy by this interpreter (which
    has trove-core). A source tree whose committed data was stale is
    named in a warning: the wheel is right, the repository is not.

    :param copy: the project directory (``setup.cfg`` inside).
    :param datastore: the datastore being built, for messages.
    :param source: the source tree ``copy`` was made from, for messages.
    :returns: ``{target: "wrote" | "unchanged"}``; empty for a project
        that registers no datastore (trove-core itself).
    :raises ImageBuildError: a descriptor cannot be imported or is not
        one, or its module was found outside ``copy``.
    """
    copy = pathlib.Path(copy).resolve()
    targets = _descriptor_targets(copy / "setup.cfg")
    if not targets:
        return {}
    env = dict(os.environ)
    env.pop("PYTHONSAFEPATH", None)  # -m must put the copy first
    out = _run([sys.executable, "-m", "trove_core.descriptordata",
                *targets],
               "writing the descriptor data of %s (python -m "
               "trove_core.descriptordata %s)" % (copy.name,
                                                   " ".join(targets)),
               datastore, cwd=copy, env=env)
    done = {}
    for target, line in zip(targets, out.strip().splitlines(),
                            strict=True):
        state, _sep, path = line.partition(" ")
        if not pathlib.Path(path).resolve().is_relative_to(copy):
            raise errors.ImageBuildError(
                datastore=datastore, reason="%s was imported from %s, not "
                "from the source being built (%s); is it installed "
                "under another name?" % (target, path, copy))
        if state == "wrote":
            LOG.warning("%s: the descriptor data committed in %s is "
                        "missing or stale; the wheel carries data written "
                        "from %s, but fix the source too: %s", datastore or
                        copy.name, source or copy, target,
                        descriptordata.regenerate_command(target))
        done[target] = state
    return done


def build_project_wheel(source, dest, datastore="", python=None):
    """Build the wheel of a pbr project from its source tree.

    :param source: the project directory (``setup.cfg`` inside).
    :param dest: the directory the wheel is written to.
    :param datastore: the datastore being built, for messages.
    :param python: the interpreter that runs pip (default: this one).
    :returns: the wheel's :class:`pathlib.Path`.
    :raises ImageBuildError: outside git without ``PBR_VERSION``, a
        descriptor could not be imported (:func:`write_descriptor_data`),
        or the build failed.
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
        write_descriptor_data(copy, datastore, source)
        git = ["git", "-C", str(copy), "-c", "commit.gpgsign=false",
               "-c", "core.hooksPath=/dev/null"]
        _run(git[:3] + ["init", "-q"], "git init", datastore, env=env)
        _run(git + ["add", "-A"], "git add", datastore, env=env)
        _run(git + ["commit", "-q", "-m", "export"], "git commit",
             datastore, env=env)
        out = pathlib.Path(tmp) / "out"
        local = python is None and can_build_here()
        isolation = ["--no-build-isolation"] if local else []
        try:
            _run([python or sys.executable, "-m", "pip", "wheel",
                  "--no-deps", "--progress-bar", "off", "-q", "-w",
                  str(out)] + isolation + [str(copy)],
                 "building the wheel of %s" % source, datastore, env=env)
        except errors.ImageBuildError as exc:
            if local:
                raise
            raise errors.ImageBuildError(
                datastore=datastore, reason="%s\n%s" % (
                    exc.kwargs["reason"], needs_build_tools())) from exc
        built = sorted(out.glob("*.whl"))
        if len(built) != 1:
            raise errors.ImageBuildError(
                datastore=datastore, reason="building %s gave %d wheels"
                % (source, len(built)))
        final = dest / built[0].name
        shutil.copy2(built[0], final)
    return final


def needs_build_tools():
    """What building a pbr wheel needs, and how to get it (a message)."""
    pip = pathlib.Path(sys.prefix) / "bin" / "pip"
    return (
        "Building a wheel of a pbr project needs pbr and setuptools with "
        "the bdist_wheel command (setuptools >= 70.1, or the 'wheel' "
        "package) in this environment, or pip's build isolation fetching "
        "them from a package index, which failed. Either run '%s install "
        "\"setuptools>=70.1\"' (or '%s install wheel'), or let pip reach "
        "a package index, or pass ready wheels with --wheel PATH." % (pip,
                                                                     pip))


_NOT_PACKED = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _record_digest(digest):
    return "sha256=" + base64.urlsafe_b64encode(
        digest.digest()).rstrip(b"=").decode()


def _record_hash(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return _record_digest(digest)


def record_line(arcname, data):
    """The ``RECORD`` line of a wheel member (PEP 376/427: path, urlsafe
    base64 sha256 without padding, size).

    :param arcname: the member's path in the wheel.
    :param data: its bytes.
    """
    return "%s,%s,%d" % (arcname, _record_digest(hashlib.sha256(data)),
                         len(data))


def repack_installed(distribution, dest, datastore=""):
    """Rebuild the wheel of an installed pure-Python distribution.

    For an installation made from wheels there is no source tree to
    build from; the installed files are the wheel's content. Every file
    the distribution's ``RECORD`` lists inside ``site-packages`` is
    checked against its recorded sha256 (a modified installation is
    refused) and packed with its mode (hooks stay executable); console
    scripts are left out (the entry points recreate them) and so are the
    installer's own files (``RECORD``, ``INSTALLER``, ``REQUESTED``,
    ``direct_url.json``).

    :param distribution: the distribution name, e.g. ``trove-ds-redis``.
    :param dest: the directory the wheel is written to.
    :param datastore: the datastore being built, for messages.
    :returns: the wheel's :class:`pathlib.Path`.
    :raises ImageBuildError: not installed, not pure Python, no
        ``RECORD``, or an installed file differs from its record.
    """
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise errors.ImageBuildError(
            datastore=datastore, reason="%s is not installed; pip install "
            "it or pass --wheel PATH" % distribution) from None
    record = [f for f in dist.files or ()
              if f.name == "RECORD" and f.parent.name.endswith(".dist-info")]
    wheel_meta = dist.read_text("WHEEL") or ""
    meta_dir = (pathlib.Path(dist.locate_file(record[0])).resolve().parent
                if record else None)
    editable = '"editable": true' in (dist.read_text("direct_url.json")
                                      or "")
    if "Root-Is-Purelib: true" not in wheel_meta or meta_dir is None \
            or editable:
        raise errors.ImageBuildError(
            datastore=datastore, reason="the installation of %s (%s) "
            "cannot be repacked into a wheel (not a pure-Python wheel "
            "install with a RECORD); pass --source %s=DIR or --wheel PATH"
            % (distribution, meta_dir, distribution))
    root = meta_dir.parent.resolve()
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    version = dist.version
    dist_info = "%s-%s.dist-info" % (name, version)
    members, changed = [], []
    for entry in dist.files:
        path = pathlib.Path(dist.locate_file(entry)).resolve()
        if not path.is_relative_to(root) or "__pycache__" in entry.parts:
            continue
        rel = path.relative_to(root)
        if rel.parts[0] == meta_dir.name:
            if rel.name in _NOT_PACKED:
                continue
            arcname = "%s/%s" % (dist_info, "/".join(rel.parts[1:]))
        else:
            arcname = rel.as_posix()
        if entry.hash is None or not path.is_file():
            if not path.is_file():
                changed.append(str(rel))
            continue
        if _record_hash(path) != "%s=%s" % (entry.hash.mode,
                                            entry.hash.value):
            changed.append(str(rel))
            continue
        members.append((arcname, path))
    for extra in ("WHEEL", "METADATA"):
        if not any(a == "%s/%s" % (dist_info, extra) for a, _ in members):
            members.append(("%s/%s" % (dist_info, extra),
                            meta_dir / extra))
    if changed:
        raise errors.ImageBuildError(
            datastore=datastore, reason="the installed files %s of %s "
            "differ from its RECORD (modified after installation); "
            "reinstall it (pip install --force-reinstall) or pass --wheel "
            "PATH" % (sorted(changed)[:5], distribution))
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / ("%s-%s-py3-none-any.whl" % (name, version))
    records = []
    with zipfile.ZipFile(final, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, path in sorted(members):
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) \
                << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            archive.writestr(info, data)
            records.append(record_line(arcname, data))
        records.append("%s/RECORD,," % dist_info)
        info = zipfile.ZipInfo("%s/RECORD" % dist_info,
                               date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o100644 << 16
        archive.writestr(info, "\n".join(records) + "\n")
    return final


def _release(version):
    parts = []
    for part in version.split(".")[:3]:
        digits = re.match(r"\d+", part)
        parts.append(int(digits.group()) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def can_build_here():
    """Whether this environment builds pbr wheels without isolation.

    pip's ``--no-build-isolation`` uses the environment's own pbr and
    setuptools; setuptools has ``bdist_wheel`` from 70.1 on, before that
    only with the ``wheel`` package. A venv made by ``python3 -m venv``
    has setuptools 65 and no ``wheel``: there pip must isolate the build
    (and fetch pbr and setuptools from an index).
    """
    try:
        importlib.metadata.distribution("pbr")
        setuptools = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    if _release(setuptools) >= (70, 1, 0):
        return True
    try:
        importlib.metadata.distribution("wheel")
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
    :param target_os: the :class:`~trove_core.tools.image.target.TargetOS`.
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
