"""``BaseDatastoreManager``: the shared behaviour of every datastore.

A plugin's manager subclasses it, implements the abstract hooks of the
lifecycle, and declares the other capabilities it implements::

    @zope.interface.implementer(ILifecycle, IDatabases, IUsers)
    class MySQLManager(BaseDatastoreManager):
        def do_prepare(self, request): ...

The base owns what every datastore shares: the ``prepare`` sequence and
its persisted outcome (a prepared guest stays prepared across restarts),
status tracking, stop/restart, filesystem stats, generated passwords and
0600 secret files. Any guest operation of a capability the manager does not
declare raises :class:`~trove_core.exceptions.OperationNotSupported`
before anything touches the datastore.
"""

import abc
import dataclasses
import functools
import json
import logging
import os
import secrets
import string
import time

from zope.interface import implementer

from trove_core import capabilities as caps
from trove_core import exceptions
from trove_core import models
from trove_core.status import NullReporter
from trove_core.status import ServiceStatus

__all__ = ["BaseDatastoreManager", "CLUSTER_MEMBER_TYPES", "PrepareRequest",
           "check_cluster_config"]

LOG = logging.getLogger(__name__)

_PASSWORD_ALPHABET = string.ascii_letters + string.digits

#: the ``instance_type`` values of Trove's ``cluster_config``.
CLUSTER_MEMBER_TYPES = ("member", "config_server", "query_router")
#: the ``cluster_config`` keys kept in the membership record (never the
#: MongoDB ``key``, a secret the plugin stores in a 0600 file).
_MEMBER_KEYS = ("id", "instance_type", "shard_id", "replica_set_name")


def check_cluster_config(cluster_config):
    """Check the common part of ``prepare``'s ``cluster_config``.

    :param cluster_config: ``{"id": <cluster id>, "instance_type":
        "member"|"config_server"|"query_router", ...}``; keys beyond the
        common ones are the cluster family's and left to the plugin.
    :returns: the membership record to persist: ``id``,
        ``instance_type`` (``member`` by default), ``shard_id`` and
        ``replica_set_name`` when given, ``role`` (the instance type
        until the plugin sets another) and ``complete`` (false).
    :raises BadRequest: naming the malformed field.
    """
    if not isinstance(cluster_config, dict):
        raise exceptions.BadRequest(
            reason="cluster_config must be a mapping with at least 'id', "
            "got %s" % type(cluster_config).__name__)
    cluster_id = cluster_config.get("id")
    if not isinstance(cluster_id, str) or not cluster_id.strip():
        raise exceptions.BadRequest(
            reason="cluster_config needs the cluster's 'id' (a non-empty "
            "string), got %r" % (cluster_id,))
    models.check_name("cluster id", cluster_id, 128)
    kind = cluster_config.get("instance_type") or "member"
    if kind not in CLUSTER_MEMBER_TYPES:
        raise exceptions.BadRequest(
            reason="cluster_config instance_type %r is unknown; use one of "
            "%s" % (kind, list(CLUSTER_MEMBER_TYPES)))
    record = {"id": cluster_id, "instance_type": kind}
    for key in ("shard_id", "replica_set_name"):
        value = cluster_config.get(key)
        if value is not None:
            record[key] = models.check_name(key, value, 128)
    record.update(role=kind, complete=False, failed=None)
    return record


@dataclasses.dataclass(frozen=True)
class PrepareRequest:
    """The arguments of ``prepare``, typed, for :meth:`do_prepare`."""

    memory_mb: int = None
    packages: tuple = ()
    databases: tuple = ()
    users: tuple = ()
    device_path: str = None
    mount_point: str = None
    backup_info: dict = None
    config_contents: str = None
    root_password: str = dataclasses.field(default=None, repr=False)
    overrides: dict = None
    cluster_config: dict = None
    snapshot: dict = None
    modules: tuple = ()
    ds_version: str = None


