"""The ``swift`` backup storage driver against a real Swift the tests
start (Debian's servers, one replica, tempauth, loopback), and Trove
26's own backup model code finding, verifying and deleting what the
guest reported."""

import json
import os
import subprocess
import tracemalloc

import pytest

from trove_core import exceptions
from trove_guest_base.testing import helpers
from trove_guest_base.testing import swift as swift_testing
from trove_guest_base import backup
from trove_guest_base import net
from trove_guest_base.backup import swift as swift_mod

pytestmark = [pytest.mark.swift, pytest.mark.slow]

MIB = 1024 * 1024

# Runs in Trove's virtualenv: its backup model and taskmanager code, as
# its API runs them for a restore (check_location_exist, get_metadata)
# and a delete (BackupTasks.delete_files_from_swift).
TROVE_SWIFT = r'''
import json, sys, warnings
warnings.simplefilter("ignore")
from trove.common import cfg
CONF = cfg.CONF
CONF([], project="trove")
base, token, location, checksum = sys.argv[1:5]
CONF.set_override("swift_url", base)  # Trove appends the project id
from trove.common import clients, context, swift
from trove.backup import models
from trove.taskmanager import models as tm_models
ctx = context.TroveContext(user_id="u", project_id="test",
                           auth_token=token)
record = models.DBBackup(id="b", location=location, checksum=checksum,
                         state="COMPLETED", storage_driver="swift")
out = {"container": record.container_name, "filename": record.filename}
out["exists"] = record.check_location_exist(ctx)
out["verified"] = record.check_location_exist(ctx, verify_checksum=True)
meta = swift.get_metadata(clients.create_swift_client(ctx), location,
                          extra_attrs=["etag"])
out["etag"] = meta["etag"].strip('"')  # SLO ETags come quoted
if sys.argv[5:] == ["delete"]:
    tm_models.BackupTasks.delete_files_from_swift(
        ctx, record.container_name, record.filename)
    out["exists_after_delete"] = record.check_location_exist(ctx)
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def swift_server(tmp_path_factory):
    """A Swift of the module's own."""
    missing = swift_testing.missing()
    if missing:
        reason = ("Swift is not installed (%s): apt-get install swift "
                  "swift-proxy swift-account swift-container swift-object "
                  "memcached" % ", ".join(missing))
        print("skipping: %s" % reason)
        pytest.skip(reason)
    server = swift_testing.SwiftServer(str(tmp_path_factory.mktemp("swift")))
    server.start()
    yield server
    server.stop()


def use_swift(conf, server, user=swift_testing.ADMIN, **overrides):
    """Point a guest's ``[backup_swift]`` at ``server``."""
    conf.register_opts(swift_mod.OPTS, group=swift_mod.GROUP)
    values = dict(auth_url=server.auth_url, user=user[0], key=user[1],
                  segment_size_mb=1, timeout=30, retries=0)
    values.update(overrides)
    for key, value in values.items():
        conf.set_override(key, value, group=swift_mod.GROUP)


def _objects(server, container):
    import swiftclient

    conn = swiftclient.Connection(authurl=server.auth_url,
                                  user=swift_testing.ADMIN[0],
                                  key=swift_testing.ADMIN[1])
    try:
        return [o["name"] for o in conn.get_container(container)[1]]
    except swiftclient.ClientException as exc:
        if exc.http_status == 404:
            return []
        raise


def _trove(python, server, location, checksum, *extra):
    _url, token = server.token()
    base = server.storage_url[:-len("test")]
    run = subprocess.run([python, "-c", TROVE_SWIFT, base, token, location,
                          checksum, *extra], capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture
def manager(tmp_path, swift_server):
    """A fake manager storing backups in the module's Swift."""
    mgr = helpers.make_fake_manager(tmp_path)
    use_swift(mgr.conf, swift_server)
    mgr.conf.set_override("backup_storage", "swift", group="fake")
    mgr.prepare(memory_mb=64, packages=[], databases=[], users=[])
    return mgr


@pytest.fixture(scope="module")
def trove26_python():
    """The interpreter of a virtualenv holding trove==26.0.0."""
    python = os.environ.get("TROVE26_PYTHON")
    if not python or not os.path.exists(python):
        reason = ("set TROVE26_PYTHON to the python of a virtualenv with "
                  "trove==26.0.0")
        print("skipping: %s" % reason)
        pytest.skip(reason)
    return python


class TestLargeObjects:
    """Segments, streamed, with flat memory."""

    @staticmethod
    def _peak(storage, source, mib, name):
        with open(source, "wb") as handle:
            for _ in range(mib):
                handle.write(os.urandom(MIB))
        tracemalloc.start()
        try:
            result = backup.run_backup(backup.File(str(source)), storage,
                                       name)
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def test_segments_stream_with_flat_memory(self, tmp_path, swift_server):
        """Backups go up as 1 MiB segments of a static large object; the
        pipeline's memory is the same for 4 and 24 MiB (no temporary
        file holds a backup either), and the bytes come back."""
        conf = helpers.make_fake_manager(tmp_path).conf
        use_swift(conf, swift_server)
        storage = swift_mod.SwiftStorage(
            conf=conf, backup_info={"swift_container": "large"})
        _small, small_peak = self._peak(storage, tmp_path / "small", 4,
                                        "small.gz")
        source = tmp_path / "big"
        result, peak = self._peak(storage, source, 24, "big.gz")
        assert peak < small_peak + MIB, (small_peak, peak)
        assert peak < 8 * MIB, peak
        segments = [s for s in _objects(swift_server, "large_segments")
                    if s.startswith("big.gz/")]
        assert len(segments) == 25  # incompressible: 24 MiB and a bit
        assert _objects(swift_server, "large") == ["big.gz", "small.gz"]
        headers = storage.conn.head_object("large", "big.gz")
        assert "x-static-large-object" in headers
        backup.run_restore(storage, result.location,
                           backup.File(str(tmp_path / "back")))
        with open(tmp_path / "back", "rb") as a, open(source, "rb") as b:
            assert a.read() == b.read()
        for name in ("big.gz", "small.gz"):
            storage.delete(name)
        assert _objects(swift_server, "large") == []
        assert _objects(swift_server, "large_segments") == []

    def test_failed_stream_leaves_nothing(self, tmp_path, swift_server):
        """A tool failing half-way aborts: no manifest, no segment."""
        conf = helpers.make_fake_manager(tmp_path).conf
        use_swift(conf, swift_server)
        storage = swift_mod.SwiftStorage(
            conf=conf, backup_info={"swift_container": "broken"})
        command = backup.Command(["sh", "-c", "head -c 3000000 "
                                  "/dev/urandom; exit 3"])
        with pytest.raises(exceptions.BackupError, match="exited with 3"):
            backup.run_backup(command, storage, "broken.gz")
        assert _objects(swift_server, "broken") == []
        assert _objects(swift_server, "broken_segments") == []


class TestTroveFindsIt:
    """What the guest reports is what Trove 26's code reads."""

    def test_backup_restore_delete_with_trove_code(self, manager,
                                                   swift_server,
                                                   trove26_python,
                                                   tmp_path):
        """The reported location and ETag pass Trove's
        check_location_exist (with its checksum check), a new guest
        restores from them, and Trove's delete removes the object and
        its segments."""
        info = {"id": "tb1", "storage_driver": "swift",
                "swift_url": swift_server.storage_url,
                "swift_container": "database_backups",
                "datastore": "fake", "datastore_version": "1",
                "description": None, "parent": None}
        manager.create_backup(info)
        done = manager.reporter.last_backup("tb1")
        assert done["state"] == "COMPLETED"
        assert done["backup_type"] == "full"
        assert done["location"] == (swift_server.storage_url
                                    + "/database_backups/fake_tb1.json.gz")
        assert len(done["checksum"]) == 32  # an MD5 ETag, unquoted
        seen = _trove(trove26_python, swift_server, done["location"],
                      done["checksum"])
        assert seen == {"container": "database_backups",
                        "filename": "fake_tb1.json.gz", "exists": True,
                        "verified": True, "etag": done["checksum"]}
        target = helpers.make_fake_manager(tmp_path / "restored")
        use_swift(target.conf, swift_server)
        target.prepare(memory_mb=64, packages=[], databases=[], users=[],
                       backup_info={"id": "tb1", "type": "full",
                                    "location": done["location"],
                                    "checksum": done["checksum"],
                                    "storage_driver": "swift"})
        assert target.prepared
        gone = _trove(trove26_python, swift_server, done["location"],
                      done["checksum"], "delete")
        assert gone["exists_after_delete"] is False
        assert _objects(swift_server, "database_backups") == []
        assert _objects(swift_server, "database_backups_segments") == []


class TestRequestToken:
    """Trove's own guest reaches Swift with the request's token."""

    def test_token_and_swift_url_without_credentials(self, tmp_path,
                                                     swift_server):
        """A guest with no Swift account of its own backs up and
        restores with the token that came in Trove's request context
        (the endpoint copies it into backup_info)."""
        from trove_guest_base import endpoint

        url, token = swift_server.token()
        source = helpers.make_fake_manager(tmp_path / "src")
        source.prepare(memory_mb=64, packages=[], databases=[], users=[])
        kwargs = endpoint.with_request_token(
            {"auth_token": token, "user": "u"},
            {"backup_info": {"id": "tok1", "storage_driver": "swift",
                             "swift_url": url,
                             "swift_container": "user_backups"}})
        source.create_backup(kwargs["backup_info"])
        done = source.reporter.last_backup("tok1")
        assert done["state"] == "COMPLETED", done
        assert done["location"].startswith(url + "/user_backups/")
        target = helpers.make_fake_manager(tmp_path / "dst")
        restore = endpoint.with_request_token({"auth_token": token}, {
            "backup_info": {"id": "tok1", "location": done["location"],
                            "checksum": done["checksum"],
                            "storage_driver": "swift"}})["backup_info"]
        target.prepare(memory_mb=64, packages=[], databases=[], users=[],
                       backup_info=restore)
        assert target.prepared
        assert "trove_auth_token" not in json.dumps(
            source.reporter.backups)


class TestBadInput:
    """Each refusal is FAILED with its reason where Trove keeps it, and
    nothing is left in the store."""

    def _failed(self, manager, backup_id):
        update = manager.reporter.last_backup(backup_id)
        assert update["state"] == "FAILED"
        return update["description"]

    def test_unreachable_store(self, manager, swift_server):
        """A Swift nobody listens on: FAILED, saying where it looked."""
        manager.conf.set_override(
            "auth_url", "http://127.0.0.1:%d/auth/v1.0" % net.free_port(),
            group=swift_mod.GROUP)
        with pytest.raises(exceptions.BackupError,
                           match="cannot reach swift"):
            manager.create_backup({"id": "unreach",
                                   "storage_driver": "swift"})
        assert "cannot reach swift" in self._failed(manager, "unreach")
        assert "auth_url" in self._failed(manager, "unreach")

    def test_unreachable_store_url(self, manager, swift_server):
        """Trove's swift_url pointing at a closed port fails the same
        way."""
        port = net.free_port()
        with pytest.raises(exceptions.BackupError,
                           match="cannot reach swift"):
            manager.create_backup({
                "id": "unreach2", "storage_driver": "swift",
                "swift_url": "http://127.0.0.1:%d/v1/AUTH_test" % port})
        assert "cannot reach swift" in self._failed(manager, "unreach2")

    def test_container_not_writable(self, manager, swift_server):
        """Credentials that may not write the container: FAILED with the
        403 and what to do; nothing stored."""
        use_swift(manager.conf, swift_server, user=swift_testing.READER)
        with pytest.raises(exceptions.BackupError, match="403"):
            manager.create_backup({"id": "ro", "storage_driver": "swift",
                                   "swift_container": "not_mine"})
        reason = self._failed(manager, "ro")
        assert "swift refused" in reason and "grant them" in reason
        assert _objects(swift_server, "not_mine") == []

    def test_unknown_driver(self, manager, swift_server):
        """A storage driver nobody installed: FAILED, named."""
        with pytest.raises(exceptions.PluginNotFound, match="'s3'"):
            manager.create_backup({"id": "s3", "storage_driver": "s3"})
        assert "'s3'" in self._failed(manager, "s3")

    def test_no_credentials(self, tmp_path, swift_server):
        """Swift without credentials configured names the options."""
        mgr = helpers.make_fake_manager(tmp_path)
        mgr.prepare(memory_mb=64, packages=[], databases=[], users=[])
        with pytest.raises(exceptions.BadRequest,
                           match=r"set \[backup_swift\] auth_url"):
            mgr.create_backup({"id": "nocred", "storage_driver": "swift"})
        assert "auth_url" in self._failed(mgr, "nocred")
