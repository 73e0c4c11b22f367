"""Kit cases for what a hostile tenant, a full disk or a stuck datastore
does to a guest (the classes of docs/security.rst).

Each class of attack is one case every plugin runs:

``test_backup_hostile_round_trip``
    option-shaped names (:data:`~.corpus.OPTION_NAMES`) as databases,
    a user and a password, through backup and a restore into a fresh
    instance: data, users and grants come back, and no tool obeyed a
    name as an option.
``test_backup_storage_collisions``
    locations that name a committed backup, its metadata, its partial
    upload, the storage root or its parent are refused; the committed
    backup still verifies and nothing appears outside the root.
``test_backup_tenant_lock_bounded``
    a lock an ordinary user holds during a backup ends in a bounded,
    reported outcome, and the guest is free afterwards.
``test_bounded_replies_and_logs``
    a 1 MB name comes back bounded in the error and in every log line.
``test_secrets_not_at_rest``
    no file under the datastore's data and log directories holds a
    password the kit set.
"""

import contextlib
import logging
import os
import threading
import uuid

import pytest

from trove_core import exceptions
from trove_core import models
from trove_guest_base.conformance import corpus
from trove_guest_base.conformance import strategies
from trove_guest_base.conformance.fixtures import ConformanceBase
from trove_guest_base.conformance.fixtures import all_pages
from trove_guest_base.conformance.fixtures import tests_of

__all__ = ["BackupHostileTests", "BoundedTests", "CASES",
           "RootHostileTests", "SecretsAtRestTests"]

#: the test names of the cases (the evidence check requires each).
CASES = ("test_backup_hostile_round_trip", "test_backup_storage_collisions",
         "test_backup_tenant_lock_bounded", "test_bounded_replies_and_logs",
         "test_secrets_not_at_rest")

_REJECTED = (exceptions.BadRequest,)
#: a generous guard so that a hung backup fails the case instead of the
#: whole run (the guest's own bound is ``backup_stall_timeout``).
_HANG_GUARD = 300
_STALL = 3
_HUGE = "n" * 1_000_000
#: an error or a log line repeating a user value is at most this long.
_BOUND = 20_000


def _unique(prefix):
    return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def _secret():
    return "Kit-secret-%s" % uuid.uuid4().hex


def _backup(manager, backup_id, **info):
    """create_backup recording what was reported; ``(update, error)``."""
    from trove_guest_base.testing import helpers

    reporter, manager.reporter = (manager.reporter,
                                  helpers.RecordingReporter())
    error = None
    try:
        manager.create_backup(dict({"id": backup_id, "location": None,
                                    "parent": None,
                                    "datastore": manager.name}, **info))
    except exceptions.TroveError as exc:
        error = exc
    finally:
        recorded, manager.reporter = manager.reporter, reporter
    return recorded.last_backup(backup_id), error


def _leaks(*roots):
    """Files named like :data:`~.corpus.LEAK` under ``roots``."""
    found = []
    for root in roots:
        for base, _dirs, names in os.walk(root):
            found += [os.path.join(base, n) for n in names
                      if corpus.LEAK in n]
    return found


def _files(roots):
    """``(path, bytes)`` of every file at or under ``roots``."""
    for root in roots:
        paths = [root] if os.path.isfile(root) else [
            os.path.join(base, name) for base, _dirs, names in os.walk(root)
            for name in names]
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    yield path, handle.read()
            except OSError:
                continue


def _instance_root(manager):
    """The directory an instance lives in (the spawner's), else its
    state directory."""
    state = os.path.abspath(manager.state_dir)
    return os.path.dirname(state)


