"""How the conformance kit looks at a datastore from outside the guest.

A manager can claim anything about itself; the kit believes only what a
:class:`Probe` sees through the datastore's own client. A plugin gives
one probe per instance it spawns (see :class:`Instance`). A probe may use
the admin credential the manager stored (as an operator would), but it
must never call the manager's operations: its answers have to come from
the datastore.

Which methods a probe needs depends on the capabilities declared:

==================  ================================================
capability          probe methods used
==================  ================================================
lifecycle           :meth:`Probe.engine`, :meth:`Probe.is_running`
databases           :meth:`Probe.database_exists`
users, access,      :meth:`Probe.can_login`
root
backup,             :meth:`Probe.write_marker`, :meth:`Probe.read_marker`
replication
configuration       :meth:`Probe.config_value`
users (secrets)     :meth:`Probe.datastore_dirs`
backup (locks)      :meth:`Probe.tenant_lock` (optional)
==================  ================================================

A method the kit needs and the probe lacks fails the test that needs it,
naming the method.
"""

import abc
import dataclasses

__all__ = ["Instance", "Probe"]

_NO_LOCK = None


@dataclasses.dataclass
class Instance:
    """One datastore instance the kit drives: the plugin's own manager
    and a probe looking at the same datastore.

    :param manager: a manager of the plugin (prepared or not, as the
        fixture that gives it says).
    :param probe: a :class:`Probe` for the same datastore.
    """

    manager: object
    probe: "Probe"


class Probe(abc.ABC):
    """Checks effects through the datastore's own client.

    :cvar live: ``True`` when the datastore is a real server (the report
        records it; a stable tier needs a live run).
    :cvar root_user: the superuser name :meth:`can_login` is asked about
        after ``enable_root``.
    """

    live = True
    root_user = "root"

    def _missing(self, method, capability):
        return NotImplementedError(
            "%s does not implement %s(), which the conformance kit needs "
            "to verify capability %r; implement it in the plugin's probe"
            % (type(self).__name__, method, capability))

    @abc.abstractmethod
    def engine(self):
        """Return ``{"name": ..., "version": ...}`` of the running server,
        as the server itself reports it."""

    @abc.abstractmethod
    def is_running(self):
        """Whether the server accepts connections now."""

    def database_exists(self, name):
        """Whether database ``name`` (exactly that string) exists."""
        raise self._missing("database_exists", "databases")

    def can_login(self, user, password, database=None, host=None):
        """Whether ``user`` can log in with ``password`` (and use
        ``database`` when given) through the datastore's client.

        :param host: the host the user was created for; a probe that
            cannot pick its client's address may ignore it.
        :returns: ``False`` when the server refuses, never raises for a
            refusal.
        """
        raise self._missing("can_login", "users")

    def write_marker(self, key, value):
        """Store ``value`` under ``key`` somewhere a backup and a replica
        carry (the probe chooses where)."""
        raise self._missing("write_marker", "backup")

    def read_marker(self, key):
        """Return what :meth:`write_marker` stored under ``key``, or
        ``None``."""
        raise self._missing("read_marker", "backup")

    def config_value(self, name):
        """Return the running value of configuration parameter ``name``
        (as the server reports it; compared as text)."""
        raise self._missing("config_value", "configuration")

    def datastore_dirs(self):
        """The directories the datastore itself writes (data, logs,
        binary logs...): the kit scans every file under them for the
        passwords it used."""
        raise self._missing("datastore_dirs", "users")

    def tenant_lock(self, user, password, database):
        """A context manager holding, as the ordinary user ``user``
        (created by the kit with full access to ``database``), what
        stalls this datastore's backup (MySQL: ``LOCK TABLES t WRITE``;
        Redis: a busy script), or ``None`` when a tenant can hold
        nothing that would."""
        return _NO_LOCK
