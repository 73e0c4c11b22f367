"""The strategy contract: backup and replication strategies of a plugin.

A datastore declares its strategies in its descriptor
(:class:`trove_core.descriptor.Strategy`, each with its own tier) and
registers each class under the same name in
``trove.guestagent.backup_strategies`` or
``trove.guestagent.replication_strategies``. The guest loads one with
:func:`load_strategy`, which checks, in this order, that the name is
declared by the datastore, that the tier policy allows it, that it is
installed, and that it subclasses the right base; each refusal says what
to change.

A backup strategy moves bytes (:meth:`BackupStrategy.backup`,
:meth:`BackupStrategy.restore`); the reporting, storage, key and
checksum checks around it are shared
(:class:`trove_guest_base.backup.BackupOperations`). A replication
strategy's methods stay datastore-specific; the base only fixes how it is
named, constructed and loaded.
"""

import abc
import logging

from trove_core import exceptions

__all__ = ["BackupStrategy", "KINDS", "ReplicationStrategy",
           "Strategy", "load_strategy"]

LOG = logging.getLogger(__name__)

#: kind -> (entry-point group, guest option naming the default)
KINDS = {
    "backup": ("trove.guestagent.backup_strategies", "backup_strategy"),
    "replication": ("trove.guestagent.replication_strategies",
                    "replication_strategy"),
}


class Strategy:
    """Base of every strategy: a name and the manager it works for.

    :param manager: the datastore's manager (a
        :class:`~trove_core.manager.BaseDatastoreManager`).
    """

    #: the entry name in its group, equal to the descriptor's name.
    name = None
    #: ``backup`` or ``replication``.
    kind = None

    def __init__(self, manager):
        self.manager = manager

    def __repr__(self):
        return "<%s %r of %r>" % (type(self).__name__, self.name,
                                  getattr(self.manager, "name", "?"))


class BackupStrategy(Strategy, abc.ABC):
    """A way to back up and restore one datastore.

    Implementations stream through the shared pipeline
    (:func:`trove_guest_base.backup.run_backup`,
    :func:`~trove_guest_base.backup.run_restore`) and record
    ``strategy=self.name`` in the stored metadata (see :meth:`metadata`),
    which is how a restore finds the strategy of a backup.
    """

    kind = "backup"
    #: whether :meth:`backup` accepts a ``parent`` (incremental backups).
    incremental = False
    #: the file name suffix of its objects (``.sql.gz``...).
    suffix = ".gz"
    #: suffixes of the objects it keeps beside a backup
    #: (``<location>.checkpoints``...); never a requested location.
    sidecars = ()

    def unavailable(self):
        """Why this strategy cannot run on this machine (its tool is not
        installed...), or ``None``; the conformance kit skips it then."""
        return None

    def location(self, backup_id):
        """The default location of backup ``backup_id`` in storage.

        :param backup_id: a validated bare name.
        """
        return "%s%s" % (backup_id, self.suffix)

    def metadata(self, **extra):
        """The metadata every backup of this strategy stores.

        :param extra: strategy-specific fields.
        :returns: a dict with ``strategy`` and ``datastore`` set.
        """
        return dict(extra, strategy=self.name,
                    datastore=getattr(self.manager, "name", None))

    @abc.abstractmethod
    def backup(self, storage, location, parent=None, key=None,
               progress=None):
        """Stream a backup of the datastore to ``storage``.

        :param storage: a :class:`~trove_guest_base.backup.StorageDriver`.
        :param location: where the backup goes in that storage.
        :param parent: ``{"location", "checksum"}`` of the parent backup
            for an incremental one; only when :attr:`incremental`.
        :param key: 32 bytes to encrypt with, or ``None``.
        :param progress: called with the raw bytes read so far.
        :returns: the :class:`~trove_guest_base.backup.BackupResult`.
        :raises BackupError: nothing was committed.
        :raises BadRequest: the request cannot be honoured (an incremental
            backup of a strategy that has none).
        """

    @abc.abstractmethod
    def restore(self, storage, location, key=None, progress=None):
        """Restore the backup at ``location`` (its checksum is verified
        before any data is touched).

        :param storage: a :class:`~trove_guest_base.backup.StorageDriver`.
        :param location: the backup to restore.
        :param key: the key the backup was encrypted with, or ``None``.
        :param progress: called with the raw bytes restored so far.
        :returns: strategy-specific facts about the restored data (a
            dict), or the bytes restored.
        :raises BackupError: the data was not put in place.
        """


