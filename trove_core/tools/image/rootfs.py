"""A real root filesystem from a bundle, and a smoke test of it.

``build_rootfs`` runs ``debootstrap`` (minbase) for the bundle's OS, then
the bundle's own ``run-hooks.sh`` inside the tree with ``chroot``: the
plugin's hooks, the OS packages, the virtualenv from the wheelhouse, the
systemd unit, the self-check. ``smoke_test`` starts the guest agent inside
the tree (the network is the host's), prepares it over RabbitMQ with the
real client so that the agent starts the datastore, and checks that the
datastore reports running (or healthy). Both need root.
"""

import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

from trove_core.tools.image import errors
from trove_core.tools.image import render

__all__ = ["MIRRORS", "build_rootfs", "host_mirror", "image_record",
           "smoke_test"]

#: Seconds debootstrap may take (downloads included).
_TIMEOUT = 1800
#: Default package mirrors by distribution.
MIRRORS = {"debian": "http://deb.debian.org/debian",
           "ubuntu": "http://archive.ubuntu.com/ubuntu"}
_CODENAMES = {"debian-12": "bookworm", "debian-13": "trixie",
              "ubuntu-22.04": "jammy", "ubuntu-24.04": "noble"}
_CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
               "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
_POLICY_RC = "#!/bin/sh\n# No service starts while the image is built.\n" \
             "exit 101\n"


def host_mirror(distro, apt_dir="/etc/apt"):
    """The package mirror this machine's APT uses for ``distro``.

    Read from ``sources.list`` and ``sources.list.d/*.list`` (one-line
    format) and ``*.sources`` (deb822), skipping security suites; only
    when this machine runs ``distro`` (``/etc/os-release`` ``ID``).

    :returns: the mirror URL or ``None``.
    """
    try:
        release = pathlib.Path("/etc/os-release").read_text()
    except OSError:
        return None
    if "\nID=%s\n" % distro not in "\n" + release:
        return None
    apt = pathlib.Path(apt_dir)
    files = [apt / "sources.list"] + sorted(
        (apt / "sources.list.d").glob("*.list")) + sorted(
        (apt / "sources.list.d").glob("*.sources"))
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = dict(line.split(":", 1) for line in
                              stanza.splitlines() if ":" in line
                              and not line.startswith(("#", " ")))
                uris = fields.get("URIs", "").split()
                suites = fields.get("Suites", "").split()
                if uris and "deb" in fields.get("Types", "").split() and \
                        not all(s.endswith("-security") for s in suites):
                    return uris[0]
        else:
            for line in text.splitlines():
                words = line.split("#", 1)[0].split()
                if not words or words[0] != "deb":
                    continue
                line = " ".join(words[1:])
                if line.startswith("["):
                    line = line.partition("]")[2]
                rest = line.split()
                if len(rest) >= 2 and not rest[1].endswith("-security"):
                    return rest[0]
    return None


def _fail(manifest, reason):
    return errors.ImageBuildError(datastore=manifest.get("datastore", ""),
                                  reason=reason)


def _preflight(manifest):
    if os.geteuid() != 0:
        raise _fail(manifest, "--rootfs needs root (debootstrap, chroot, "
                    "mount); run it as root or build the Containerfile")
    for tool in ("debootstrap", "chroot", "mount"):
        if shutil.which(tool) is None:
            raise _fail(manifest, "--rootfs needs %s; install it with "
                        "apt-get install %s" % (tool, tool))


@contextlib.contextmanager
def _mounted(root, binds=()):
    mounts = [(["mount", "-t", "proc", "proc", str(root / "proc")],
               root / "proc"),
              (["mount", "--bind", "/dev", str(root / "dev")],
               root / "dev"),
              (["mount", "-t", "sysfs", "sysfs", str(root / "sys")],
               root / "sys")]
    mounts += [(["mount", "--bind", str(source), str(point)], point)
               for source, point in binds]
    done = []
    try:
        for argv, point in mounts:
            point.mkdir(parents=True, exist_ok=True)
            subprocess.run(argv, check=True, timeout=60)
            done.append(point)
        yield
    finally:
        for point in reversed(done):
            subprocess.run(["umount", "-l", str(point)], check=False,
                           timeout=60)


def _chroot(root, argv, log):
    log.flush()
    proc = subprocess.run(["chroot", str(root)] + argv, env=_CHROOT_ENV,
                          stdout=log, stderr=subprocess.STDOUT, check=False,
                          timeout=_TIMEOUT)
    return proc.returncode


_INCLUDE = "ca-certificates,systemd"


