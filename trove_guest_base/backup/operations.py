"""The backup operations every datastore shares, as a manager mixin.

A manager that declares ``IBackup`` mixes :class:`BackupOperations` in
and registers its :class:`~trove_guest_base.backup.strategy.BackupStrategy`
classes; everything around the bytes is here, once::

    @implementer(caps.ILifecycle, caps.IBackup)
    class Manager(backup.BackupOperations, manager.BaseDatastoreManager):
        def do_prepare(self, request):
            if request.backup_info:
                self.restore_backup(request.backup_info)
            ...

``create_backup`` resolves the strategy (``backup_info["type"]``, else
the ``backup_strategy`` option, else, for a backup with a ``parent``, the
declared strategy that makes incremental backups), the storage driver
(``backup_info["storage_driver"]``, else the ``backup_storage`` option)
and the key, reports ``BUILDING``, streams, and reports ``COMPLETED``
with ``size``, ``checksum``, ``location`` and ``backup_type`` (``full``
or ``incremental``: the states and fields of Trove's conductor
``update_backup``; an object store reports its URL and ETag), or
``FAILED`` with the reason in ``description`` (the field of Trove's
backup record a user sees) and re-raises: a failed backup is never
reported complete.

Why a mixin rather than methods on
:class:`~trove_core.manager.BaseDatastoreManager`: a manager's capability
set is what it declares, and the base answers every operation of an
undeclared capability with ``OperationNotSupported``. Methods on the base
would put ``create_backup`` on every manager, declared or not; a mixin
keeps "has the backup operations" and "declares ``IBackup``" together.
"""

import dataclasses
import json
import logging
import os
import re
import stat
import time

from trove_core import exceptions
from trove_guest_base.backup import pipeline as pipeline_mod
from trove_guest_base.backup import storage as storage_mod
from trove_guest_base.backup import strategy as strategy_mod

__all__ = ["BackupOperations", "failure_description", "read_key"]

LOG = logging.getLogger(__name__)

#: Backup ids become file names: letters, digits, '_', '.', '-'.
BACKUP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
#: Trove's conductor backup states.
BUILDING, COMPLETED, FAILED = "BUILDING", "COMPLETED", "FAILED"
#: Trove's backup types (its records' ``backup_type``).
TROVE_FULL, TROVE_INCREMENTAL = "full", "incremental"
#: Trove's ``backups.description`` column holds 512 characters.
_DESCRIPTION_MAX = 512
_GIB = 1024.0 ** 3
_HEX = re.compile(r"[0-9A-Fa-f]{64}")


def read_key(path, option="backup_encryption_key_file", backup_id="-"):
    """Read a backup encryption key from a 0600 file.

    The file holds the 32 key bytes, or 64 hex digits (a trailing
    newline is ignored).

    :param path: the key file.
    :param option: the option that names it, for messages.
    :param backup_id: the backup it is read for, for messages.
    :returns: the 32-byte key.
    :raises BackupKeyError: the file is unreadable, does not hold a key,
        or group or others may access it.
    """
    def refuse(reason):
        return exceptions.BackupKeyError(backup_id=backup_id,
                                         reason=reason, option=option)

    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read(1024)
    except OSError as exc:
        raise refuse("cannot read the backup key file %r: %s (check %s)"
                     % (path, exc.strerror, option)) from None
    if len(data) == 32:
        key = data
    else:
        text = data.strip().decode("ascii", "replace")
        if not _HEX.fullmatch(text):
            raise refuse(
                "the backup key file %r holds %d bytes; it must hold "
                "exactly 32 bytes or 64 hex digits (a 256-bit key; check "
                "%s)" % (path, len(data), option))
        key = bytes.fromhex(text)
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise refuse("the backup key file %r is mode %04o; group and "
                     "others must have no access (chmod 600 %s)"
                     % (path, stat.S_IMODE(info.st_mode), path))
    return key


#: what a backup journal keeps of backup_info: where the backup goes.
_JOURNAL_KEYS = ("storage_driver", "swift_url", "swift_container")


def _remove(path):
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _as_trove_sees_it(storage, result):
    # An object store names its objects by URL and checks them by ETag:
    # report those, so Trove finds, verifies and deletes what it records.
    reference = getattr(storage, "reference", None)
    if reference is None:
        return result
    location, checksum = reference(result.location)
    return dataclasses.replace(result, location=location, checksum=checksum)


