"""A live Galera cluster of trove-core guests, driven by Trove 26's own
cluster guest client in its taskmanager's order.

Each member is a real ``trove-guestagent`` (datastore ``mysql``) on the
shared RabbitMQ, starting its own ``mariadbd`` with galera-4 as the
``mysql`` user, on its own client, group communication, IST and SST
ports on 127.0.0.1. Trove's side runs in the interpreter named by
``TROVE26_PYTHON`` (``trove==26.0.0``): ``trove.guestagent.api.API`` for
``prepare`` and ``restart``,
``trove.common.strategies.cluster.experimental.galera_common.guestagent``
for the cluster calls, and Trove's ``ClusterConfigTemplate`` renders each
member's fragment, as ``GaleraCommonClusterTasks`` does.

Members' addresses are ``127.0.0.1:<group port>`` in the address list
Trove renders (all members share one host here); each guest fixes the
provider path, its own address and ports.
"""

import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from trove_core import client as client_mod
from trove_guest_base.testing import helpers
from trove_guest_base import net

pytestmark = [pytest.mark.rabbitmq, pytest.mark.mariadb, pytest.mark.slow]

_PROVIDERS = ("/usr/lib/galera/libgalera_smm.so",
              "/usr/lib/libgalera_smm.so")

# Runs inside Trove's virtualenv: one JSON command per line on stdin, one
# JSON answer per line on stdout. "create", "grow" and "shrink" follow
# GaleraCommonClusterTasks (trove/common/strategies/cluster/experimental/
# galera_common/taskmanager.py) step by step, minus Nova and the database.
_TROVE_DRIVER = r'''
import json, sys, types, warnings
warnings.simplefilter("ignore")
import oslo_messaging
from trove.common import cfg
CONF = cfg.CONF
CONF([], project="trove")
oslo_messaging.get_rpc_transport(CONF)
CONF.set_override("transport_url", sys.argv[1])
from trove import rpc
rpc.set_defaults("trove")
rpc.init(CONF)
from trove.instance import models as instance_models
instance_models.get_instance_encryption_key = lambda instance_id: None
from trove.common import context, utils
from trove.common.template import ClusterConfigTemplate
from trove.guestagent import api
from trove.common.strategies.cluster.experimental.galera_common import (
    guestagent as galera_guest)
api.API._create_guest_queue = lambda self: None
ctx = context.TroveContext(user_id="u", project_id="p")
DSV = types.SimpleNamespace(datastore_name="mariadb", manager="mariadb",
                            name="10.11", version="10.11")
REPLICATION_USER = "clusterrepuser"


def guest(member):
    return galera_guest.GaleraCommonGuestAgentAPI(ctx, member["id"])


def render(member, cluster_ips, cluster_name, replication_user):
    template = ClusterConfigTemplate(DSV, {"ram": 512}, member["id"])
    return template.render(
        replication_user_pass="%(name)s:%(password)s" % replication_user,
        cluster_ips=cluster_ips, cluster_name=cluster_name,
        instance_ip=member["ip"], instance_name=member["name"])


def create(members):
    cluster_ips = [m["addr"] for m in members]
    replication_user = {"name": REPLICATION_USER,
                        "password": utils.generate_random_password()}
    cluster_name = utils.generate_uuid().replace("-", "")[:16]
    admin_password = str(utils.generate_random_password())
    bootstrap = True
    for member in members:
        g = guest(member)
        g.reset_admin_password(admin_password)
        g.install_cluster(replication_user, render(
            member, ",".join(cluster_ips), cluster_name, replication_user),
            bootstrap)
        bootstrap = False
    for member in members:
        guest(member).cluster_complete()
    return {"cluster_name": cluster_name}


def grow(existing, new):
    existing_ips = [m["addr"] for m in existing]
    context = guest(existing[0]).get_cluster_context()
    new_ips = [m["addr"] for m in new]
    for member in new:
        g = guest(member)
        g.reset_admin_password(context["admin_password"])
        g.install_cluster(context["replication_user"], render(
            member, ",".join(existing_ips), context["cluster_name"],
            context["replication_user"]), False)
    for member in existing + new:
        guest(member).write_cluster_configuration_overrides(render(
            member, ",".join(existing_ips + new_ips),
            context["cluster_name"], context["replication_user"]))
    for member in new:
        guest(member).cluster_complete()
    return {"cluster_name": context["cluster_name"]}


def shrink(leftover):
    ips = [m["addr"] for m in leftover]
    context = guest(leftover[0]).get_cluster_context()
    for member in leftover:
        guest(member).write_cluster_configuration_overrides(render(
            member, ",".join(ips), context["cluster_name"],
            context["replication_user"]))
    return {}


def run(cmd):
    op = cmd["op"]
    if op == "prepare":
        api.API(ctx, cmd["member"]["id"]).prepare(
            memory_mb=512, packages=[], databases=[], users=[],
            device_path=None, mount_point=None, backup_info=None,
            config_contents="", root_password=None, overrides=None,
            cluster_config=cmd["cluster_config"], snapshot=None,
            modules=None, ds_version="10.11")
        return None
    if op == "create":
        return create(cmd["members"])
    if op == "grow":
        return grow(cmd["existing"], cmd["new"])
    if op == "shrink":
        return shrink(cmd["leftover"])
    if op == "restart":
        return api.API(ctx, cmd["member"]["id"]).restart()
    if op == "render":
        return render(cmd["member"], cmd["cluster_ips"],
                      cmd["cluster_name"], cmd["replication_user"])
    if op == "call":
        return getattr(guest(cmd["member"]), cmd["method"])(
            **cmd.get("kwargs", {}))
    raise ValueError("unknown op %r" % op)


for line in sys.stdin:
    cmd = json.loads(line)
    try:
        out = {"ok": True, "result": run(cmd)}
    except Exception as exc:
        out = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
    print(json.dumps(out), flush=True)
'''


