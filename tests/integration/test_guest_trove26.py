"""Trove's own guest client (trove==26.0.0) drives a trove-core guest:
the fake, and a MySQL guest running a real MariaDB.

Trove cannot be installed beside trove-core, so the client runs in the
interpreter named by ``TROVE26_PYTHON`` (a virtualenv with
``trove==26.0.0``: ``scripts/test.sh`` builds one in ``.venv-trove26``,
``bench/guest_trove26.py`` another); the test skips, saying so, without
it.
"""

import json
import os
import shutil
import subprocess

import pytest

from trove_core import client as client_mod
from trove_guest_base import net

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

# Runs inside Trove's virtualenv: Trove's API class, Trove's models, the
# wire exactly as Trove's taskmanager sends it (context dict, version 1.0).
_TROVE_CLIENT = r'''
import json, sys, time, warnings
warnings.simplefilter("ignore")
import oslo_messaging
from trove.common import cfg
CONF = cfg.CONF
CONF([], project="trove")
oslo_messaging.get_rpc_transport(CONF)  # registers transport_url
CONF.set_override("transport_url", sys.argv[1])
from trove import rpc
rpc.set_defaults("trove")
rpc.init(CONF)
from trove.instance import models as instance_models
# Trove reads the instance's encryption key from its database; none here.
instance_models.get_instance_encryption_key = lambda instance_id: None
from trove.common import context
from trove.common.db.mysql import models
from trove.guestagent import api

# It also pre-creates the guest's queue from its database; the guest
# already consumes.
api.API._create_guest_queue = lambda self: None
guest = api.API(context.TroveContext(user_id="u", project_id="p"),
                sys.argv[2])
out = {}
guest.prepare(memory_mb=512, packages=[], databases=[], users=[],
              device_path=None, mount_point=None, backup_info=None,
              config_contents="", root_password=None, overrides=None,
              cluster_config=None, snapshot=None, modules=None,
              ds_version="1.0")
schema = models.MySQLSchema(name="trove26db")
guest.create_database([schema.serialize()])
user = models.MySQLUser(name="t26user", password="pw-123456789", host="%")
user.databases = "trove26db"
guest.create_user([user.serialize()])
deadline = time.monotonic() + 240
while time.monotonic() < deadline:  # Trove waits for "healthy" too
    try:
        if guest.get_user("t26user", "%"):
            break
    except Exception:  # noqa: S110 - not prepared yet: poll again
        pass
    time.sleep(0.2)
out["list_databases"] = guest.list_databases()
out["get_user"] = guest.get_user("t26user", "%")
out["list_access"] = guest.list_access("t26user", "%")
out["volume"] = guest.get_volume_info()
try:
    guest.mount_volume("/dev/vdb", "/mnt")
except Exception as exc:
    out["mount_volume"] = "%s: %s" % (type(exc).__name__, exc)
out["enable_root"] = guest.enable_root()
for name in ("ssl_show", "get_diagnostics"):  # API 1.3 and 1.0
    try:
        out[name] = getattr(guest, name)()
    except Exception as exc:
        out[name] = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def trove26_python():
    """The interpreter of a virtualenv holding trove==26.0.0."""
    python = os.environ.get("TROVE26_PYTHON")
    if not python or not os.path.exists(python):
        reason = ("set TROVE26_PYTHON to the python of a virtualenv with "
                  "trove==26.0.0 (bench/guest_trove26.py builds one)")
        print("skipping: %s" % reason)
        pytest.skip(reason)
    return python


def _mysql_group(workdir):
    return {
        "runner": "child", "service_user": "root",
        "bind_address": "127.0.0.1", "port": net.free_port(),
        "mount_point": os.path.join(workdir, "vol"),
        "data_dir": os.path.join(workdir, "vol", "data"),
        "run_dir": os.path.join(workdir, "run"),
        "log_dir": os.path.join(workdir, "log"),
        "config_file": os.path.join(workdir, "etc", "my.cnf"),
        "backup_storage_root": os.path.join(workdir, "backups"),
        "start_timeout": 120,
    }


class TestTrove26Client:
    """trove.guestagent.api.API against trove-core's guest."""

    @pytest.mark.parametrize("datastore", ["fake", "mysql"])
    def test_trove_drives_the_guest(self, trove26_python, make_guest,
                                    rabbitmq, rpc_transport, datastore,
                                    tmp_path):
        """Trove's client prepares, creates, lists and is refused an
        undeclared operation, all in its own wire format; on MySQL the
        user it created then logs in from outside."""
        group = None
        if datastore == "mysql":
            if shutil.which("mariadbd") is None and not os.path.exists(
                    "/usr/sbin/mariadbd"):
                pytest.skip("mariadbd is not installed (apt-get install "
                            "mariadb-server)")
            group = _mysql_group(str(tmp_path))
        guest = make_guest(datastore=datastore, group=group).start()
        ours = client_mod.GuestClient(guest.guest_id,
                                      transport=rpc_transport)
        try:
            run = subprocess.run(
                [trove26_python, "-c", _TROVE_CLIENT, rabbitmq,
                 guest.guest_id], capture_output=True, text=True,
                timeout=400, check=False)
            assert run.returncode == 0, run.stderr[-2000:]
            out = json.loads(run.stdout.strip().splitlines()[-1])
            if datastore == "mysql":
                import pymysql

                conn = pymysql.connect(
                    host="127.0.0.1", port=group["port"], user="t26user",
                    password="pw-123456789", database="trove26db",
                    connect_timeout=10)
                with conn, conn.cursor() as cur:
                    cur.execute("CREATE TABLE t (id INT)")
                    cur.execute("SELECT DATABASE(), CURRENT_USER()")
                    assert cur.fetchone() == ("trove26db", "t26user@%")
                root = pymysql.connect(
                    host="127.0.0.1", port=group["port"], user="root",
                    password=out["enable_root"]["_password"],
                    connect_timeout=10)
                with root, root.cursor() as cur:
                    cur.execute("SELECT COUNT(*) FROM trove26db.t")
                    assert cur.fetchone() == (0,)
        finally:
            if guest.proc.poll() is None:
                ours.call("stop_db", timeout=120)
            assert guest.terminate() == 0
        databases, marker = out["list_databases"]
        assert [d["_name"] for d in databases] == ["trove26db"]
        assert marker is None
        assert out["get_user"]["_databases"][0]["_name"] == "trove26db"
        assert [d["_name"] for d in out["list_access"]] == ["trove26db"]
        assert set(out["volume"]) >= {"total", "free", "used"}
        assert out["mount_volume"].startswith("GuestError")
        assert "does not support operation 'mount_volume'" in out[
            "mount_volume"]
        assert out["enable_root"]["_password"]
        refused = []
        if datastore == "mysql":  # declares TLS and diagnostics
            assert out["ssl_show"] == {"status": "off"}
            assert out["get_diagnostics"]["threads"] >= 1
        else:
            refused += ["ssl_show", "get_diagnostics"]
        for name in refused:
            assert out[name].startswith("GuestError"), out[name]
            assert "does not support operation %r" % name in out[name]