@tests_of("backup")
class BackupHostileTests(ConformanceBase):
    """Backups under hostile names, storage collisions and tenant locks."""

    trove_strategy_kind = "backup"

    def _hostile_objects(self, manager):
        caps = manager.capabilities()
        databases, user = [], None
        if "databases" in caps:
            for name in corpus.OPTION_NAMES.values():
                try:
                    manager.create_database([models.Database(name)])
                except _REJECTED:
                    continue
                databases.append(name)
        grant = databases[0] if databases else _unique("conf_bkh_db")
        if "users" in caps:
            password = "--password=" + _secret()
            for name in ("--" + _unique("u"), "-" + _unique("u"),
                         _unique("conf_bkh_user")):
                for pw in (password, _secret()):
                    try:
                        manager.create_user([models.User(
                            name, host="%", password=pw)])
                    except _REJECTED:
                        continue
                    user = (name, pw)
                    break
                if user:
                    break
            if user and "access" in caps:
                manager.grant_access(user[0], "%", [grant])
        return databases, user, grant

    def test_backup_hostile_round_trip(self, trove_manager, trove_probe,
                                       trove_spawn, trove_prepare_kwargs,
                                       trove_strategy, request):
        """Option-shaped names survive a backup and a restore into a
        fresh instance with their data, users and grants; no tool obeys
        one."""
        strategies.exercise(request, trove_manager, "backup",
                            trove_strategy)
        marker = _unique("hostile")
        trove_probe.write_marker(marker, "kept")
        databases, user, grant = self._hostile_objects(trove_manager)
        try:
            backup_id = _unique("conf_hostile")
            update, error = _backup(trove_manager, backup_id,
                                    type=trove_strategy)
            assert error is None, error
            assert update and update.get("state") == "COMPLETED", update
            target = trove_spawn()
            target.manager.prepare(**dict(trove_prepare_kwargs, backup_info={
                "id": backup_id, "location": update["location"],
                "checksum": update["checksum"], "type": trove_strategy}))
            assert target.probe.read_marker(marker) == "kept"
            for name in databases:
                assert target.probe.database_exists(name), name
            if user is not None:
                name, password = user
                assert target.probe.can_login(name, password, host="%")
                if "access" in trove_manager.capabilities():
                    assert grant in [d.name for d in
                                     target.manager.list_access(name, "%")]
                    assert target.probe.can_login(name, password,
                                                  database=grant, host="%")
            assert not _leaks(_instance_root(trove_manager),
                              _instance_root(target.manager), os.getcwd())
        finally:
            if user is not None:
                trove_manager.delete_user(models.User(user[0], host="%"))
            for name in databases:
                trove_manager.delete_database(models.Database(name))

    def test_backup_storage_collisions(self, trove_manager, request):
        """A location naming a committed backup, its metadata, its
        partial, the root or outside it is refused; the backup stays."""
        from trove_guest_base.backup import pipeline

        strategies.exercise(request, trove_manager, "backup", None)
        first = _unique("conf_first")
        update, error = _backup(trove_manager, first)
        assert error is None and update["state"] == "COMPLETED", update
        location = update["location"]
        storage = trove_manager.backup_storage()
        root = getattr(storage, "root", None)
        outside = os.path.dirname(root) if root else None
        before = sorted(os.listdir(outside)) if outside else None
        for bad in (location, location + ".meta.json",
                    location + ".partial", ".", "..", "../escape", "a/../.",
                    "/"):
            backup_id = _unique("conf_collide")
            update, error = _backup(trove_manager, backup_id,
                                    location=bad)
            assert isinstance(error, (exceptions.BadRequest,
                                      exceptions.BackupError)), (bad, error)
            assert update and update["state"] == "FAILED", (bad, update)
            assert len(str(error)) < _BOUND
        meta = pipeline.verify(storage, location)
        assert meta["checksum"] and storage.exists(location)
        if outside:
            assert sorted(os.listdir(outside)) == before

    def test_backup_tenant_lock_bounded(self, trove_manager, trove_probe,
                                        trove_strategy, request):
        """A lock an ordinary user holds during a backup ends in a
        bounded, reported outcome; the guest is free afterwards."""
        strategies.exercise(request, trove_manager, "backup",
                            trove_strategy)
        caps = trove_manager.capabilities()
        if "users" not in caps:
            pytest.skip("the datastore has no tenant users")
        database = _unique("conf_lock")
        if "databases" in caps:
            trove_manager.create_database([models.Database(database)])
        user, password = _unique("conf_locker"), _secret()
        trove_manager.create_user([models.User(user, host="%",
                                               password=password)])
        group = trove_manager.name
        try:
            if "access" in caps:
                trove_manager.grant_access(user, "%", [database])
            lock = trove_probe.tenant_lock(user, password, database)
            if lock is None:
                pytest.skip("a tenant can hold nothing that stalls this "
                            "datastore's backup (its probe says so)")
            trove_manager.conf.set_override("backup_stall_timeout", _STALL,
                                            group=group)
            outcome = {}

            def locked_backup():
                outcome["update"], outcome["error"] = _backup(
                    trove_manager, _unique("conf_locked"),
                    type=trove_strategy)
            with lock:
                worker = threading.Thread(target=locked_backup, daemon=True)
                worker.start()
                worker.join(_HANG_GUARD)
                assert not worker.is_alive(), (
                    "create_backup still runs after %s s under a tenant's "
                    "lock" % _HANG_GUARD)
            update = outcome["update"]
            assert update and update["state"] in ("COMPLETED", "FAILED")
            if update["state"] == "FAILED":
                assert update.get("reason"), update
                assert outcome["error"] is not None
            # the guest is free: the next backup completes
            update, error = _backup(trove_manager, _unique("conf_after"),
                                    type=trove_strategy)
            assert error is None and update["state"] == "COMPLETED", update
        finally:
            with contextlib.suppress(Exception):  # not set when skipped
                trove_manager.conf.clear_override("backup_stall_timeout",
                                                  group=group)
            trove_manager.delete_user(models.User(user, host="%"))
            if "databases" in caps:
                trove_manager.delete_database(models.Database(database))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@contextlib.contextmanager
