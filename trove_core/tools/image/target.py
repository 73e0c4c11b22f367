"""What a guest bundle is built for: the datastore plugin and the OS.

Everything here is read from the *installed* plugin: the descriptor's
:class:`~trove_core.descriptor.ImageSpec` (supported OS and their packages,
service user, data directories) and the ``elements/`` directory shipped
inside the plugin's package (setup hooks), so the elements an image gets
are always those of the plugin version installed.
"""

import dataclasses
import importlib.resources
import re

from trove_core import discovery
from trove_core.tools.image import errors

__all__ = ["Elements", "PHASES", "Target", "TargetOS", "known_os",
           "resolve"]

#: Hook phases, in the order they run (diskimage-builder's names).
PHASES = ("pre-install.d", "install.d", "post-install.d")

_HOOK_NAME = re.compile(r"^[0-9]{2}-[A-Za-z0-9_.-]+$")


@dataclasses.dataclass(frozen=True)
class TargetOS:
    """An operating system trove-guest-image knows how to build for.

    :param id: ``<distro>-<version>`` as plugins spell it.
    :param distro: the distribution (``debian``, ``ubuntu``).
    :param release: its version number.
    :param codename: its release code name.
    :param python: the ``major.minor`` of its ``python3``; the wheelhouse
        is built for that interpreter.
    :param python_full: its exact ``python3`` version: dependencies'
        environment markers may depend on it (``redis`` needs
        ``async-timeout`` below 3.11.3).
    :param glibc: its C library version, bounding the manylinux tags.
    :param base_image: the container image the Containerfile starts from.
    """

    id: str
    distro: str
    release: str
    codename: str
    python: str
    python_full: str
    glibc: tuple
    base_image: str


_KNOWN = {t.id: t for t in (
    TargetOS("debian-12", "debian", "12", "bookworm", "3.11", "3.11.2",
             (2, 36),
             "docker.io/library/debian:12"),
    TargetOS("debian-13", "debian", "13", "trixie", "3.13", "3.13.5",
             (2, 41),
             "docker.io/library/debian:13"),
    TargetOS("ubuntu-22.04", "ubuntu", "22.04", "jammy", "3.10", "3.10.12",
             (2, 35),
             "docker.io/library/ubuntu:22.04"),
    TargetOS("ubuntu-24.04", "ubuntu", "24.04", "noble", "3.12", "3.12.3",
             (2, 39),
             "docker.io/library/ubuntu:24.04"),
)}

#: OS packages every guest needs besides the datastore's own.
BASE_PACKAGES = ("python3", "python3-venv")


def known_os():
    """The OS ids trove-guest-image can build for, sorted."""
    return sorted(_KNOWN)


@dataclasses.dataclass(frozen=True)
class Elements:
    """A plugin's image elements: its setup hooks, by phase.

    :param source: where they were read from, for messages.
    :param hooks: ``{phase: ((name, content bytes), ...)}`` in run order.
    """

    source: str
    hooks: dict

    def names(self):
        """Every hook as ``phase/name``, in run order."""
        return ["%s/%s" % (phase, name) for phase in PHASES
                for name, _data in self.hooks.get(phase, ())]


@dataclasses.dataclass(frozen=True)
class Target:
    """One datastore on one OS: everything a bundle is built from.

    :param record: the plugin's :class:`~trove_core.discovery.PluginRecord`.
    :param os: the :class:`TargetOS`.
    :param packages: the OS packages to install, base ones first.
    :param elements: the plugin's :class:`Elements`.
    """

    record: discovery.PluginRecord
    os: TargetOS
    packages: tuple
    elements: Elements

    @property
    def name(self):
        """The datastore name."""
        return self.record.name

    @property
    def image(self):
        """The descriptor's :class:`~trove_core.descriptor.ImageSpec`."""
        return self.record.descriptor.image

    @property
    def package(self):
        """The plugin's top-level Python package."""
        return self.record.target.split(":", 1)[0].split(".", 1)[0]

    def environment(self, bundle_dir):
        """The variables every hook runs with.

        :param bundle_dir: where the bundle lies inside the image.
        :returns: an ordered ``dict`` of names to values.
        """
        return {
            "TROVE_DATASTORE": self.name,
            "TROVE_OS_ID": self.os.id,
            "TROVE_OS_DISTRO": self.os.distro,
            "TROVE_OS_RELEASE": self.os.release,
            "TROVE_SERVICE_USER": self.image.service_user,
            "TROVE_DATA_DIRS": " ".join(self.image.data_dirs),
            "TROVE_BUNDLE_DIR": bundle_dir,
        }