def _base_tarball(cache_dir, codename, mirror, log, manifest):
    """The debootstrap package tarball of ``codename`` in ``cache_dir``,
    downloaded once (``--make-tarball``) and reused."""
    import hashlib

    cache_dir = pathlib.Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(("%s %s %s" % (codename, mirror, _INCLUDE))
                         .encode()).hexdigest()[:12]
    tarball = cache_dir / ("debootstrap-%s-minbase-%s.tgz" % (codename,
                                                              key))
    if tarball.is_file():
        return tarball
    with tempfile.TemporaryDirectory(prefix="trove-debootstrap-",
                                     dir=cache_dir) as tmp:
        partial = pathlib.Path(tmp) / tarball.name
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=" + _INCLUDE,
             "--make-tarball=%s" % partial, codename,
             str(pathlib.Path(tmp) / "work"), mirror], stdout=log,
            stderr=subprocess.STDOUT, check=False, timeout=_TIMEOUT)
        if proc.returncode != 0 or not partial.is_file():
            raise _fail(manifest, "debootstrap --make-tarball failed (exit "
                        "%d); see %s" % (proc.returncode, log.name))
        os.replace(partial, tarball)
    return tarball


#: run-hooks.sh's lines: a hook starts, a hook ended with its status
_HOOK_START = re.compile(r"^trove-guest-image: (\S+/\S+)$", re.M)
_HOOK_EXIT = re.compile(r"^trove-guest-image: (\S+/\S+) exit (\d+)$", re.M)
#: the core hook that installs the agent and runs its self-check
_SELF_CHECK_HOOK = "install.d/75-trove-guest-venv"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def image_record(bundle, manifest, log_text, code, reason="",
                 started=None):
    """The image record of one root filesystem build (not yet written).

    :param bundle: the bundle directory (its hook files are hashed).
    :param manifest: the bundle manifest.
    :param log_text: the build log, with run-hooks.sh's
        ``trove-guest-image: <phase>/<hook> [exit N]`` lines.
    :param code: run-hooks.sh's exit status.
    :param reason: why the build failed after the hooks, or ``""``.
    :param started: when the build started (UTC, ISO 8601).
    :returns: a ``dict`` for
        :func:`trove_core.tools.evidence.write_image_record`.
    """
    bundle = pathlib.Path(bundle)
    exits = {hook: int(rc) for hook, rc in _HOOK_EXIT.findall(log_text)}
    hooks = []
    for hook in _HOOK_START.findall(log_text):
        try:
            body = (bundle / "hooks" / hook).read_bytes()
        except OSError:
            body = b""
        # a hook that never reported its end died with the build
        hooks.append({"hook": hook,
                      "sha256": hashlib.sha256(body).hexdigest(),
                      "exit": exits.get(hook, code or 1),
                      "origin": "plugin" if hook in manifest.get(
                          "hooks", ()) else "core"})
    missing = [h for h in manifest.get("hooks", ())
               if h not in [e["hook"] for e in hooks]]
    if code == 0 and missing and not reason:
        reason = "the plugin's hooks %s did not run" % ", ".join(missing)
    if code != 0 and not reason:
        failed = [h["hook"] for h in hooks if h["exit"] != 0]
        reason = ("hook %s failed" % failed[0] if failed else
                  "run-hooks.sh failed outside a hook (exit %d)" % code)
    self_check = exits.get(_SELF_CHECK_HOOK)
    manifest_bytes = (bundle / "bundle.json").read_bytes()
    return {
        "datastore": manifest["datastore"],
        "plugin_distribution": manifest.get("distribution", ""),
        "plugin_version": manifest.get("version", ""),
        "core_version": manifest.get("core_version", ""),
        "os": manifest["os"],
        "result": "pass" if code == 0 and not reason else "fail",
        "reason": reason,
        "self_check": "pass" if self_check == 0 and not reason else "fail",
        "hooks": hooks,
        "bundle": {"sha256": hashlib.sha256(manifest_bytes).hexdigest(),
                   "format": manifest.get("format"),
                   "built_at": manifest.get("built_at", ""),
                   "built_with": manifest.get("built_with", ""),
                   "path": str(bundle)},
        "started": started or _now(),
        "finished": _now(),
        "builder": "debootstrap",
    }


def _record(evidence, bundle, manifest, log_path, code, reason, started):
    """Write the image record when an evidence directory is given."""
    if evidence is None:
        return None
    from trove_core.tools import evidence as evidence_mod

    text = pathlib.Path(log_path).read_text(errors="replace")
    return evidence_mod.write_image_record(
        image_record(bundle, manifest, text, code, reason, started),
        evidence)