class ReplicationStrategy(Strategy):
    """A way to replicate one datastore; its operations are the
    datastore's own (the manager's ``IReplication`` methods call them),
    so the base has no abstract methods: it fixes the name, the kind,
    the constructor and how the class is loaded."""

    kind = "replication"


_BASES = {"backup": BackupStrategy, "replication": ReplicationStrategy}


def _descriptor(manager):
    desc = getattr(manager, "descriptor", None)
    if desc is not None:
        return desc
    from trove_core import discovery

    return discovery.find(manager.name).descriptor


def _policy(manager):
    from oslo_config import cfg

    from trove_core import tiers

    try:
        allowed = manager.conf.allowed_tiers
    except (cfg.NoSuchOptError, AttributeError):
        LOG.debug("[DEFAULT] allowed_tiers is not registered; applying "
                  "the default tier policy")
        return tiers.TierPolicy()
    return tiers.TierPolicy(allowed)


def load_strategy(manager, kind, name=None):
    """Load the ``kind`` strategy ``name`` for ``manager``.

    :param manager: the datastore's manager; its ``descriptor`` (or the
        installed plugin's) lists the declared strategies, its ``conf``
        holds ``[DEFAULT] allowed_tiers``.
    :param kind: ``backup`` or ``replication``.
    :param name: the strategy; defaults to the guest option
        ``backup_strategy`` / ``replication_strategy``.
    :returns: an instance of the strategy class, constructed with
        ``manager``.
    :raises BadRequest: ``kind`` is unknown, or no name is given or
        configured, or the datastore does not declare ``name``.
    :raises TierNotAllowed: the tier policy refuses the strategy.
    :raises PluginNotFound: no class is registered under ``name``.
    :raises PluginValidationError: the class is not a subclass of
        :class:`BackupStrategy` / :class:`ReplicationStrategy`.
    """
    if kind not in KINDS:
        raise exceptions.BadRequest(
            reason="unknown strategy kind %r; kinds are %s"
            % (kind, sorted(KINDS)))
    group, option = KINDS[kind]
    datastore = getattr(manager, "name", "?")
    if name is None:
        name = getattr(manager.options, option, None)
    desc = _descriptor(manager)
    declared = sorted(s.name for s in desc.strategies if s.kind == kind)
    if not name:
        raise exceptions.BadRequest(
            reason="no %s strategy configured for datastore %r; set "
            "[%s] %s to one of %s" % (kind, datastore, datastore, option,
                                      declared))
    strategy = desc.strategy(name)
    if strategy is None or strategy.kind != kind:
        raise exceptions.BadRequest(
            reason="datastore %r declares no %s strategy %r; declared: %s "
            "(set [%s] %s to one of them)" % (datastore, kind, name,
                                               declared, datastore, option))
    _policy(manager).check(name, strategy.tier, kind="%s strategy" % kind)
    cls = _load_class(group, name, datastore)
    base = _BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise exceptions.PluginValidationError(
            name=datastore, reason="%s strategy %r (%s) is %r, not a "
            "subclass of %s.%s" % (kind, name, group, cls, base.__module__,
                                   base.__name__))
    return cls(manager)


def _load_class(group, name, datastore):
    from stevedore import driver

    def reraise(_mgr, _ep, exc):
        raise exc

    try:
        mgr = driver.DriverManager(group, name, invoke_on_load=False,
                                   on_load_failure_callback=reraise)
    except Exception as exc:  # stevedore raises several unrelated types
        raise exceptions.PluginNotFound(
            "strategy %r of datastore %r could not be loaded from %s: "
            "%s: %s; reinstall the plugin that declares it"
            % (name, datastore, group, type(exc).__name__, exc),
            name=name, installed=[]) from exc
    return mgr.driver
