"""Building a guest bundle for one datastore on one OS.

A bundle is a directory::

    bundle.json                  what was built, from what, for where
    wheelhouse/                  trove-core, the plugin, their dependencies
    requirements.lock            every wheel pinned with its sha256
    trove-guestagent.conf.sample oslo-config-generator output
    trove-guestagent.service     systemd unit of the guest agent
    hooks/<phase>/NN-name        the plugin's and the core's setup hooks
    environment, packages        what the hooks run with, OS packages
    run-hooks.sh                 runs everything inside an image
    Containerfile                a container image of the guest
    dib/trove-guest-<name>/      a diskimage-builder element
"""

import datetime
import importlib.metadata
import json
import pathlib
import shutil
import sys
import tempfile

from trove_core.tools.image import errors
from trove_core.tools.image import render
from trove_core.tools.image import target as target_mod
from trove_core.tools.image import wheels

__all__ = ["Progress", "build", "BUNDLE_FORMAT"]

#: Version of the ``bundle.json`` layout.
BUNDLE_FORMAT = 1
CORE_DISTRIBUTION = "trove-core"
#: trove-core's extras a guest may carry: ``secure`` (cryptography) for
#: sealed RPC payloads and encrypted backups. Both are off by default and
#: load cryptography only when enabled, so a bundle carries it only when
#: asked (``--secure``): it is the heaviest dependency a guest can have.
CORE_EXTRAS = ("secure",)


class Progress:
    """Numbered progress lines, flushed as they are written.

    :param total: the number of steps.
    :param stream: where to write (default: the current ``sys.stdout``).
    :param quiet: write nothing.
    """

    def __init__(self, total, stream=None, quiet=False):
        self.total = total
        self.step = 0
        self.stream = stream
        self.quiet = quiet

    def __call__(self, message, *args):
        """Start the next step and say what it does."""
        self.step += 1
        self.note("[%d/%d] " % (self.step, self.total) + message, *args)

    def note(self, message, *args):
        """Write a line without starting a step."""
        if not self.quiet:
            print(message % args if args else message,
                  file=self.stream or sys.stdout, flush=True)


def _normalize(name):
    return name.replace("_", "-").replace(".", "-").lower()


def _pick_wheel(prebuilt, distribution):
    for path in prebuilt:
        if wheels.project_of(path)[0] == _normalize(distribution):
            return pathlib.Path(path)
    return None


def _project_wheel(distribution, sources, prebuilt, scratch, datastore,
                   progress):
    given = _pick_wheel(prebuilt, distribution)
    if given is not None:
        progress.note("      using the given wheel %s", given.name)
        return given
    source = sources.get(distribution) or wheels.find_source(distribution)
    if source is None:
        # installed from a wheel: its installed files are the wheel
        progress.note("      repacking the installed %s (no source tree)",
                      distribution)
        return wheels.repack_installed(distribution, scratch, datastore)
    progress.note("      building %s from %s", distribution, source)
    return wheels.build_project_wheel(source, scratch, datastore)


def _check_elements_in_wheel(target, plugin_wheel, core_wheel=None):
    # the elements live beside the descriptor's module (as
    # target.read_elements reads them)
    module = target.record.target.split(":", 1)[0]
    package = module.rpartition(".")[0] or module
    prefix = "%s/%s/" % (package.replace(".", "/"), target.image.elements)
    packed = {name[len(prefix):] for name in
              wheels.wheel_has(plugin_wheel, prefix)}
    if not packed and core_wheel is not None and \
            target.package == "trove_core":
        # a datastore of trove-core itself (the fake, registered by a
        # distribution without code): trove-core's wheel ships them
        packed = {name[len(prefix):] for name in
                  wheels.wheel_has(core_wheel, prefix)}
    missing = [name for name in target.elements.names()
               if name not in packed]
    if missing:
        raise errors.ImageBuildError(
            datastore=target.name, reason="the wheel %s lacks the elements "
            "%s; pbr packages git-tracked files only: git add and commit "
            "them, then build again" % (plugin_wheel.name, missing))


