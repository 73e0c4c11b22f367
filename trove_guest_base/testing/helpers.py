"""Helpers for tests of managers, the runtime and the fake datastore.

``RecordingReporter`` keeps everything a manager reports; ``make_conf``
builds a ``ConfigOpts`` with one datastore's guest options registered and
overridden; ``make_manager`` builds a ready-to-prepare manager of an
installed plugin inside a temporary directory; ``failing_server``
writes a stand-in server binary that says something and exits, to test a
manager's start-failure path without the real server.
"""

import os

__all__ = ["RecordingReporter", "Spawner", "allow_all_tiers",
           "failing_server", "make_conf", "make_fake_manager",
           "make_manager", "server_port", "taken_port"]


class RecordingReporter:
    """A reporter that records every call, for assertions.

    :ivar statuses: the :class:`~trove_core.status.ServiceStatus` values
        reported, in order.
    :ivar progress_events: ``(operation, done, total, message)`` tuples.
    :ivar backups: ``(backup_id, fields)`` tuples.
    :ivar root_reports: how many times root was reported enabled.
    """

    def __init__(self):
        self.statuses = []
        self.progress_events = []
        self.backups = []
        self.root_reports = 0

    def status_changed(self, status):
        """Record a status change."""
        self.statuses.append(status)

    def progress(self, operation, done, total=None, message=""):
        """Record progress of a long operation."""
        self.progress_events.append((operation, done, total, message))

    def backup_update(self, backup_id, **fields):
        """Record a backup state change."""
        self.backups.append((backup_id, dict(fields)))

    def report_root(self):
        """Count ``report_root`` casts."""
        self.root_reports += 1

    def last_backup(self, backup_id):
        """The fields of the last update of ``backup_id``, or ``None``."""
        for seen, fields in reversed(self.backups):
            if seen == backup_id:
                return fields
        return None


def allow_all_tiers(conf):
    """Register ``[DEFAULT] allowed_tiers`` on ``conf`` and allow every
    tier: a test runs the experimental strategies it tests (the guest
    service applies the operator's policy instead).
    """
    import copy

    from trove_core import options
    from trove_core import tiers

    for opt in options.CORE_OPTS:
        if opt.dest not in conf:
            conf.register_opt(copy.deepcopy(opt))
    conf.set_override("allowed_tiers", [t.label for t in tiers.Tier])
    return conf


def make_conf(datastore, **overrides):
    """Return a parsed ``ConfigOpts`` with the guest options of
    ``datastore`` registered and ``overrides`` set in its group; every
    tier is allowed (:func:`allow_all_tiers`).

    :param datastore: an installed datastore name.
    :param overrides: option name -> value in the datastore's group.
    """
    from oslo_config import cfg

    from trove_core import options

    conf = cfg.ConfigOpts()
    options.register_side(conf, datastore, "guest")
    conf([], project="trove-test", default_config_files=[])
    allow_all_tiers(conf)
    for name, value in overrides.items():
        conf.set_override(name, value, group=datastore)
    return conf


def make_manager(datastore, directory, reporter=None, **overrides):
    """Build an unprepared manager of installed plugin ``datastore``.

    :param directory: a private directory; the state lives in
        ``directory/state``.
    :param reporter: defaults to a new :class:`RecordingReporter`.
    :param overrides: guest options of the datastore to override.
    """
    from trove_core import discovery

    _record, manager_cls = discovery.load_manager_class(datastore)
    conf = make_conf(datastore, **overrides)
    return manager_cls(datastore, conf, os.path.join(directory, "state"),
                       reporter=reporter or RecordingReporter())


