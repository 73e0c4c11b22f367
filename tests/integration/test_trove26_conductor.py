"""Trove 26's own ``trove-conductor`` receives a trove-core guest's casts.

The conductor runs from Trove's virtualenv (``TROVE26_PYTHON``) on a
throw-away SQLite database made by ``trove-manage db_sync``, on a vhost
of its own on the shared RabbitMQ (removed afterwards). Instance,
service status and backup rows are made with Trove's models as its API
makes them. Our guest (the fake datastore) then heartbeats and reports
backups; a second instance gets the same casts from Trove's own
guest-side conductor client; both land in Trove's tables the same way.
"""

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import uuid

import pytest

from trove_core import client as client_mod
from trove_core import rpc

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

# Runs in Trove's virtualenv: "setup" makes rows as Trove's API does,
# "read" prints them, "cast" sends what Trove's own guest sends.
TROVE_DB = r'''
import json, sys, warnings
warnings.simplefilter("ignore")
from trove.common import cfg
CONF = cfg.CONF
CONF(["--config-file", sys.argv[1]], project="trove")
from trove.db import get_db_api
get_db_api().configure_db()
from trove.backup import models as bk
from trove.backup.state import BackupState
from trove.datastore import models as ds
from trove.instance import models as inst
from trove.instance import service_status as svc
from trove.instance.tasks import InstanceTasks
mode = sys.argv[2]
if mode == "setup":
    ds.update_datastore("mysql", None)
    ds.update_datastore_version("mysql", "10.11", "mysql", "img", "", "",
                                1)
    version = ds.DatastoreVersion.load_by_uuid(
        ds.DBDatastoreVersion.find_by(name="10.11").id)
    out = {}
    for key in ("ours", "troves"):
        db_info = inst.DBInstance.create(
            name=key, flavor_id="f1", tenant_id="p1", volume_size=1,
            datastore_version_id=version.id,
            task_status=InstanceTasks.BUILDING)
        inst.InstanceServiceStatus.create(
            instance_id=db_info.id, status=svc.ServiceStatuses.NEW)
        backups = []
        for n in range(2):
            backups.append(bk.DBBackup.create(
                name="b%d" % n, description="nightly", tenant_id="p1",
                state=BackupState.NEW, instance_id=db_info.id,
                parent_id=None, datastore_version_id=version.id,
                deleted=False, location=None, checksum=None,
                backup_type="full", size=None,
                storage_driver="swift").id)
        out[key] = {"instance": db_info.id, "backups": backups}
    print(json.dumps(out))
elif mode == "read":
    ids = json.loads(sys.argv[3])
    out = {}
    for key, item in ids.items():
        status = inst.InstanceServiceStatus.find_by(
            instance_id=item["instance"])
        rows = []
        for backup_id in item["backups"]:
            b = bk.DBBackup.find_by(id=backup_id)
            rows.append({k: getattr(b, k) for k in (
                "state", "backup_type", "location", "checksum", "size",
                "description")})
        out[key] = {"status": status.status.description,
                    "backups": rows}
    print(json.dumps(out, default=str))
elif mode == "cast":
    # Trove's guest: trove/guestagent/datastore/service.py
    import oslo_messaging
    oslo_messaging.get_rpc_transport(CONF)
    from oslo_utils import timeutils
    from trove import rpc
    from trove.common import context
    from trove.conductor import api as conductor_api
    rpc.init(CONF)
    ids = json.loads(sys.argv[3])
    ctx = context.TroveContext(user_id="u", project_id="p1")
    conductor = conductor_api.API(ctx)
    sent = lambda: timeutils.utcnow_ts(microsecond=True)
    conductor.heartbeat(ids["instance"], {"service_status": "healthy"},
                        sent=sent())
    good, bad = ids["backups"]
    conductor.update_backup(ids["instance"], backup_id=good, sent=sent(),
                            size=0.001, state=BackupState.BUILDING,
                            backup_type="full")
    conductor.update_backup(ids["instance"], backup_id=good, sent=sent(),
                            size=0.001, state=BackupState.COMPLETED,
                            backup_type="full", success=True,
                            checksum=sys.argv[4], location=sys.argv[5])
    conductor.update_backup(ids["instance"], backup_id=bad, sent=sent(),
                            size=0.001, state=BackupState.FAILED,
                            backup_type="full", success=False)
    print(json.dumps({"sent": True}))
'''


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


