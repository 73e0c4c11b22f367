"""``trove-datastore-scaffold``: start a new datastore plugin package.

``trove-datastore-scaffold NAME --output DIR`` writes
``DIR/trove-ds-NAME/`` with the shape of the plugins trove-core ships::

    trove-ds-NAME/
        setup.cfg  setup.py  pyproject.toml  requirements.txt  README.rst
        trove_ds_NAME/
            __init__.py  plugin.py  plugin.descriptor.json  options.py
            manager.py  elements/README.rst
        tests/unit/test_plugin.py
        tests/conformance/test_NAME_conformance.py

Out of the box its manager is the fake datastore's (an in-memory backend
from :mod:`trove_guest_base.testing`), so the package installs, is listed by
``trove-datastores list``, loads in a guest and passes the conformance
kit before a line of it is changed. The author then replaces the backend
method by method, keeping the kit green.
"""

import argparse
import logging
import os
import re
import string
import subprocess
import sys

__all__ = ["main", "render", "scaffold"]

LOG = logging.getLogger(__name__)

#: the version the new package's first tag gives it (pbr reads git tags)
FIRST_VERSION = "0.1.0"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

_SETUP_CFG = """\
[metadata]
name = $dist
summary = $title datastore plugin for trove-core guest agents
description_file = README.rst
author = $title plugin authors
license = Apache-2.0
python_requires = >=3.10
classifier =
    Development Status :: 2 - Pre-Alpha
    Environment :: OpenStack
    Operating System :: POSIX :: Linux
    Programming Language :: Python :: 3
    Topic :: Database

[files]
packages = $package

[options.package_data]
# the descriptor as data, which listings read instead of importing the
# plugin; after changing plugin.py run
#   python -m trove_core.descriptordata $package.plugin:DESCRIPTOR
# (tests/unit/test_plugin.py fails until you do)
$package =
    *.descriptor.json
    elements/**/*

[extras]
# the datastore's Python driver goes here, e.g. PyMySQL>=1.0
guest =

[entry_points]
trove.datastores =
    $name = $package.plugin:DESCRIPTOR
trove.guestagent.managers =
    $name = $package.manager:Manager
trove.guestagent.backup_strategies =
    $name-copy = $package.manager:CopyBackup
oslo.config.opts =
    trove.datastore.$name.server = $package.options:list_server_opts
    trove.datastore.$name.guest = $package.options:list_guest_opts
"""

_SETUP_PY = """\
import setuptools

setuptools.setup(setup_requires=["pbr>=6.0"], pbr=True)
"""

_PYPROJECT = """\
[build-system]
requires = ["pbr>=6.0", "setuptools>=64"]
build-backend = "pbr.build"
"""

_REQUIREMENTS = """\
# The plain install is what a control plane needs: descriptor and options.
# The datastore driver is in the [guest] extra (setup.cfg).
trove-core
"""

_README = """\
$dist
$underline

A trove-core datastore plugin for $title, created by
``trove-datastore-scaffold``. Its manager still runs the fake in-memory
backend of ``trove_guest_base.testing``; replace it with code that drives
$title, keeping the conformance kit green.

Install, list and test::

    pip install -e .
    trove-datastores list
    pytest tests
"""

_INIT = '''\
"""The $title datastore plugin for trove-core."""
'''

_PLUGIN = '''\
"""Descriptor of the $title datastore: plain data, cheap to import."""

from trove_core.descriptor import DatastoreDescriptor
from trove_core.descriptor import ImageSpec
from trove_core.descriptor import OSSupport
from trove_core.descriptor import Strategy

DESCRIPTOR = DatastoreDescriptor(
    name="$name",
    tier="$tier",
    summary="$title datastore",
    # must equal what the manager declares; the guest checks it at load
    capabilities=frozenset({
        "lifecycle", "databases", "users", "access", "root", "backup",
        "replication", "configuration", "guest_logs"}),
    engine_versions=("1.0",),
    # each registered under its name in trove.guestagent.<kind>_strategies
    strategies=(
        Strategy("$name-copy", "backup", "$tier",
                 "copy of the data file, streamed"),
    ),
    image=ImageSpec(
        supported_os=(OSSupport("debian-12", ()),),
        service_user="trove",
        data_dirs=("/var/lib/trove/$name",),
    ),
    # Python modules of the [guest] extra, e.g. ("pymysql",)
    driver_modules=(),
)
'''