def build_rootfs(bundle, root, mirror=None, progress=None, cache_dir=None,
                 evidence=None):
    """Build a root filesystem of the bundle's guest into ``root``.

    :param bundle: the bundle directory.
    :param root: an empty or missing directory.
    :param mirror: the package mirror (default: :data:`MIRRORS`).
    :param progress: a :class:`~trove_core.tools.image.build.Progress`.
    :param cache_dir: keep debootstrap's packages here as a tarball
        (``--make-tarball``) and build from it (``--unpack-tarball``), and
        the OS packages the hooks install (bind-mounted as the tree's APT
        archive directory, so they never land in the tree): a second
        build downloads only package lists.
    :param evidence: an evidence directory: once the hooks ran, write
        the image record ``<datastore>.image.json`` there (also when a
        hook failed: the record then says which); ``None`` writes none.
    :returns: the path of the build log.
    :raises ImageBuildError: not root, a tool is missing, ``root`` is not
        empty, or a step failed (the message names the log).
    """
    from trove_core.tools.image.build import Progress

    progress = progress or Progress(3)
    bundle = pathlib.Path(bundle).resolve()
    root = pathlib.Path(root).resolve()
    manifest = json.loads((bundle / "bundle.json").read_text())
    _preflight(manifest)
    if root.exists() and any(root.iterdir()):
        raise _fail(manifest, "root filesystem directory %s is not empty; "
                    "choose an empty one" % root)
    distro = manifest["os"].split("-", 1)[0]
    mirror = mirror or host_mirror(distro) or MIRRORS.get(distro)
    codename = _CODENAMES.get(manifest["os"])
    if mirror is None or codename is None:
        raise _fail(manifest, "no debootstrap recipe for %s" % manifest["os"])
    log_path = bundle / "rootfs-build.log"
    started = _now()
    with open(log_path, "w", encoding="utf-8") as log:
        progress("debootstrap %s (minbase) into %s, log in %s", codename,
                 root, log_path)
        unpack = []
        if cache_dir is not None:
            unpack = ["--unpack-tarball=%s" % _base_tarball(
                cache_dir, codename, mirror, log, manifest)]
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=" + _INCLUDE]
            + unpack + [codename, str(root), mirror], stdout=log,
            stderr=subprocess.STDOUT, check=False, timeout=_TIMEOUT)
        if proc.returncode != 0:
            raise _fail(manifest, "debootstrap failed (exit %d); see %s"
                        % (proc.returncode, log_path))
        progress("running the bundle's hooks in the tree (OS packages, "
                 "venv, unit, self-check)")
        inside = root / render.IMAGE_BUNDLE_DIR.lstrip("/")
        shutil.copytree(bundle, inside, ignore=shutil.ignore_patterns(
            "dib", "rootfs-build.log"))
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text(_POLICY_RC)
        policy.chmod(0o755)
        shutil.copy2("/etc/resolv.conf", root / "etc/resolv.conf")
        _write_hosts(root)
        binds = []
        if cache_dir is not None:
            # the OS packages' .deb files stay in the cache, not the tree
            archives = pathlib.Path(cache_dir) / ("apt-archives-%s"
                                                  % codename)
            (archives / "partial").mkdir(parents=True, exist_ok=True)
            binds.append((archives, root / "var/cache/apt/archives"))
        try:
            with _mounted(root, binds):
                code = _chroot(root, ["sh", render.IMAGE_BUNDLE_DIR
                                      + "/run-hooks.sh"], log)
                if not binds:
                    _chroot(root, ["apt-get", "clean"], log)
        finally:
            policy.unlink()
            shutil.rmtree(inside, ignore_errors=True)
        log.flush()
        if code != 0:
            _record(evidence, bundle, manifest, log_path, code, "", started)
            raise _fail(manifest, "the hooks failed in the root filesystem "
                        "(exit %d); see %s" % (code, log_path))
        unit = root / "etc/systemd/system/trove-guestagent.service"
        venv = root / render.VENV.lstrip("/") / "bin" / "trove-guestagent"
        if not unit.is_file() or not venv.is_file():
            _record(evidence, bundle, manifest, log_path, code,
                    "the root filesystem lacks the unit or the agent",
                    started)
            raise _fail(manifest, "the root filesystem lacks the unit or "
                        "the agent; see %s" % log_path)
    written = _record(evidence, bundle, manifest, log_path, 0, "", started)
    progress.note("root filesystem of %s ready in %s", manifest["datastore"],
                  root)
    if written is not None:
        progress.note("image record written to %s", written)
    return log_path


def _write_hosts(root):
    # debootstrap writes no /etc/hosts; cloud-init or DIB would. Without
    # it "localhost" does not resolve (mariadb-install-db refuses to run).
    hosts = root / "etc/hosts"
    if not hosts.exists():
        hosts.write_text("127.0.0.1\tlocalhost\n::1\t\tlocalhost "
                         "ip6-localhost ip6-loopback\n")


