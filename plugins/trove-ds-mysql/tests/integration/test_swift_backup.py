"""MySQL backups and replication snapshots in a real Swift, as Trove 26
asks for them (no type, a parent for an incremental, its swift_url and
container) and as its control plane then reads them."""

import json
import os
import subprocess

import pytest

from trove_core.status import ServiceStatus
from trove_guest_base.testing import swift as swift_testing
from trove_guest_base.backup import swift as swift_mod

pytestmark = [pytest.mark.mariadb, pytest.mark.swift, pytest.mark.slow]

# Runs in Trove's virtualenv: its backup model checks an object the way
# its API does before a restore (the checksum is compared to the ETag).
TROVE_CHECK = r'''
import json, sys, warnings
warnings.simplefilter("ignore")
from trove.common import cfg
CONF = cfg.CONF
CONF([], project="trove")
base, token, location, checksum = sys.argv[1:5]
CONF.set_override("swift_url", base)
from trove.backup import models
from trove.common import context
ctx = context.TroveContext(user_id="u", project_id="test", auth_token=token)
record = models.DBBackup(id="s", location=location, checksum=checksum,
                         state="COMPLETED", storage_driver="swift")
print(json.dumps(record.check_location_exist(ctx, verify_checksum=True)))
'''

# Runs in Trove's virtualenv: troveclient's log_generator (what
# 'trove log-tail' and 'log-save' run) on what the guest published.
TROVE_LOG = r'''
import json, sys, warnings
warnings.simplefilter("ignore")
import swiftclient
from troveclient.v1 import instances
auth_url, user, key, container, prefix, metafile = sys.argv[1:7]
logs = instances.Instances(None)
logs._get_container_info = lambda inst, name: (container, prefix, metafile)
swift = swiftclient.Connection(authurl=auth_url, user=user, key=key)
text = "".join(logs.log_generator("i1", "general", lines=0,
                                  swift=swift)())
print(json.dumps({"text": text}))
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


def _swift_manager(make_manager, server, name):
    manager = make_manager(name, backup_storage="swift")
    manager.conf.register_opts(swift_mod.OPTS, group=swift_mod.GROUP)
    for key, value in dict(auth_url=server.auth_url,
                           user=swift_testing.ADMIN[0],
                           key=swift_testing.ADMIN[1], segment_size_mb=1,
                           retries=0).items():
        manager.conf.set_override(key, value, group=swift_mod.GROUP)
    return manager


def _rows(manager):
    with manager.server.admin() as cur:
        cur.execute("SELECT COUNT(*) FROM app.t")
        return cur.fetchone()[0]


def _trove_info(server, backup_id, **extra):
    return dict({"id": backup_id, "storage_driver": "swift",
                 "swift_url": server.storage_url,
                 "swift_container": "database_backups",
                 "datastore": "mysql", "datastore_version": "10.11",
                 "description": None, "parent": None}, **extra)


def _objects(server, container):
    import swiftclient

    conn = swiftclient.Connection(authurl=server.auth_url,
                                  user=swift_testing.ADMIN[0],
                                  key=swift_testing.ADMIN[1])
    return sorted(o["name"] for o in conn.get_container(container)[1])


class TestSwiftBackups:
    """Full and incremental backups, a restore, a replica."""

    def test_full_incremental_restore_and_replica(self, make_manager,
                                                  swift_server):
        """A full and an incremental (Trove's parent, no type) land in
        Swift as single objects with Trove's location and ETag; a new
        guest restores the chain from the URLs; a replica is built from
        a snapshot stored there too."""
        from trove_core import models

        source = _swift_manager(make_manager, swift_server, "swift-src")
        source.prepare(memory_mb=None, packages=[],
                       databases=[models.Database("app")], users=[])
        with source.server.admin() as cur:
            cur.execute("CREATE TABLE app.t (id INT PRIMARY KEY)")
            cur.execute("INSERT INTO app.t SELECT seq FROM app.seq_1_to_100")
        full = source.create_backup(dict(_trove_info(swift_server, "sf1"),
                                         type="mariabackup"))
        with source.server.admin() as cur:
            cur.execute("INSERT INTO app.t SELECT seq FROM "
                        "app.seq_101_to_150")
        source.create_backup(_trove_info(
            swift_server, "si1",
            parent={"location": full.location,
                    "checksum": full.checksum}))
        done = source.reporter.backups[-1]
        assert done["state"] == "COMPLETED"
        assert done["backup_type"] == "incremental"
        assert done["location"].startswith(swift_server.storage_url
                                           + "/database_backups/")
        assert _objects(swift_server, "database_backups") == [
            "sf1.xbstream.gz", "si1.xbstream.gz"]  # no sidecars
        copy = _swift_manager(make_manager, swift_server, "swift-copy")
        copy.prepare(memory_mb=None, packages=[], databases=[], users=[],
                     backup_info={"id": "si1", "type": "incremental",
                                  "location": done["location"],
                                  "checksum": done["checksum"],
                                  "storage_driver": "swift"})
        assert copy.status is ServiceStatus.HEALTHY
        assert _rows(copy) == 150
        copy.stop_db()
        snapshot = source.get_replication_snapshot(
            _trove_info(swift_server, "snap1"))
        assert snapshot["dataset"]["location"].startswith(
            swift_server.storage_url)
        python = os.environ.get("TROVE26_PYTHON")
        if python and os.path.exists(python):
            _url, token = swift_server.token()
            run = subprocess.run(
                [python, "-c", TROVE_CHECK,
                 swift_server.storage_url[:-len("test")], token,
                 snapshot["dataset"]["location"],
                 snapshot["dataset"]["checksum"]],
                capture_output=True, text=True, timeout=300, check=False)
            assert run.returncode == 0, run.stderr[-3000:]
            assert run.stdout.strip().splitlines()[-1] == "true"
        replica = _swift_manager(make_manager, swift_server, "swift-rep")
        replica.prepare(memory_mb=None, packages=[], databases=[],
                        users=[], snapshot=snapshot)
        with source.server.admin() as cur:
            cur.execute("INSERT INTO app.t VALUES (1000)")
        replica.wait_for_txn(source.get_latest_txn_id())
        assert _rows(replica) == 151
        replica.stop_db()
        source.stop_db()


class TestPublishedLogs:
    """Guest logs published where Trove's client reads them."""

    def test_troveclient_reads_published_log(self, make_manager,
                                             swift_server):
        """A published general log is read back whole by troveclient's
        log_generator from the container and prefix the guest shows;
        discard removes it."""
        python = os.environ.get("TROVE26_PYTHON")
        if not python or not os.path.exists(python):
            pytest.skip("set TROVE26_PYTHON to the python of a virtualenv "
                        "with trove==26.0.0")
        manager = _swift_manager(make_manager, swift_server, "swift-log")
        manager.conf.set_override("guest_log_exposed_logs", ["general"],
                                  group="mysql")
        manager.prepare(memory_mb=None, packages=[], databases=[],
                        users=[])
        manager.guest_log_action("general", True, False, False, False)
        with manager.server.admin() as cur:
            cur.execute("SELECT 'published-marker-42'")
        shown = manager.guest_log_action("general", False, False, True,
                                         False)
        assert shown["container"] == "database_logs"
        assert shown["prefix"] == "guest/mysql-general/"
        assert shown["published"] > 0
        run = subprocess.run(
            [python, "-c", TROVE_LOG, swift_server.auth_url,
             swift_testing.ADMIN[0], swift_testing.ADMIN[1],
             shown["container"], shown["prefix"], shown["metafile"]],
            capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        text = json.loads(run.stdout.strip().splitlines()[-1])["text"]
        with open(manager.server.logs["general"], encoding="utf-8") as f:
            assert text == f.read()[:len(text)]
        assert "published-marker-42" in text
        manager.guest_log_action("general", False, False, False, True)
        assert _objects(swift_server, "database_logs") == []
        manager.stop_db()