def failing_server(path, output, exit_code=1):
    """Write an executable stand-in for a server binary at ``path``: it
    ignores its arguments, prints ``output`` and exits with
    ``exit_code``. Set a datastore's ``server_binary`` to it to check that
    a server dying at start-up fails ``start``/``prepare`` at once, with
    what the server said.

    :returns: ``path``, as a string.
    """
    import stat
    import sys

    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!%s\nimport sys\nprint(%r, flush=True)\n"
                     "sys.exit(%d)\n" % (sys.executable, output,
                                          exit_code))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def taken_port(host="127.0.0.1"):
    """A context manager yielding a TCP port something listens on while
    it is open: give it to a datastore to check that a server that cannot
    bind its port fails ``start``/``prepare`` at once and says why."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def listening():
        with socket.socket() as sock:
            sock.bind((host, 0))
            sock.listen()
            yield sock.getsockname()[1]
    return listening()


_HANDED_OUT = set()


def server_port(host="127.0.0.1"):
    """A free TCP port for a test server, never handed out twice by this
    process, below the usual ephemeral range (so that a client socket
    opened before the server starts cannot take it)."""
    import random
    import socket

    def bindable(port):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
            return True

    pick = random.SystemRandom()
    for _ in range(200):
        port = pick.randint(20000, 32000)
        if port not in _HANDED_OUT and bindable(port):
            _HANDED_OUT.add(port)
            return port
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def make_fake_manager(directory, backup_root=None, reporter=None,
                      manager_cls=None):
    """Build an unprepared fake manager living under ``directory``.

    Uses the fake's classes directly; backups and restores load the
    ``fake-copy`` strategy through the ``trove-ds-fake`` test
    distribution's entry points. Every tier is allowed.

    :param directory: where data, state and (unless given) backups live.
    :param backup_root: the backup storage root, shared between
        instances that restore each other's backups.
    :param manager_cls: a subclass of the fake manager to build instead.
    """
    from oslo_config import cfg

    from trove_guest_base.testing import manager
    from trove_guest_base.testing import options

    directory = os.fspath(directory)
    conf = cfg.ConfigOpts()
    for group, opts in options.list_guest_opts():
        # a fresh group per ConfigOpts, as register_side does: a shared
        # OptGroup would share overrides between managers
        conf.register_opts(opts, group=cfg.OptGroup(
            group.name, title=group.title, help=group.help))
    conf([], project="trove-test", default_config_files=[])
    allow_all_tiers(conf)
    conf.set_override("mount_point", os.path.join(directory, "data"),
                      group="fake")
    conf.set_override("backup_storage_root",
                      os.fspath(backup_root or os.path.join(directory,
                                                            "backups")),
                      group="fake")
    manager_cls = manager_cls or manager.FakeManager
    return manager_cls("fake", conf, os.path.join(directory, "state"),
                       reporter=reporter or RecordingReporter())


class Spawner:
    """Gives new, unprepared instances of an installed plugin, for the
    conformance kit's ``trove_spawn`` fixture; a context manager that
    stops them all on exit.

    Each instance lives in ``directory/<n>`` (``mount_point`` is
    ``directory/<n>/data``) and, when the datastore has a ``port``
    option, gets a port of its own (:func:`server_port`); instances share
    ``directory/backups`` as ``backup_storage_root`` when the datastore
    has that option. ``options`` may override any of these.

    Without ``directory`` the spawner makes one under the system's
    temporary directory that a service user can enter (mode 0711: enter,
    not list; pytest's own temporary directories are root-only), and
    removes it on exit. A run as root then starts each server as the
    datastore's ``service_user`` (see
    :func:`trove_guest_base.process.make_runner`).

    :param datastore: the installed datastore name.
    :param directory: a directory for the instances, or ``None``.
    :param probe_factory: called with the manager; returns its probe.
    :param options: called with an instance directory; returns more
        guest option overrides.
    """

    def __init__(self, datastore, directory=None, probe_factory=None,
                 options=None):
        if probe_factory is None:
            raise TypeError("Spawner(%r) needs probe_factory: a callable "
                            "taking the manager and returning its probe"
                            % (datastore,))
        self.datastore = datastore
        self._own = directory is None
        if self._own:
            import tempfile

            directory = tempfile.mkdtemp(prefix="trove-%s-" % datastore)
            os.chmod(directory, 0o711)  # noqa: S103 (enter, not list)
        self.directory = os.fspath(directory)
        self.probe_factory = probe_factory
        self.options = options
        self.instances = []

    def __call__(self):
        """Return a new :class:`~trove_guest_base.conformance.Instance`."""
        from trove_guest_base.conformance import probe

        where = os.path.join(self.directory, str(len(self.instances)))
        os.makedirs(where)
        if self._own:
            os.chmod(where, 0o711)  # noqa: S103 (enter, not list)
        overrides = {"mount_point": os.path.join(where, "data")}
        conf = make_conf(self.datastore)
        group = conf[self.datastore]
        if "backup_storage_root" in group:
            overrides["backup_storage_root"] = os.path.join(
                self.directory, "backups")
        if "port" in group:
            overrides["port"] = server_port()
        if self.options:
            overrides.update(self.options(where))
        manager = make_manager(self.datastore, where, **overrides)
        instance = probe.Instance(manager, self.probe_factory(manager))
        self.instances.append(instance)
        return instance

    def close(self):
        """Stop every instance that still runs; remove the directory the
        spawner made."""
        try:
            for instance in self.instances:
                if instance.manager.probe_status().is_running:
                    instance.manager.do_stop()
        finally:
            if self._own:
                import shutil

                shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()