def _prepare_output(out, force, datastore):
    out = pathlib.Path(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise errors.ImageBuildError(
                datastore=datastore, reason="output directory %s is not "
                "empty; choose another or pass --force to replace it"
                % out)
        if not (out / "bundle.json").is_file():
            raise errors.ImageBuildError(
                datastore=datastore, reason="refusing to replace %s: it is"
                " not a guest bundle (no bundle.json)" % out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def build(datastore, output, os_id=None, sources=None, prebuilt=(),
          force=False, progress=None, core_extras=()):
    """Build the guest bundle of ``datastore`` into ``output``.

    :param datastore: the datastore name.
    :param output: the bundle directory (created; must be empty unless
        ``force`` replaces an older bundle).
    :param os_id: the target OS id; default: see
        :func:`~trove_core.tools.image.target.default_os`.
    :param sources: ``{distribution: source dir}`` overriding where
        trove-core or the plugin is built from.
    :param prebuilt: wheel paths of trove-core or the plugin to use as
        they are (a CI run builds trove-core's wheel once).
    :param force: replace an existing bundle in ``output``.
    :param progress: a :class:`Progress` (default: to stdout).
    :param core_extras: extras of trove-core to install, from
        :data:`CORE_EXTRAS` (``("secure",)`` for secure RPC and
        encrypted backups).
    :returns: the bundle manifest (also written to ``bundle.json``).
    :raises PluginError: the plugin is not installed or unusable.
    :raises UnsupportedOS: the plugin does not support ``os_id``.
    :raises ImageBuildError: any step failed; the message says which.
    """
    progress = progress or Progress(6)
    unknown = sorted(set(core_extras) - set(CORE_EXTRAS))
    if unknown:
        raise errors.ImageBuildError(
            datastore=datastore, reason="unknown trove-core extras %s; "
            "known: %s" % (unknown, list(CORE_EXTRAS)))
    core_extras = tuple(sorted(set(core_extras)))
    sources = {k: pathlib.Path(v) for k, v in (sources or {}).items()}
    here = "%d.%d" % sys.version_info[:2]
    target = target_mod.resolve(datastore, os_id, python=here)
    progress("datastore %s (%s %s) on %s: %d OS packages, hooks %s",
             target.name, target.record.distribution, target.record.version,
             target.os.id, len(target.packages),
             ", ".join(target.elements.names()))
    out = _prepare_output(output, force, datastore)
    try:
        manifest = _build_into(target, out, sources, prebuilt, core_extras,
                               datastore, progress)
    except BaseException:
        # Leave no half bundle behind: it has no bundle.json, so a later
        # --force would refuse to replace it.
        for entry in out.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        raise
    progress.note("bundle of %s for %s written to %s", target.name,
                  target.os.id, out)
    return manifest


def _build_into(target, out, sources, prebuilt, core_extras, datastore,
                progress):
    with tempfile.TemporaryDirectory(prefix="trove-image-") as tmp:
        scratch = pathlib.Path(tmp)
        progress("building the wheels of %s and %s", CORE_DISTRIBUTION,
                 target.record.distribution)
        core_wheel = _project_wheel(CORE_DISTRIBUTION, sources, prebuilt,
                                    scratch, datastore, progress)
        plugin_wheel = _project_wheel(target.record.distribution, sources,
                                      prebuilt, scratch, datastore,
                                      progress)
        _check_elements_in_wheel(target, plugin_wheel, core_wheel)
        progress("collecting dependencies for Python %s into wheelhouse/",
                 target.os.python)
        core_req = str(core_wheel)
        if core_extras:
            core_req += "[%s]" % ",".join(core_extras)
        found, resolved_for = wheels.build_wheelhouse(
            [core_req, "%s[guest]" % plugin_wheel],
            out / "wheelhouse", target.os, datastore,
            find_links=[scratch, core_wheel.parent])
    plugin_project = wheels.project_of(plugin_wheel)[0]
    extras = {plugin_project: "guest"}
    if core_extras:
        extras[wheels.project_of(core_wheel)[0]] = ",".join(core_extras)
    others = sorted(name for name, _v in map(wheels.project_of, found)
                    if name.startswith("trove-ds-") and name !=
                    plugin_project)
    if others:
        raise errors.ImageBuildError(
            datastore=datastore, reason="the wheelhouse pulled in other "
            "datastore plugins %s; a guest carries exactly one" % others)
    progress.note("      %d wheels, resolved for Python %s%s", len(found),
                  resolved_for, "" if resolved_for == target.os.python_full
                  else " (the OS has %s: environment markers may differ)"
                  % target.os.python_full)
    progress("writing requirements.lock (sha256 of every wheel)")
    header = ["Guest of datastore %s on %s, Python %s." % (
        target.name, target.os.id, target.os.python),
        "Install: pip install --no-index --find-links wheelhouse "
        "--require-hashes -r requirements.lock"]
    wheels.write_lock(out / "requirements.lock", found, header,
                      extras=extras)
    progress("generating trove-guestagent.conf.sample")
    namespaces = render.generate_sample_config(
        target, out / "trove-guestagent.conf.sample")
    progress("writing hooks, systemd unit, Containerfile and the "
             "diskimage-builder element")
    files = render.write_bundle_files(target, out)
    manifest = {
        "format": BUNDLE_FORMAT,
        "datastore": target.name,
        "distribution": target.record.distribution,
        "version": wheels.project_of(plugin_wheel)[1],
        "core_version": wheels.project_of(core_wheel)[1],
        "core_extras": list(core_extras),
        "os": target.os.id,
        "python": target.os.python,
        "python_full": target.os.python_full,
        "resolved_for": resolved_for,
        "packages": list(target.packages),
        "service_user": target.image.service_user,
        "data_dirs": list(target.image.data_dirs),
        "driver_modules": list(target.record.descriptor.driver_modules),
        "hooks": target.elements.names(),
        "config_namespaces": namespaces,
        "venv": render.VENV,
        "wheels": [p.name for p in found],
        "files": files + ["requirements.lock",
                          "trove-guestagent.conf.sample"],
        "built_with": importlib.metadata.version(CORE_DISTRIBUTION),
        "built_at": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (out / "bundle.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