class TroveDriver:
    """Trove's side, in its own interpreter: :data:`_TROVE_DRIVER`."""

    def __init__(self, python, url):
        self.proc = subprocess.Popen(
            [python, "-c", _TROVE_DRIVER, url], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def send(self, timeout=300, **cmd):
        """Run one command; return ``(ok, result_or_error)``."""
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        ready, _w, _x = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError("Trove's driver did not answer %s within "
                                 "%d s" % (cmd["op"], timeout))
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("Trove's driver died: %s"
                                 % self.proc.stderr.read()[-2000:])
        out = json.loads(line)
        return out["ok"], out.get("result", out.get("error"))

    def ok(self, timeout=300, **cmd):
        """Run one command that must succeed; return its result."""
        ok, result = self.send(timeout=timeout, **cmd)
        assert ok, "%s failed: %s" % (cmd["op"], result)
        return result

    def close(self):
        """Stop the driver."""
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


class Member:
    """One guest process and what the test knows about it."""

    def __init__(self, make_guest, make_conductor, transport, base, name):
        workdir = os.path.join(base, name)
        os.makedirs(workdir)
        os.chmod(workdir, 0o755)  # noqa: S103 - mysql must traverse it
        self.name = name
        # below the ephemeral range: the IST and SST ports are bound long
        # after they are chosen, while clients open sockets
        self.port = helpers.server_port()
        self.group_port = helpers.server_port()
        group = {
            "runner": "child", "service_user": "mysql",
            "bind_address": "127.0.0.1", "port": self.port,
            "mount_point": os.path.join(workdir, "vol"),
            "data_dir": os.path.join(workdir, "vol", "data"),
            "run_dir": os.path.join(workdir, "run"),
            "log_dir": os.path.join(workdir, "log"),
            "config_file": os.path.join(workdir, "etc", "my.cnf"),
            "start_timeout": 120, "galera_port": self.group_port,
            "galera_ist_port": helpers.server_port(),
            "galera_sst_port": helpers.server_port(),
        }
        self.group = group
        self.guest = make_guest(datastore="mysql", group=group,
                                workdir=workdir)
        self.conductor = make_conductor(self.guest.conductor_queue)
        self.client = client_mod.GuestClient(self.guest.guest_id,
                                             transport=transport)
        self.wire = {"id": self.guest.guest_id, "name": name,
                     "ip": "127.0.0.1",
                     "addr": "127.0.0.1:%d" % self.group_port}

    def query(self, statement, args=None):
        """Run one statement as the guest's admin account, over the
        member's own socket; return the rows."""
        import pymysql

        with open(os.path.join(self.guest.workdir, "state", "mysql",
                               "secrets", "admin_password"),
                  encoding="utf-8") as handle:
            password = handle.read().strip()
        conn = pymysql.connect(
            unix_socket=os.path.join(self.group["run_dir"], "mysqld.sock"),
            user="os_admin", password=password, autocommit=True,
            connect_timeout=10)
        with conn, conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall()

    def wsrep(self, name):
        """One ``wsrep_%`` status value."""
        rows = self.query("SHOW GLOBAL STATUS LIKE %s", (name,))
        return rows[0][1] if rows else None

    def wait_wsrep(self, name, wanted, timeout=90):
        """Wait until ``wsrep(name)`` is ``wanted``; return the seconds
        it took. Galera changes its membership view asynchronously: a
        member that left cleanly is gone in well under a second, one that
        vanished only after the suspect and inactive timeouts (5 s and
        15 s by default), so every check of a view waits for it."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            seen = self.wsrep(name)
            if seen == wanted:
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise AssertionError(
                    "%s: %s is %r after %d s, not %r; its error log ends: "
                    "%s" % (self.name, name, seen, timeout, wanted,
                            self.error_log()[-3000:]))
            time.sleep(0.3)

    def error_log(self):
        """The server's error log (empty when there is none yet)."""
        try:
            with open(os.path.join(self.group["log_dir"], "error.log"),
                      encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def status(self):
        """The status the guest reports (its framework health)."""
        return self.client.health()["status"]

    def wait_status(self, wanted, timeout=180):
        """Wait until the guest heartbeats ``wanted``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted in self.conductor.statuses(self.guest.guest_id):
                return
            time.sleep(0.3)
        raise AssertionError("%s never reported %r; it reported %s; log: %s"
                             % (self.name, wanted, self.conductor.statuses(
                                 self.guest.guest_id)[-5:],
                                self.guest.log()[-3000:]))

    def mariadbd_pid(self):
        """The pid of this member's server."""
        with open(os.path.join(self.group["run_dir"], "mysqld.pid"),
                  encoding="utf-8") as handle:
            return int(handle.read().strip())


def _skip(reason):
    print("skipping: %s" % reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def galera_env(rabbitmq):
    """Skip, saying why, where a Galera cluster cannot run."""
    python = os.environ.get("TROVE26_PYTHON")
    if not python or not os.path.exists(python):
        _skip("set TROVE26_PYTHON to the python of a virtualenv with "
              "trove==26.0.0 (bench/guest_trove26.py builds one)")
    if shutil.which("mariadbd") is None and not os.path.exists(
            "/usr/sbin/mariadbd"):
        _skip("mariadbd is not installed (apt-get install mariadb-server)")
    if not any(os.path.exists(p) for p in _PROVIDERS):
        _skip("the Galera provider is not installed (apt-get install "
              "galera-4)")
    if shutil.which("rsync") is None:
        _skip("rsync (the state transfer) is not installed (apt-get "
              "install rsync)")
    if os.geteuid() != 0:
        _skip("the members run mariadbd as the 'mysql' user: run as root")
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        _skip("there is no 'mysql' OS user (apt-get install "
              "mariadb-server)")
    return python


@pytest.fixture(scope="module")
def cluster(galera_env, rabbitmq, make_guest, make_conductor,
            rpc_transport):
    """Five guests (three founders, one to grow with, one for faults),
    prepared as members through Trove's prepare, and Trove's driver."""
    # The members' servers run as 'mysql': their directories must be
    # reachable by it (pytest's own tmp dirs are 0700).
    base = tempfile.mkdtemp(prefix="trove-galera-%s-" % uuid.uuid4().hex[:6])
    os.chmod(base, 0o755)  # noqa: S103 - mysql must traverse it
    driver = TroveDriver(galera_env, rabbitmq)
    members = [Member(make_guest, make_conductor, rpc_transport, base,
                      "m%d" % i) for i in range(5)]
    cluster_id = "c-%s" % uuid.uuid4().hex[:8]
    try:
        for member in members:
            member.guest.start()
        for member in members:
            member.client.wait_until_up(timeout=60)
            driver.ok(op="prepare", member=member.wire, cluster_config={
                "id": cluster_id, "instance_type": "member"})
        yield {"members": members, "driver": driver, "id": cluster_id}
    finally:
        driver.close()
        for member in members:
            if member.guest.proc is not None and \
                    member.guest.proc.poll() is None:
                try:
                    member.client.call("stop_db", timeout=120)
                except Exception as exc:  # report, then kill
                    print("stop_db of %s failed: %s" % (member.name, exc))
                member.guest.terminate()
            member.client.close()
        shutil.rmtree(base, ignore_errors=True)


def _rows(member, statement):
    return [tuple(row) for row in member.query(statement)]


class TestGaleraCluster:
    """Form, use, grow, shrink, fault and recover a Galera cluster; the
    steps share one cluster and run in order."""

    def test_cluster_members_ready_not_active(self, cluster):
        """Prepared members heartbeat 'instance ready', never active,
        until cluster_complete; they know their cluster."""
        for member in cluster["members"]:
            member.wait_status("instance ready")
            statuses = member.conductor.statuses(member.guest.guest_id)
            assert "healthy" not in statuses and "running" not in statuses
            health = member.client.health()
            assert health["cluster"]["id"] == cluster["id"]
            assert health["cluster"]["complete"] is False

    def test_cluster_create_write_read(self, cluster):
        """Trove's create order forms a 3-member cluster; a write on one
        member is read on the others; members report healthy."""
        m0, m1, m2 = cluster["members"][:3]
        started = time.monotonic()
        cluster["driver"].ok(op="create", members=[m0.wire, m1.wire,
                                                   m2.wire])
        print("3-member cluster formed in %.1f s"
              % (time.monotonic() - started))
        for member in (m0, m1, m2):
            assert member.wsrep("wsrep_cluster_size") == "3"
            assert member.wsrep("wsrep_local_state_comment") == "Synced"
            member.wait_status("healthy")
            assert member.client.health()["cluster"]["complete"] is True
        assert m0.client.health()["cluster"]["role"] == "bootstrap"
        assert m1.client.health()["cluster"]["role"] == "joiner"
        m0.query("CREATE DATABASE app")
        m0.query("CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT)")
        m0.query("INSERT INTO app.t VALUES (1, 'from m0')")
        m2.query("INSERT INTO app.t VALUES (2, 'from m2')")
        for member in (m0, m1, m2):
            assert _rows(member, "SELECT * FROM app.t ORDER BY id") == [
                (1, "from m0"), (2, "from m2")]

    def test_cluster_users_databases_root(self, cluster):
        """Users, databases and root work on a member as on a single
        instance, and replicate."""
        m0, m1, m2 = cluster["members"][:3]
        m1.client.invoke("create_database",
                         databases=[{"_name": "shop"}])
        m1.client.invoke("create_user", users=[{
            "_name": "clerk", "_host": "%", "_password": "Clerk-pass-1",
            "_databases": [{"_name": "shop"}]}])
        m1.client.wait_idle(timeout=60)
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=m2.port, user="clerk",
                               password="Clerk-pass-1", database="shop",
                               connect_timeout=10)
        conn.close()
        names = [d.name for d in m0.client.list_databases()[0]]
        assert "shop" in names and "app" in names
        root = m2.client.call("enable_root")
        password = root["_password"] if isinstance(root, dict) \
            else root.password
        conn = pymysql.connect(host="127.0.0.1", port=m0.port, user="root",
                               password=password,
                               connect_timeout=10)
        conn.close()

    def test_cluster_bad_input_and_faults(self, cluster):
        """Malformed fragments, bad or unreachable addresses, a join to
        no cluster and a second bootstrap are refused clearly; the spare
        member reports failed and still serves as a single server;
        nothing changes on the cluster."""
        driver = cluster["driver"]
        m0 = cluster["members"][0]
        spare = cluster["members"][4]
        context = driver.ok(op="call", member=m0.wire,
                            method="get_cluster_context")
        user = context["replication_user"]
        name = context["cluster_name"]
        driver.ok(op="call", member=spare.wire,
                  method="reset_admin_password",
                  kwargs={"admin_password": context["admin_password"]})
        good = driver.ok(op="render", member=spare.wire,
                         cluster_ips=m0.wire["addr"], cluster_name=name,
                         replication_user=user)
        nowhere = "127.0.0.1:%d" % net.free_port()
        cases = [
            ("[galera\nwsrep_on=ON", False, "not an ini text"),
            ("\n".join(line for line in good.splitlines()
                       if not line.startswith("wsrep_cluster_address")),
             False, "wsrep_cluster_address is missing"),
            (good + "\nwsrep_notify_cmd=/bin/sh\n", False,
             "not a key a cluster fragment may set"),
            (good.replace(m0.wire["addr"], "no such host!"), False,
             "neither an IP address nor a host name"),
            (good.replace(m0.wire["addr"], "127.0.0.1:99999"), False,
             "out of 1-65535"),
            (good.replace(m0.wire["addr"], nowhere), False,
             "the cluster does not exist or is unreachable"),
            (good, True, "bootstrapping another would split it"),
        ]
        for fragment, bootstrap, expected in cases:
            ok, error = driver.send(
                op="call", member=spare.wire, method="install_cluster",
                kwargs={"replication_user": user,
                        "cluster_configuration": fragment,
                        "bootstrap": bootstrap})
            assert not ok and expected in error, (expected, error)
            assert spare.status() == "failed to spawn"
            # the spare still serves, as the single server it was
            assert spare.query("SELECT 1") == ((1,),)
            assert spare.wsrep("wsrep_cluster_size") in (None, "0")
        for member in cluster["members"][:3]:
            assert member.wsrep("wsrep_cluster_size") == "3"
            assert _rows(member, "SELECT COUNT(*) FROM app.t") == [(2,)]

    def test_cluster_grow_to_four(self, cluster):
        """Trove's grow order adds a member (the spare that failed
        before: a retry works); it gets the data by state transfer."""
        m0, m1, m2, _m3, spare = cluster["members"]
        started = time.monotonic()
        cluster["driver"].ok(op="grow", existing=[m0.wire, m1.wire,
                                                  m2.wire],
                             new=[spare.wire])
        print("grown to 4 in %.1f s" % (time.monotonic() - started))
        for member in (m0, m1, m2, spare):
            assert member.wsrep("wsrep_cluster_size") == "4"
        assert _rows(spare, "SELECT COUNT(*) FROM app.t") == [(2,)]
        spare.query("INSERT INTO app.t VALUES (3, 'from the new member')")
        assert _rows(m1, "SELECT COUNT(*) FROM app.t") == [(3,)]
        spare.wait_status("healthy")
        with open(spare.group["config_file"], encoding="utf-8") as handle:
            conf = handle.read()
        for member in (m0, m1, m2, spare):
            assert member.wire["addr"] in conf
        assert "clusterrepuser" not in conf  # no secret in my.cnf

    def test_cluster_shrink_to_three(self, cluster):
        """Trove deletes a member, then rewrites the others' address
        list; the cluster goes on with three."""
        m0, m1, m2, _m3, spare = cluster["members"]
        m1.client.call("stop_db", timeout=120)
        m1.guest.terminate()
        cluster["driver"].ok(op="shrink", leftover=[m0.wire, m2.wire,
                                                    spare.wire])
        for member in (m0, m2, spare):
            waited = member.wait_wsrep("wsrep_cluster_size", "3")
            print("%s saw m1 gone after %.1f s" % (member.name, waited))
            with open(member.group["config_file"],
                      encoding="utf-8") as handle:
                conf = handle.read()
            assert m1.wire["addr"] not in conf
        m2.query("INSERT INTO app.t VALUES (4, 'after the shrink')")
        assert _rows(spare, "SELECT COUNT(*) FROM app.t") == [(4,)]

    def test_cluster_kill_member_and_rejoin(self, cluster):
        """kill -9 of a member's server and of its guest: the others go
        on; the restarted guest still knows its cluster, restarts the
        server, which rejoins with its data and what it missed."""
        m0, _m1, m2, _m3, spare = cluster["members"]
        for member in (m0, m2, spare):
            # losing one of three keeps a quorum only when all three
            # are in the view first
            member.wait_wsrep("wsrep_cluster_size", "3")
            member.wait_wsrep("wsrep_cluster_status", "Primary")
        os.kill(m2.mariadbd_pid(), signal.SIGKILL)
        m2.guest.kill()
        m0.wait_wsrep("wsrep_cluster_size", "2")
        m0.wait_wsrep("wsrep_ready", "ON")
        m0.query("INSERT INTO app.t VALUES (5, 'while m2 was down')")
        m2.guest.start()
        m2.client.wait_until_up(timeout=60)
        health = m2.client.health()
        assert health["cluster"]["id"] == cluster["id"]
        assert health["cluster"]["role"] == "joiner"
        deadline = time.monotonic() + 180
        while m0.wsrep("wsrep_cluster_size") != "3":
            assert time.monotonic() < deadline, m2.guest.log()[-3000:]
            time.sleep(0.5)
        m2.client.wait_idle(timeout=180)
        assert _rows(m2, "SELECT id FROM app.t ORDER BY id") == [
            (1,), (2,), (3,), (4,), (5,)]
        assert m2.status() == "healthy"
        spare.wait_wsrep("wsrep_cluster_size", "3")

    def test_cluster_rolling_restart(self, cluster):
        """Trove's rolling restart: one member at a time; the cluster
        keeps serving writes throughout."""
        m0, _m1, m2, _m3, spare = cluster["members"]
        for n, member in enumerate((m0, m2, spare)):
            cluster["driver"].ok(op="restart", member=member.wire)
            member.wait_wsrep("wsrep_local_state_comment", "Synced")
            member.wait_wsrep("wsrep_cluster_size", "3")
            other = spare if member is not spare else m0
            other.query("INSERT INTO app.t VALUES (%s, 'rolling')",
                        (10 + n,))
        assert _rows(m0, "SELECT COUNT(*) FROM app.t") == [(8,)]