_OPTIONS = '''\
"""Options of the $title datastore, split into server and guest sides."""

from oslo_config import cfg

from trove_core import options

GROUP = cfg.OptGroup("$name", title="$title datastore",
                     help="Options of the $title datastore.")

SERVER_OPTS = options.server_opts(tcp_ports=["4711"])

# backup_storage, backup_storage_root and backup_encryption_key_file are
# common options: pass a default here only if yours differs. The options
# of the server process (port, runner, systemd_unit, server_binary,
# config_file, start_timeout, ...) are common too, but only those named
# here are registered: name the ones your manager reads, and build its
# runner with trove_guest_base.process.make_runner(self.options, ...).
GUEST_OPTS = options.guest_opts(
    mount_point="/var/lib/trove/$name", backup_strategy="$name-copy",
    guest_log_exposed_logs=["general"],
    ignore_users=["os_admin"],
    ignore_dbs=["fake_system"],
    port=4711,
    runner="systemd",
    systemd_unit="$name.service",
    server_binary="$name-server",
    config_file="/etc/$name.conf",
    start_timeout=120)
# + [cfg.StrOpt(...)] for the options only $title has


def list_server_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.$name.server``."""
    return [(GROUP, SERVER_OPTS)]


def list_guest_opts():
    """``oslo.config.opts`` hook: ``trove.datastore.$name.guest``."""
    return [(GROUP, GUEST_OPTS)]
'''

_MANAGER = '''\
"""The $title guest manager.

It starts as the fake datastore's manager, whose "server" is a JSON file
(:mod:`trove_guest_base.testing.backend`), so that this package passes the
conformance kit out of the box. Replace the hooks (``do_prepare``,
``do_start``, ``do_stop``, ``probe_status``, ``write_config``) and the
operations of each capability with code that drives $title, and change
the probe in ``tests/conformance`` to use $title's own client.

Supervise the server with the runner its options ask for (``runner``,
``systemd_unit``, ``server_binary`` in ``options.py``): build it once with
``trove_guest_base.process.make_runner(self.options, argv, pid_file,
log_file, dirs=[...])``, argv being the server's foreground command line
and ``dirs`` the directories it writes. Name ``service_user`` in
``options.py`` and a guest running as root starts the server as that
user, after giving it ``dirs``. The manager gets ``self.name``,
``self.conf``/``self.options``, ``self.state_dir`` and ``self.reporter``
(see "What a manager gets" in the author guide).
"""

from trove_guest_base.testing import backup as fake_backup
from trove_guest_base.testing import manager as fake


class Manager(fake.FakeManager):
    """Guest manager of the $title datastore; create_backup and the
    restore of prepare come from trove_guest_base.backup.BackupOperations
    and use the strategy below."""


class CopyBackup(fake_backup.FakeCopy):
    """Backup strategy ``$name-copy``: replace backup() and restore()
    with $title's own tool (a subclass of
    trove_guest_base.backup.BackupStrategy)."""

    name = "$name-copy"
'''

_ELEMENT = """\
Image elements of $title
$element_underline

This README is a placeholder, not an element: it installs nothing, and
``trove-datastores check $name`` fails the ``elements`` requirement
until this directory holds the hooks ``trove-guest-image build`` runs in
the guest image, by phase: ``pre-install.d/NN-name`` (package
repositories), ``install.d/NN-name`` (install and set up $title for
every OS the descriptor supports, told apart by ``$$TROVE_OS_ID``),
``post-install.d/NN-name``. The OS packages themselves are listed in
the descriptor (``OSSupport("debian-12", ("package",))``).
"""

_UNIT_TEST = '''\
"""The $title plugin registers and loads through its entry points."""

from trove_core import descriptordata
from trove_core import discovery
from trove_core import options


class TestRegistration:
    """The installed distribution is seen by trove-core."""

    def test_descriptor_data_current(self):
        """plugin.descriptor.json (what listings read) equals
        plugin.DESCRIPTOR; after changing plugin.py, run
        python -m trove_core.descriptordata $package.plugin:DESCRIPTOR"""
        assert descriptordata.check_shipped("$name") == [
            ("$package.plugin:DESCRIPTOR", "")]

    def test_listed(self):
        """discover() lists the datastore from this distribution."""
        record = discovery.find("$name")
        assert record.distribution == "$dist"

    def test_manager_loads(self):
        """The manager loads and matches the descriptor."""
        record, manager_cls = discovery.load_manager_class("$name")
        assert set(manager_cls.capabilities()) == \\
            record.descriptor.capabilities

    def test_options_both_sides(self):
        """Server and guest options load through oslo.config.opts."""
        for side in ("server", "guest"):
            [(group, opts)] = options.load_side("$name", side)
            assert group.name == "$name" and opts
'''