@implementer(caps.ILifecycle)
class BaseDatastoreManager(abc.ABC):
    """Base of every datastore manager.

    :param name: the datastore name (its entry-point name).
    :param conf: the process's ``ConfigOpts`` with the guest options of
        this datastore registered.
    :param state_dir: a private directory for the guest's state and
        secrets (created 0700).
    :param reporter: receives status changes and progress; see
        :class:`~trove_core.status.NullReporter`.
    """

    def __init__(self, name, conf, state_dir, reporter=None):
        self.name = name
        self.conf = conf
        self.state_dir = os.fspath(state_dir)
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        self.reporter = reporter or NullReporter()
        self._state = self._load_state()
        member = self._state.get("cluster_member") or {}
        self._status = (ServiceStatus.FAILED
                        if self._state.get("failed") or member.get("failed")
                        else ServiceStatus.NEW)

    # -- what the plugin implements --------------------------------------

    @abc.abstractmethod
    def do_prepare(self, request):
        """Initialize storage, restore ``request.backup_info`` when given,
        render the configuration, start the datastore and secure it.

        :param request: a :class:`PrepareRequest`.
        """

    @abc.abstractmethod
    def do_start(self):
        """Start the datastore process and wait until it serves."""

    @abc.abstractmethod
    def do_stop(self):
        """Stop the datastore process and wait until it is gone."""

    @abc.abstractmethod
    def probe_status(self):
        """Return the real :class:`~trove_core.status.ServiceStatus` of the
        datastore process (``RUNNING``/``HEALTHY``, ``SHUTDOWN``,
        ``CRASHED``...)."""

    @abc.abstractmethod
    def write_config(self, config_contents):
        """Replace the datastore's base configuration with
        ``config_contents`` (used on the next start)."""

    def do_cluster_complete(self):
        """Hook run by ``cluster_complete`` before the member is marked
        complete (a cluster plugin may check or finish its own state
        here); the default does nothing."""
        return None

    # -- capabilities ------------------------------------------------------

    @classmethod
    def capabilities(cls):
        """The capability names this manager declares, sorted."""
        return caps.capabilities_of(cls)

    @classmethod
    def operations(cls):
        """The guest operations this manager exposes, by name."""
        names = {}
        for iface in caps.interfaces_of(cls):
            for op in iface.names():
                names[op] = caps.OPERATIONS[op]
        return names

    def operation(self, name):
        """Return the bound method for guest operation ``name``.

        :raises UnknownOperation: ``name`` is not a guest operation.
        :raises OperationNotSupported: its capability is not declared.
        """
        if name not in caps.OPERATIONS:
            raise exceptions.UnknownOperation(operation=name)
        if name not in self.operations():
            LOG.warning("refusing %s: datastore %s does not declare the "
                        "%r capability", name, self.name,
                        caps.OPERATIONS[name].capability)
            raise exceptions.OperationNotSupported(datastore=self.name,
                                                   operation=name)
        if caps.is_cluster_operation(name):
            self.require_cluster_member(name)
            return self._cluster_guarded(name, getattr(self, name))
        return getattr(self, name)

    def _cluster_guarded(self, name, func):
        """``func`` recording the member ``failed`` when a mutating
        cluster operation raises, and clearing that when one succeeds."""
        if not caps.OPERATIONS[name].mutating:
            return func

        @functools.wraps(func)
        def guarded(*args, **kwargs):
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                LOG.error("cluster operation %s failed on datastore %s: %s",
                          name, self.name, type(exc).__name__)
                self.cluster_failed(name, exc)
                raise
            if (self.cluster_member or {}).get("failed"):
                self.update_cluster_member(failed=None)
                LOG.info("cluster operation %s succeeded: member %s is no "
                         "longer failed", name, self.name)
                self._status = ServiceStatus.NEW
                self.refresh_status()
            return result
        return guarded

    def __getattr__(self, name):
        if name in caps.OPERATIONS:
            datastore = self.__dict__.get("name", type(self).__name__)

            def unsupported(*_args, **_kwargs):
                raise exceptions.OperationNotSupported(datastore=datastore,
                                                       operation=name)
            unsupported.__name__ = name
            return unsupported
        raise AttributeError("%r object has no attribute %r"
                             % (type(self).__name__, name))

    def supports(self, capability):
        """Whether this manager declares ``capability``."""
        return capability in self.capabilities()

    # -- options, state and secrets ----------------------------------------

    @property
    def options(self):
        """This datastore's guest option group."""
        return self.conf[self.name]

    def _state_path(self):
        return os.path.join(self.state_dir, "guest-state.json")

    def _load_state(self):
        try:
            with open(self._state_path(), encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    def _save_state(self, **changes):
        from trove_core import files

        self._state.update(changes)
        files.atomic_write(self._state_path(),
                           json.dumps(self._state, sort_keys=True),
                           mode=0o600)

    @property
    def prepared(self):
        """Whether ``prepare`` has completed on this guest, ever."""
        return bool(self._state.get("prepared"))

    @property
    def start_on_boot(self):
        """Whether the datastore should run when the guest starts (false
        after ``stop_db(do_not_start_on_reboot=True)``)."""
        return self._state.get("start_on_boot", True) is not False

    def secret_path(self, name):
        """The 0600 file that holds secret ``name``."""
        models.check_name("secret", name)
        if "/" in name or name.startswith("."):
            raise exceptions.InvalidIdentifier(
                kind="secret", value=name, reason="it must be a bare name")
        return os.path.join(self.state_dir, "secrets", name)

    def store_secret(self, name, value):
        """Keep a secret (an admin password...) in a 0600 file."""
        from trove_core import files

        files.write_secret(self.secret_path(name), value)

    def load_secret(self, name):
        """Return a stored secret, or ``None``."""
        from trove_core import files

        return files.read_secret(self.secret_path(name))

    def generate_password(self, length=None):
        """Return a random password of the configured length."""
        length = length or self.options.default_password_length
        return "".join(secrets.choice(_PASSWORD_ALPHABET)
                       for _ in range(length))

    # -- cluster membership (ICluster's common protocol) ----------------

    @property
    def cluster_member(self):
        """The membership record (a copy) of a guest prepared with a
        ``cluster_config``, or ``None``: ``id``, ``instance_type``,
        ``role``, ``complete``, ``failed`` and what the plugin added with
        :meth:`update_cluster_member`. Kept in the guest's state file, so
        it survives a guest restart."""
        member = self._state.get("cluster_member")
        return dict(member) if member else None

    @property
    def is_cluster_member(self):
        """Whether this guest was prepared as a cluster member."""
        return bool(self._state.get("cluster_member"))

    def require_cluster_member(self, operation):
        """Refuse ``operation`` unless this guest is a cluster member.

        :raises NotClusterMember: naming the operation and what to do.
        """
        if not self.is_cluster_member:
            raise exceptions.NotClusterMember(datastore=self.name,
                                              operation=operation)

    def update_cluster_member(self, **changes):
        """Persist ``changes`` (JSON-safe, never secrets) into the
        membership record: the plugin records a member's ``role``
        (``primary``, ``seed``, ``bootstrap``...) and family state here.
        """
        member = dict(self._state.get("cluster_member") or {})
        if not member:
            raise exceptions.NotClusterMember(datastore=self.name,
                                              operation="update")
        member.update(changes)
        self._save_state(cluster_member=member)

    def cluster_failed(self, operation, exc):
        """Record that cluster ``operation`` failed with ``exc``: the
        member reports ``failed`` (also after a guest restart) until a
        cluster operation succeeds."""
        reason = ("%s: %s" % (operation, exc))[:500]
        if self.is_cluster_member:
            self.update_cluster_member(failed=reason)
        self.set_status(ServiceStatus.FAILED)

    def cluster_complete(self):
        """See :meth:`trove_core.capabilities.ICluster.cluster_complete`:
        runs :meth:`do_cluster_complete`, marks the member complete, and
        from then on reports the datastore's real status."""
        self.require_cluster_member("cluster_complete")
        self.do_cluster_complete()
        self.update_cluster_member(complete=True, failed=None,
                                   completed_at=time.time())
        self._status = ServiceStatus.NEW
        self.refresh_status()

    # -- status ------------------------------------------------------------

    @property
    def status(self):
        """The last known :class:`~trove_core.status.ServiceStatus`."""
        return self._status

    def set_status(self, status):
        """Record ``status`` and tell the reporter when it changed."""
        if status is not self._status:
            LOG.info("datastore %s status: %s -> %s", self.name,
                     self._status.value, status.value)
            self._status = status
            self.reporter.status_changed(status)

    def refresh_status(self):
        """Probe the datastore, record and return its status.

        While ``prepare`` runs or after it failed, those statuses stand.
        """
        if self._status in (ServiceStatus.BUILDING, ServiceStatus.FAILED):
            return self._status
        if not self.prepared:
            return self._status
        status = self.probe_status()
        member = self._state.get("cluster_member")
        if member and not member.get("complete") and status.is_running:
            status = ServiceStatus.INSTANCE_READY
        self.set_status(status)
        return self._status

    # -- lifecycle (ILifecycle) ------------------------------------------

    def prepare(self, memory_mb, packages, databases, users,
                device_path=None, mount_point=None, backup_info=None,
                config_contents=None, root_password=None, overrides=None,
                cluster_config=None, snapshot=None, modules=None,
                ds_version=None):
        """See :meth:`trove_core.capabilities.ILifecycle.prepare`."""
        if self.prepared:
            LOG.info("datastore %s is already prepared; ensuring it runs",
                     self.name)
            if not self.probe_status().is_running:
                self.do_start()
            self.refresh_status()
            return
        request = PrepareRequest(
            memory_mb=memory_mb, packages=tuple(packages or ()),
            databases=tuple(databases or ()), users=tuple(users or ()),
            device_path=device_path, mount_point=mount_point,
            backup_info=backup_info, config_contents=config_contents,
            root_password=root_password, overrides=overrides,
            cluster_config=cluster_config, snapshot=snapshot,
            modules=tuple(modules or ()), ds_version=ds_version)
        self.set_status(ServiceStatus.BUILDING)
        started = time.monotonic()
        try:
            # refused before anything is touched, never dropped
            apply_modules = (self.operation("module_apply")
                             if request.modules else None)
            if cluster_config:
                member = check_cluster_config(cluster_config)
                if not self.supports("cluster"):
                    raise exceptions.BadRequest(
                        reason="datastore %r does not declare the cluster "
                        "capability; create it as a single instance (no "
                        "cluster_config)" % self.name)
                self._save_state(cluster_member=member)
            self.reporter.progress("prepare", 0, 3, "initializing")
            self.do_prepare(request)
            self.reporter.progress("prepare", 1, 3, "datastore started")
            if request.databases:
                self.operation("create_database")(request.databases)
            if request.users:
                self.operation("create_user")(request.users)
            if request.root_password:
                self.operation("enable_root_with_password")(
                    request.root_password)
            if apply_modules is not None:
                apply_modules(list(request.modules))
        except Exception as exc:
            LOG.error("prepare of datastore %s failed: %s", self.name,
                      type(exc).__name__)
            self._save_state(prepared=False, failed=True,
                             failure=str(exc)[:500])
            self._status = ServiceStatus.BUILDING
            self.set_status(ServiceStatus.FAILED)
            raise
        self._save_state(prepared=True, failed=False, failure=None,
                         prepared_at=time.time(), ds_version=ds_version)
        self.reporter.progress("prepare", 3, 3, "prepared in %.1f s"
                               % (time.monotonic() - started))
        self._status = ServiceStatus.NEW
        self.refresh_status()

    def restart(self):
        """Stop then start the datastore."""
        self.do_stop()
        self.set_status(ServiceStatus.SHUTDOWN)
        self.do_start()
        self.refresh_status()

    def stop_db(self, do_not_start_on_reboot=False):
        """Stop the datastore."""
        self.do_stop()
        self._save_state(start_on_boot=not do_not_start_on_reboot)
        self.set_status(ServiceStatus.SHUTDOWN)

    def start_db_with_conf_changes(self, config_contents, ds_version=None):
        """Write ``config_contents`` then start the datastore."""
        if self.probe_status().is_running:
            raise exceptions.BadRequest(
                reason="datastore %r is running; stop it before starting "
                "it with a new configuration" % self.name)
        if config_contents:
            self.write_config(config_contents)
        self.do_start()
        self._save_state(start_on_boot=True)
        self.refresh_status()

    def reset_configuration(self, configuration):
        """Write the base configuration; applied on the next start."""
        contents = configuration
        if isinstance(configuration, dict):
            contents = configuration.get("config_contents")
        if not isinstance(contents, str):
            raise exceptions.BadRequest(
                reason="configuration must be a string or a mapping with "
                "'config_contents'")
        self.write_config(contents)

    def get_filesystem_stats(self, fs_path):
        """Sizes of the filesystem holding ``fs_path``, Trove's shape."""
        path = fs_path or self.options.mount_point
        try:
            stats = os.statvfs(path)
        except OSError as exc:
            raise exceptions.BadRequest(
                reason="cannot stat filesystem at %r: %s"
                % (path, exc.strerror)) from None
        gib = 1024.0 ** 3
        total = stats.f_blocks * stats.f_frsize
        free = stats.f_bavail * stats.f_frsize
        return {"block_size": stats.f_frsize,
                "total_blocks": stats.f_blocks,
                "free_blocks": stats.f_bavail,
                "total": round(total / gib, 2),
                "free": round(free / gib, 2),
                "used": round((total - stats.f_bfree * stats.f_frsize)
                              / gib, 2)}