@pytest.fixture
def vhost(rabbitmq):
    """A RabbitMQ vhost of the test's own (guest/guest may use it),
    deleted with everything in it afterwards."""
    if shutil.which("rabbitmqctl") is None or os.geteuid() != 0:
        reason = "needs rabbitmqctl run as root to make a vhost"
        print("skipping: %s" % reason)
        pytest.skip(reason)
    name = "trove26-conductor-%s" % uuid.uuid4().hex[:12]

    def ctl(*args):
        subprocess.run(["rabbitmqctl", *args], check=True,
                       capture_output=True, timeout=120)
    ctl("add_vhost", name)
    try:
        ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        parts = urllib.parse.urlsplit(rabbitmq)
        yield parts._replace(path="/" + urllib.parse.quote(name,
                                                           safe="")).geturl()
    finally:
        ctl("delete_vhost", name)


def _trove(python, conf, *args):
    run = subprocess.run([python, "-c", TROVE_DB, conf, *args],
                         capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _until(python, conf, ids, predicate, timeout=180):
    deadline = time.monotonic() + timeout
    rows = None
    while time.monotonic() < deadline:
        rows = _trove(python, conf, "read", json.dumps(ids))
        if predicate(rows):
            return rows
        time.sleep(1)
    raise AssertionError("Trove's database never showed it: %s" % rows)


class TestTroveConductor:
    """Heartbeats and update_backup through Trove's own conductor."""

    def test_casts_land_in_troves_database(self, trove26_python, vhost,
                                           make_guest, tmp_path):
        """Our guest's heartbeat sets the instance's service status, its
        backup reports fill the backup row (state, type, location,
        checksum, size; a failure's reason in the description), exactly
        as Trove's own guest's casts do for a second instance."""
        bin_dir = os.path.dirname(trove26_python)
        conf = str(tmp_path / "trove.conf")
        topic = "trove-conductor-%s" % uuid.uuid4().hex
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(
                "[DEFAULT]\ntransport_url = %s\ncontrol_exchange = trove\n"
                "conductor_queue = %s\ntrove_conductor_workers = 1\n"
                "log_file = %s\n[database]\nconnection = sqlite:///%s\n"
                % (vhost, topic, tmp_path / "conductor.log",
                   tmp_path / "trove.sqlite"))
        subprocess.run([os.path.join(bin_dir, "trove-manage"),
                        "--config-file", conf, "db_sync"], check=True,
                       capture_output=True, timeout=300)
        ids = _trove(trove26_python, conf, "setup")
        conductor = subprocess.Popen(
            [os.path.join(bin_dir, "trove-conductor"), "--config-file",
             conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        ours = ids["ours"]
        guest = make_guest(guest_id=ours["instance"], default={
            "transport_url": vhost, "conductor_queue": topic}).start()
        transport = rpc.get_transport(_conf(), url=vhost)
        try:
            client = client_mod.GuestClient(guest.guest_id,
                                            transport=transport)
            client.wait_until_up(timeout=120)
            client.cast("prepare", memory_mb=64, packages=[],
                        databases=[], users=[])
            good, bad = ours["backups"]
            _until(trove26_python, conf, {"ours": ours},
                   lambda r: r["ours"]["status"] == "healthy")
            client.cast("create_backup", backup_info={
                "id": good, "instance_id": ours["instance"],
                "description": "nightly", "parent": None,
                "datastore": "mysql", "datastore_version": "10.11",
                "storage_driver": "file"})
            client.cast("create_backup", backup_info={
                "id": bad, "instance_id": ours["instance"],
                "description": "nightly", "parent": None,
                "storage_driver": "s3"})
            rows = _until(
                trove26_python, conf, {"ours": ours},
                lambda r: [b["state"] for b in r["ours"]["backups"]]
                == ["COMPLETED", "FAILED"])["ours"]
            done = rows["backups"][0]
            _trove(trove26_python, conf, "cast",
                   json.dumps(ids["troves"]), done["checksum"],
                   done["location"])
            theirs = _until(
                trove26_python, conf, {"troves": ids["troves"]},
                lambda r: [b["state"] for b in r["troves"]["backups"]]
                == ["COMPLETED", "FAILED"])["troves"]
        finally:
            guest.terminate()
            transport.cleanup()
            os.killpg(conductor.pid, 15)
            conductor.wait(timeout=60)
        assert rows["status"] == theirs["status"] == "healthy"
        failed = rows["backups"][1]
        assert failed["backup_type"] == "full"
        assert failed["description"].startswith(
            "nightly (backup failed: PluginNotFound: no backup storage "
            "driver 's3'")
        assert theirs["backups"][1]["description"] == "nightly"
        for key in ("state", "backup_type", "location", "checksum"):
            assert done[key] == theirs["backups"][0][key], key
        assert float(done["size"]) > 0


def _conf():
    from oslo_config import cfg

    opts = cfg.ConfigOpts()
    opts([], project="trove-test-rpc")
    return opts