def _captured():
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@tests_of("lifecycle")
class BoundedTests(ConformanceBase):
    """Huge user values come back bounded."""

    def _calls(self, manager):
        caps = manager.capabilities()
        calls = [("operation", lambda: manager.operation(_HUGE))]
        if "databases" in caps:
            calls.append(("create_database", lambda: manager.create_database(
                [models.Database(_HUGE)])))
        if "users" in caps:
            calls.append(("create_user", lambda: manager.create_user(
                [models.User(_HUGE, host="%", password=_secret())])))
            calls.append(("get_user", lambda: manager.get_user(_HUGE, "%")))
        if "access" in caps:
            calls.append(("list_access", lambda: manager.list_access(
                _HUGE, "%")))
        return calls

    def test_bounded_replies_and_logs(self, trove_manager):
        """A 1 MB name is refused; the error and every log line the
        guest writes about it stay bounded."""
        from trove_guest_base import service

        # the runtime's own filter, as the guest's log handler applies it
        bound = getattr(service, "BoundedLogFilter", logging.Filter)()
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s")
        for what, call in self._calls(trove_manager):
            with _captured() as records:
                try:
                    result = call()
                except exceptions.TroveError as exc:
                    assert len(str(exc)) < _BOUND, what
                    for key, value in exc.kwargs.items():
                        assert len(str(value)) < _BOUND, (what, key)
                else:
                    assert result is None, (
                        "%s accepted a 1 MB name" % what)
            for record in records:
                bound.filter(record)
                line = formatter.format(record)
                assert len(line) < _BOUND, (what, line[:200])


@tests_of("users")
class SecretsAtRestTests(ConformanceBase):
    """Passwords never land in the datastore's own files."""

    def _enable_logs(self, manager):
        enabled = []
        if "guest_logs" not in manager.capabilities():
            return enabled
        for log in manager.guest_log_list():
            try:
                manager.guest_log_action(log["name"], True, False, False,
                                         False)
            except exceptions.TroveError:
                continue
            enabled.append(log["name"])
        return enabled

    def test_secrets_not_at_rest(self, trove_manager, trove_probe):
        """No file under the data and log directories holds a password
        the kit set (users, changed passwords, root), logs enabled."""
        caps = trove_manager.capabilities()
        secrets = [_secret(), _secret(), _secret()]
        user = _unique("conf_secret")
        enabled = self._enable_logs(trove_manager)
        try:
            trove_manager.create_user([models.User(
                user, host="%", password=secrets[0])])
            trove_manager.change_passwords([models.User(
                user, host="%", password=secrets[1])])
            if "root" in caps:
                trove_manager.enable_root_with_password(secrets[2])
                trove_manager.disable_root()
            assert trove_probe.can_login(user, secrets[1], host="%")
            found = [
                "%s holds password %d" % (path, i)
                for path, data in _files(trove_probe.datastore_dirs())
                for i, secret in enumerate(secrets)
                if secret.encode() in data]
            assert not found, found
        finally:
            if (user, "%") in [(u.name, u.host) for u in
                               all_pages(trove_manager.list_users)]:
                trove_manager.delete_user(models.User(user, host="%"))
            for name in enabled:
                with contextlib.suppress(exceptions.TroveError):
                    trove_manager.guest_log_action(name, False, True,
                                                   False, False)


@tests_of("root")
class RootHostileTests(ConformanceBase):
    """The superuser's password may look like an option too."""

    @pytest.mark.parametrize("password", [
        pytest.param("--password=" + uuid.uuid4().hex, id="option-value"),
        pytest.param("--help", id="option-help"),
        pytest.param("-e" + uuid.uuid4().hex, id="option-short")])
    def test_root_option_password(self, trove_manager, trove_probe,
                                  password):
        """An option-shaped root password is refused or works exactly."""
        try:
            root = trove_manager.enable_root_with_password(password)
        except _REJECTED:
            return
        try:
            assert trove_probe.can_login(trove_probe.root_user, password,
                                         host=root.host)
        finally:
            trove_manager.disable_root()