_CONFORMANCE_TEST = '''\
"""The $title datastore passes the trove-core conformance kit."""

import pytest

from trove_guest_base import testing
from trove_guest_base import conformance


class Test${camel}Conformance(conformance.DatastoreSuite):
    """Every capability the manager declares, checked from outside."""

    datastore = "$name"

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls):
        """New instances sharing one backup directory."""
        # each instance gets its own directory (one a service user can
        # enter) and, when the datastore has a 'port' option, its own port
        with testing.Spawner(
                "$name", probe_factory=testing.FakeProbe) as spawn:
            yield spawn

    @pytest.fixture(scope="class")
    @classmethod
    def trove_override(cls):
        """Dynamic configuration overrides the kit applies."""
        return {"max_connections": 321}
'''


#: how the names of known engines are spelled (a word of the datastore
#: name not listed here is capitalized)
SPELLINGS = {
    "postgresql": "PostgreSQL", "postgres": "PostgreSQL",
    "pg": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB",
    "mongodb": "MongoDB", "mongo": "MongoDB", "couchdb": "CouchDB",
    "couchbase": "Couchbase", "cassandra": "Cassandra", "redis": "Redis",
    "db2": "DB2", "vertica": "Vertica", "percona": "Percona",
    "pxc": "PXC", "sqlite": "SQLite", "sql": "SQL", "db": "DB",
    "cockroachdb": "CockroachDB", "clickhouse": "ClickHouse",
    "influxdb": "InfluxDB", "timescaledb": "TimescaleDB",
    "valkey": "Valkey", "keydb": "KeyDB", "etcd": "etcd",
    "elasticsearch": "Elasticsearch", "opensearch": "OpenSearch",
    "neo4j": "Neo4j", "rabbitmq": "RabbitMQ", "memcached": "Memcached",
    "scylladb": "ScyllaDB", "tidb": "TiDB", "yugabytedb": "YugabyteDB",
}


def title_of(name):
    """The datastore's name as people write it: ``postgresql`` ->
    ``PostgreSQL``, ``couch_db`` -> ``Couch DB``."""
    return " ".join(SPELLINGS.get(word, word.capitalize())
                    for word in name.split("_") if word)


def _files(name, tier):
    title = title_of(name)
    dist = "trove-ds-%s" % name.replace("_", "-")
    values = {
        "name": name, "title": title, "dist": dist, "tier": tier,
        "package": "trove_ds_%s" % name,
        "camel": title.replace(" ", ""),
        "underline": "=" * len(dist),
        "element_underline": "=" * len("Image elements of %s" % title),
    }
    package = values["package"]
    layout = {
        "setup.cfg": _SETUP_CFG, "setup.py": _SETUP_PY,
        "pyproject.toml": _PYPROJECT, "requirements.txt": _REQUIREMENTS,
        "README.rst": _README,
        "%s/__init__.py" % package: _INIT,
        "%s/plugin.py" % package: _PLUGIN,
        "%s/options.py" % package: _OPTIONS,
        "%s/manager.py" % package: _MANAGER,
        "%s/elements/README.rst" % package: _ELEMENT,
        "tests/unit/test_plugin.py": _UNIT_TEST,
        "tests/conformance/test_%s_conformance.py" % name:
            _CONFORMANCE_TEST,
    }
    files = {path: string.Template(text).substitute(values)
             for path, text in layout.items()}
    files["%s/plugin.descriptor.json" % package] = _descriptor_data(
        package, files["%s/plugin.py" % package])
    return dist, files


def _descriptor_data(package, plugin_text):
    """The data file of the rendered ``plugin.py`` (our own template,
    run here rather than imported: the package is not installed yet)."""
    from trove_core import descriptordata

    namespace = {}
    exec(compile(plugin_text, "plugin.py", "exec"),  # noqa: S102
         namespace)
    return descriptordata.dumps("%s.plugin" % package,
                                {"DESCRIPTOR": namespace["DESCRIPTOR"]})