def default_os(descriptor, python):
    """The OS to build for when none is asked for.

    The first supported OS whose ``python3`` is ``python`` (so the bundle
    can be verified on this machine), else the first supported one.
    """
    ids = [entry.id for entry in descriptor.image.supported_os]
    for os_id in ids:
        if os_id in _KNOWN and _KNOWN[os_id].python == python:
            return os_id
    return ids[0] if ids else None


def read_elements(record, package, elements_dir):
    """Read a plugin's hooks from its installed package.

    :raises ImageBuildError: the directory is missing, a hook is badly
        named or a file sits outside the known phases.
    """
    root = importlib.resources.files(package).joinpath(elements_dir)
    where = "%s/%s (distribution %s %s)" % (
        package, elements_dir, record.distribution, record.version)
    if not root.is_dir():
        raise errors.ImageBuildError(
            datastore=record.name, reason="the plugin ships no elements "
            "directory %s; reinstall the plugin or add its elements"
            % where)
    hooks = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        if entry.name not in PHASES:
            raise errors.ImageBuildError(
                datastore=record.name, reason="unknown element phase %r in"
                " %s; use %s" % (entry.name, where, ", ".join(PHASES)))
        found = []
        for hook in sorted(entry.iterdir(), key=lambda e: e.name):
            if hook.name == "__pycache__":
                continue
            if not _HOOK_NAME.match(hook.name):
                raise errors.ImageBuildError(
                    datastore=record.name, reason="hook %s/%s in %s must be"
                    " named NN-name" % (entry.name, hook.name, where))
            found.append((hook.name, hook.read_bytes()))
        hooks[entry.name] = tuple(found)
    if not any(hooks.values()):
        raise errors.ImageBuildError(
            datastore=record.name, reason="%s holds no hooks" % where)
    return Elements(where, hooks)


def resolve(name, os_id=None, python="3.11", records=None):
    """Find the plugin ``name`` and what its image needs on ``os_id``.

    :param name: the datastore name.
    :param os_id: the OS id, or ``None`` for :func:`default_os`.
    :param python: the local interpreter's ``major.minor``.
    :param records: discovery records (tests); default: discover.
    :returns: a :class:`Target`.
    :raises PluginError: no usable plugin is installed under ``name``.
    :raises UnsupportedOS: the plugin does not support ``os_id``.
    :raises ImageBuildError: the plugin's image data is unusable.
    """
    record = discovery.find(name, records)
    image = record.descriptor.image
    supported = [entry.id for entry in image.supported_os]
    if not supported:
        raise errors.ImageBuildError(
            datastore=name, reason="its descriptor declares no supported "
            "OS (DESCRIPTOR.image.supported_os)")
    if os_id is None:
        os_id = default_os(record.descriptor, python)
    entry = image.os(os_id)
    if entry is None:
        raise errors.UnsupportedOS(datastore=name, os_id=os_id,
                                   supported=supported)
    if os_id not in _KNOWN:
        raise errors.ImageBuildError(
            datastore=name, reason="trove-guest-image cannot build for OS "
            "%r; it knows %s" % (os_id, known_os()))
    if not image.service_user:
        raise errors.ImageBuildError(
            datastore=name, reason="its descriptor declares no service "
            "user (DESCRIPTOR.image.service_user)")
    # the package holding the descriptor module: elements live beside it
    module = record.target.split(":", 1)[0]
    package = module.rpartition(".")[0] or module
    elements = read_elements(record, package, image.elements)
    packages = BASE_PACKAGES + tuple(
        p for p in entry.packages if p not in BASE_PACKAGES)
    return Target(record, _KNOWN[os_id], packages, elements)