def failure_description(backup_info, reason):
    """The backup record's description telling why it failed.

    Trove's conductor keeps only the fields of its backup record;
    ``description`` is the one a user sees next to ``FAILED``. The
    user's own description is kept in front.
    """
    own = (backup_info or {}).get("description") if isinstance(
        backup_info, dict) else None
    text = "backup failed: %s" % reason
    if own:
        text = "%s (%s)" % (own, text)
    return text[:_DESCRIPTION_MAX]


class BackupOperations:
    """``IBackup`` for a manager, and the restore its ``do_prepare`` runs.

    The manager provides ``name``, ``options`` (with the common guest
    options ``backup_strategy``, ``backup_storage``,
    ``backup_storage_root`` and ``backup_encryption_key_file``),
    ``conf`` and ``reporter``. The datastore's descriptor (its declared
    strategies) is found through discovery unless the manager sets
    :attr:`descriptor`.
    """

    #: Trove's backup type names (``backup_info["type"]``) -> this
    #: datastore's strategy names.
    backup_type_aliases = {}

    #: the datastore's descriptor, when not found through discovery.
    descriptor = None

    # -- resolution --------------------------------------------------------

    def backup_strategy(self, name=None):
        """Load (once per name) a declared backup strategy.

        :param name: a strategy or Trove backup type name; defaults to
            the ``backup_strategy`` option.
        :returns: a :class:`~trove_guest_base.backup.BackupStrategy`.
        :raises BadRequest: the datastore does not declare it.
        :raises TierNotAllowed: the tier policy refuses it.
        :raises PluginNotFound: it is not installed.
        """
        if name in (TROVE_FULL, TROVE_INCREMENTAL):
            name = None  # Trove's record type, not a strategy
        name = self.backup_type_aliases.get(name, name)
        cache = self.__dict__.setdefault("_backup_strategies", {})
        key = name or self.options.backup_strategy
        if key not in cache:
            cache[key] = strategy_mod.load_strategy(self, "backup", name)
        return cache[key]

    def backup_storage(self, backup_info=None):
        """The storage driver ``backup_info`` names (Trove's
        ``storage_driver``), else the ``backup_storage`` option's.

        :raises PluginNotFound: no driver of that name is installed.
        """
        info = backup_info if isinstance(backup_info, dict) else {}
        name = info.get("storage_driver") or self.options.backup_storage
        return storage_mod.get_storage(
            name, root=self.options.backup_storage_root, options=self.options,
            conf=self.conf, backup_info=info)

    def backup_key(self, backup_id="-"):
        """The backup encryption key (32 bytes), or ``None`` when
        ``backup_encryption_key_file`` is unset.

        :raises BackupKeyError: the key file is unusable.
        """
        path = self.options.backup_encryption_key_file
        if not path:
            return None
        return read_key(path, "[%s] backup_encryption_key_file"
                        % self.name, backup_id)

    def _check_id(self, backup_info):
        backup_id = (backup_info or {}).get("id") if isinstance(
            backup_info, dict) else None
        if not isinstance(backup_id, str) or not BACKUP_ID.fullmatch(
                backup_id):
            raise exceptions.InvalidIdentifier(
                kind="backup", value=backup_id,
                reason="backup_info needs an 'id' of letters, digits, '_', "
                "'.' or '-' (at most 128)")
        return backup_id

    # -- IBackup -------------------------------------------------------------

    def create_backup(self, backup_info):
        """Stream a backup to storage and report it to the conductor.

        :param backup_info: Trove's dict: ``id`` (required),
            ``location``, ``type`` (a strategy, or a Trove backup type
            the datastore aliases), ``parent`` (``{"location",
            "checksum"}`` for an incremental backup).
        :returns: the :class:`~trove_guest_base.backup.BackupResult`.
        :raises InvalidIdentifier: the id is missing or not a bare name
            (nothing is reported).
        :raises BackupError: the backup failed, was reported ``FAILED``
            and nothing was committed; a typed error a strategy raised
            (``DatastoreError``, ``BadRequest``...) is re-raised as it is.
        """
        backup_id = self._check_id(backup_info)
        strategy = None
        parent = backup_info.get("parent")
        backup_type = TROVE_INCREMENTAL if parent else TROVE_FULL
        self.reporter.backup_update(backup_id, state=BUILDING,
                                    backup_type=backup_type)
        journal = None
        try:
            strategy = self.strategy_for_backup(backup_info)
            location = self._check_location(
                backup_info.get("location"), strategy) or strategy.location(
                    backup_id)
            storage = self.backup_storage(backup_info)
            journal = self._journal(backup_id, location, backup_info)
            with pipeline_mod.time_limits(stall=getattr(
                    self.options, "backup_stall_timeout", None)):
                result = strategy.backup(
                    storage, location, parent=parent,
                    key=self.backup_key(backup_id),
                    progress=lambda done: self.reporter.progress(
                        "backup", done, None, "bytes read"))
            result = _as_trove_sees_it(storage, result)
        except Exception as exc:
            _remove(journal)
            reason = "%s: %s" % (type(exc).__name__, exc)
            LOG.error("backup %s failed: %s", backup_id, reason)
            self.reporter.backup_update(
                backup_id, state=FAILED, backup_type=backup_type,
                success=False, reason=reason[:500],
                description=failure_description(backup_info, reason))
            if isinstance(exc, exceptions.TroveError):
                raise
            raise exceptions.BackupError(backup_id=backup_id,
                                         reason=reason) from exc
        _remove(journal)
        self.reporter.backup_update(
            backup_id, state=COMPLETED, size=result.size / _GIB,
            checksum=result.checksum, location=result.location,
            backup_type=backup_type, success=True)
        LOG.info("backup %s completed with %s: %d bytes stored in %.1f s",
                 backup_id, strategy.name, result.size, result.seconds)
        return result

    @staticmethod
    def _check_location(location, strategy):
        if location is None or location == "":
            return None
        storage_mod.check_location(location)
        for suffix in strategy.sidecars:
            if location.endswith(suffix):
                raise exceptions.BadRequest(
                    reason="backup location %s ends in %r, the name of "
                    "what strategy %r keeps beside a backup; give another "
                    "location" % (exceptions.bounded(location), suffix,
                                  strategy.name))
        return location

    def _journal_dir(self):
        return os.path.join(self.state_dir, "backups-running")

    def _journal(self, backup_id, location, backup_info=None):
        """Note a backup in flight, for :meth:`recover_backups`, with where
        it is stored (never a credential: a token stays out)."""
        from trove_guest_base import files

        where = {k: v for k, v in (backup_info or {}).items()
                 if k in _JOURNAL_KEYS and isinstance(v, str)}
        path = os.path.join(self._journal_dir(), backup_id + ".json")
        os.makedirs(self._journal_dir(), mode=0o700, exist_ok=True)
        files.atomic_write(path, json.dumps(
            {"id": backup_id, "location": location, "storage": where,
             "backup_type": (TROVE_INCREMENTAL
                             if (backup_info or {}).get("parent")
                             else TROVE_FULL),
             "started_at": time.time()}), mode=0o600)
        return path

    def recover_backups(self):
        """Settle the backups a killed guest left in flight (run once at
        start): each is reported ``FAILED`` and its unfinished upload is
        removed; one that was committed and verifies is reported
        ``COMPLETED`` instead.

        :returns: ``{backup_id: state}`` of what was settled.
        """
        directory = self._journal_dir()
        if not os.path.isdir(directory):
            return {}
        settled = {}
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    entry = json.load(handle)
                backup_id, location = entry["id"], entry["location"]
                where = entry.get("storage") or {}
                backup_type = entry.get("backup_type", TROVE_FULL)
            except (OSError, ValueError, KeyError, TypeError):
                LOG.warning("removing unreadable backup journal %s", path)
                _remove(path)
                continue
            settled[backup_id] = self._settle(backup_id, location, where,
                                             backup_type)
            _remove(path)
        return settled

    def recover_after_restart(self):
        """Settle what a killed guest left behind; the runtime calls it
        once at start, before any other operation. A manager extends it
        (calling ``super()``) to end its own leftovers.

        :returns: as :meth:`recover_backups`.
        """
        return self.recover_backups()

    def _settle(self, backup_id, location, where=None,
                backup_type=TROVE_FULL):
        storage = self.backup_storage(where)
        try:
            meta = pipeline_mod.verify(storage, location)
        except exceptions.TroveError:
            meta = None
        if meta is not None:
            checksum = meta["checksum"]
            reference = getattr(storage, "reference", None)
            if reference is not None:
                location, checksum = reference(location)
            self.reporter.backup_update(
                backup_id, state=COMPLETED, size=meta["size"] / _GIB,
                checksum=checksum, location=location,
                backup_type=backup_type, success=True)
            LOG.info("backup %s had completed before the guest stopped",
                     backup_id)
            return COMPLETED
        try:
            storage.delete(location)
        except exceptions.TroveError as exc:
            LOG.warning("could not remove what backup %s left: %s",
                        backup_id, exc)
        reason = ("the guest stopped while the backup was running; its "
                  "unfinished upload was removed; take a new backup")
        self.reporter.backup_update(
            backup_id, state=FAILED, backup_type=backup_type, success=False,
            reason=reason, description=failure_description(None, reason))
        LOG.warning("backup %s: %s", backup_id, reason)
        return FAILED

    def strategy_for_backup(self, backup_info):
        """The strategy that can make the backup ``backup_info`` asks
        for.

        ``type`` names one (Trove never sends it); else the
        ``backup_strategy`` option's, unless the backup has a
        ``parent`` and that strategy cannot make incremental backups:
        then the first declared strategy that can.

        :raises BadRequest: the named strategy, or every declared one,
            cannot make the incremental backup asked for.
        """
        named = backup_info.get("type")
        strategy = self.backup_strategy(named)
        if not backup_info.get("parent") or strategy.incremental:
            return strategy
        if not named:
            for candidate in self._declared_backup_strategies():
                if candidate.incremental:
                    LOG.info("backup %s has a parent: using %s, the "
                             "declared strategy that makes incremental "
                             "backups", backup_info.get("id"),
                             candidate.name)
                    return candidate
        raise exceptions.BadRequest(
            reason="backup strategy %r cannot make incremental backups "
            "and no declared strategy of %r can; back up without a "
            "parent, or name a strategy that can in backup_info's 'type'"
            % (strategy.name, self.name))

    def _declared_backup_strategies(self):
        desc = strategy_mod._descriptor(self)  # noqa: SLF001 - same package
        for declared in desc.strategies:
            if declared.kind != "backup":
                continue
            try:
                yield self.backup_strategy(declared.name)
            except exceptions.TroveError as exc:
                LOG.debug("backup strategy %s is not usable: %s",
                          declared.name, exc)

    def pre_create_backup(self):
        """Quiesce writes before a volume snapshot; nothing by default."""
        return {}

    def post_create_backup(self):
        """Undo :meth:`pre_create_backup`; nothing by default."""

    # -- restore (prepare) -------------------------------------------------

    def backup_for_restore(self, backup_info):
        """Check ``backup_info`` against storage and pick its strategy.

        The strategy is the one recorded in the backup's metadata, else
        ``backup_info["type"]``, else the ``backup_strategy`` option. When
        ``backup_info`` carries the control plane's ``checksum``, it must
        equal the stored one.

        :returns: ``(strategy, location)``.
        :raises BadRequest: no ``location`` and no ``id`` to derive it.
        :raises BackupError: the checksums differ (nothing was touched).
        :raises NotFound: there is no backup at the location.
        """
        if not isinstance(backup_info, dict):
            raise exceptions.BadRequest(reason="backup_info must be a dict")
        location = backup_info.get("location")
        storage = self.backup_storage(backup_info)
        if not location:
            if not backup_info.get("id"):
                raise exceptions.BadRequest(
                    reason="backup_info needs the backup's 'location'")
            location = self.backup_strategy(
                backup_info.get("type")).location(
                    self._check_id(backup_info))
        meta = storage.metadata(location)
        expected = (backup_info.get("checksum") or "").strip('"')
        stored = meta.get("checksum")
        # an object store's ETag (what Trove records) counts as well
        known = {stored, meta.get("etag")} - {None}
        if expected and not known & {expected, "sha256:%s" % expected}:
            raise exceptions.BackupError(
                backup_id=backup_info.get("id") or location,
                reason="the control plane expects checksum %s but storage "
                "holds %s; refusing to restore" % (expected, stored))
        name = (meta.get("strategy") or meta.get("backup_type")
                or backup_info.get("type"))
        return self.backup_strategy(name), location

    def restore_backup(self, backup_info, strategy=None, location=None):
        """Restore ``backup_info`` with its strategy (for ``do_prepare``).

        :param strategy: and ``location``: as :meth:`backup_for_restore`
            returned them, when the caller needed the strategy first.
        :returns: what the strategy's ``restore`` returned.
        :raises BackupError: checksum mismatch, wrong or missing key, or
            the restore failed.
        """
        if strategy is None or location is None:
            strategy, location = self.backup_for_restore(backup_info)
        backup_id = backup_info.get("id") or location
        LOG.info("restoring backup %s with %s", backup_id, strategy.name)
        return strategy.restore(
            self.backup_storage(backup_info), location,
            key=self.backup_key(backup_id),
            progress=lambda done: self.reporter.progress(
                "restore", done, None, "bytes restored"))