def _free_port():
    """A TCP port nothing on this host listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _smoke_options(name):
    """Options of the plugin's group for a guest in a chroot: a free port
    (the host may run the same datastore) and, when the plugin offers
    it, the ``child`` runner (there is no systemd in a chroot)."""
    found = {}
    for ep in importlib.metadata.entry_points(group="oslo.config.opts"):
        if ep.name == "trove.datastore.%s.guest" % name:
            for _group, opts in ep.load()():
                found.update((opt.dest, opt) for opt in opts)
    chosen = {}
    if "port" in found:
        chosen["port"] = str(_free_port())
    runner = found.get("runner")
    choices = getattr(getattr(runner, "type", None), "choices", None) or {}
    if runner is not None and "child" in choices:
        chosen["runner"] = "child"
    return chosen


def _processes_in(root):
    """Pids of the processes whose root directory is ``root``."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "root") == str(root):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def smoke_test(root, datastore, transport_url, timeout=300, progress=None):
    """Start the guest in ``root``, prepare it, check the datastore runs.

    :param root: a root filesystem made by :func:`build_rootfs`.
    :param datastore: the datastore name.
    :param transport_url: a RabbitMQ URL reachable from the host (the
        tree shares the host's network).
    :param timeout: seconds allowed for prepare.
    :returns: the guest's ``health`` answer after prepare.
    :raises ImageBuildError: the guest did not come up, prepare failed or
        the datastore does not report running (the guest log is quoted).
    """
    from trove_core import client as client_mod
    from trove_core import rpc
    from trove_core import status as status_mod
    from trove_core.tools.image.build import Progress

    progress = progress or Progress(3)
    root = pathlib.Path(root).resolve()
    manifest = {"datastore": datastore}
    _preflight(manifest)
    guest_id = "smoke-%s" % uuid.uuid4()
    from trove_core import discovery

    data_dirs = [root / d.lstrip("/") for d in
                 discovery.find(datastore).descriptor.image.data_dirs]
    before = {d: set(os.listdir(d)) if d.is_dir() else set()
              for d in data_dirs}
    conf_dir = root / render.CONF_DIR.lstrip("/")
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "guest_info.conf").write_text(
        "[DEFAULT]\nguest_id = %s\ndatastore_manager = %s\n"
        % (guest_id, datastore))
    group = "[%s]\n" % datastore + "".join(
        "%s = %s\n" % item for item in sorted(
            _smoke_options(datastore).items()))
    conf = conf_dir / "trove-guestagent.conf"
    conf.write_text(
        "[DEFAULT]\ntransport_url = %s\nallowed_tiers = stable,"
        "technical-preview,experimental\nreport_interval = 5\n"
        "log_file = /var/log/trove-guestagent.log\n%s"
        % (transport_url, group))
    conf.chmod(0o600)
    shutil.copy2("/etc/resolv.conf", root / "etc/resolv.conf")
    log = root / "var/log/trove-guestagent.log"
    progress("starting trove-guestagent in %s (guest %s)", root, guest_id)
    transport = rpc.get_transport(url=transport_url)
    client = client_mod.GuestClient(guest_id, transport=transport)
    with _mounted(root):
        agent = subprocess.Popen(
            ["chroot", str(root), render.VENV + "/bin/trove-guestagent",
             "--config-dir", render.CONF_DIR], env=_CHROOT_ENV,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            try:
                client.wait_until_up(timeout=90)
                progress("prepare: the guest starts %s", datastore)
                client.prepare(memory_mb=512, packages=[], databases=[],
                               users=[])
                health = client.wait_idle(timeout=timeout)
            except Exception as exc:
                raise _fail(manifest, "the guest in the root filesystem "
                            "failed: %s; its log:\n%s" % (
                                exc, _tail(log))) from exc
            progress("checking the datastore status")
            if not health.get("prepared") or health.get("status") not in (
                    status_mod.ServiceStatus.RUNNING.value,
                    status_mod.ServiceStatus.HEALTHY.value):
                raise _fail(manifest, "after prepare the guest reports %r;"
                            " its log:\n%s" % (health, _tail(log)))
            return health
        finally:
            if agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
                try:
                    agent.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    agent.wait(timeout=30)
            deadline = time.monotonic() + 20
            while _processes_in(root) and time.monotonic() < deadline:
                time.sleep(0.5)
            for pid in _processes_in(root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            client.close()
            transport.cleanup()
            _clean_after_smoke(root, conf_dir, log, before)


def _clean_after_smoke(root, conf_dir, log, before):
    # The tree is an image: leave no guest identity, broker URL, state or
    # datastore files of the smoke test in it.
    for path in (conf_dir / "guest_info.conf",
                 conf_dir / "trove-guestagent.conf", log):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    shutil.rmtree(root / "var/lib/trove-guestagent", ignore_errors=True)
    for data_dir, kept in before.items():
        if not data_dir.is_dir():
            continue
        for name in set(os.listdir(data_dir)) - kept:
            path = data_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()


def _tail(path, lines=40):
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError:
        return "(no log at %s)" % path
    return "\n".join(text.splitlines()[-lines:])