def render(name, tier="experimental"):
    """Return ``(directory_name, {relative_path: text})`` of a plugin.

    :param name: the datastore name (``[a-z][a-z0-9_]{0,31}``).
    :param tier: the maturity tier the descriptor declares.
    :raises BadRequest: the name or the tier is not acceptable.
    """
    from trove_core import exceptions
    from trove_core import tiers

    if not isinstance(name, str) or not _NAME.match(name):
        raise exceptions.InvalidIdentifier(
            kind="datastore", value=name,
            reason="it must match %s (a lowercase letter, then lowercase "
            "letters, digits or '_')" % _NAME.pattern)
    try:
        tier = tiers.parse_tier(tier).label
    except exceptions.InvalidTier as exc:
        raise exceptions.BadRequest(reason=str(exc)) from None
    return _files(name, tier)


def _git(root, *args):
    subprocess.run(["git", "-C", root, *args], check=True,
                   capture_output=True, text=True)


def _inside_git(path):
    try:
        done = subprocess.run(
            ["git", "-C", path, "rev-parse", "--is-inside-work-tree"],
            capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return done.returncode == 0


def init_git(root):
    """Make ``root`` a git repository with one commit tagged
    :data:`FIRST_VERSION`, which pbr needs to version the package.

    Skipped (returning ``False``) when ``root`` is already inside a git
    work tree, whose history pbr then uses, or when git is missing.

    :raises CalledProcessError: a git command failed.
    """
    parent = os.path.dirname(os.path.abspath(root))
    inside = _inside_git(parent)
    if inside is None:
        LOG.warning("git is not installed; pbr cannot version %s until "
                    "it is in a git repository", root)
        return False
    if inside:
        return False
    identity = []
    for key, default in (("user.name", "trove-datastore-scaffold"),
                         ("user.email", "scaffold@example.invalid")):
        found = subprocess.run(["git", "config", "--get", key],
                               capture_output=True, text=True)
        if not found.stdout.strip():
            identity += ["-c", "%s=%s" % (key, default)]
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, *identity, "commit", "-q", "-m",
         "Scaffold %s" % os.path.basename(root))
    _git(root, *identity, "tag", "-a", FIRST_VERSION, "-m",
         "Version %s" % FIRST_VERSION)
    return True


def scaffold(name, output, tier="experimental", git=True):
    """Write a new plugin package for datastore ``name`` under ``output``.

    :param output: the parent directory (created if needed).
    :param git: make the package a git repository tagged
        :data:`FIRST_VERSION` (see :func:`init_git`).
    :returns: the path of the new package directory.
    :raises BadRequest: a bad name or tier, or the target exists.
    """
    from trove_core import exceptions

    dirname, files = render(name, tier)
    root = os.path.join(os.fspath(output), dirname)
    if os.path.exists(root):
        raise exceptions.BadRequest(
            reason="%s already exists; choose another --output or remove "
            "it first" % root)
    for relative, text in sorted(files.items()):
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    if git:
        init_git(root)
    return root


def main(argv=None):
    """Console script ``trove-datastore-scaffold``."""
    from trove_core import exceptions

    parser = argparse.ArgumentParser(
        prog="trove-datastore-scaffold",
        description="Create a new trove-core datastore plugin package that "
                    "installs, lists, loads and passes the conformance kit "
                    "out of the box.")
    parser.add_argument("name", help="the datastore name, e.g. 'couchdb'")
    parser.add_argument("--output", "-o", default=".",
                        help="directory to create trove-ds-NAME in "
                             "(default: the current directory)")
    parser.add_argument("--tier", default="experimental",
                        help="declared maturity tier (default: "
                             "experimental)")
    parser.add_argument("--no-git", action="store_true",
                        help="do not make the package a git repository "
                             "(pbr then needs one, or PBR_VERSION, to "
                             "build it)")
    args = parser.parse_args(argv)
    try:
        root = scaffold(args.name, args.output, args.tier,
                        git=not args.no_git)
    except exceptions.TroveError as exc:
        print("trove-datastore-scaffold: error: %s" % exc, file=sys.stderr)
        return 2
    print("created %s\nnext steps:\n"
          "  pip install -e %s\n"
          "  trove-datastores list\n"
          "  pytest %s/tests" % (root, root, root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
