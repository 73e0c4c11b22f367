"""Drive a real MariaDB guest through trove-core's client, end to end.

Run by ``demo/run.sh`` (which installs packages and starts RabbitMQ).
Everything lives in a fresh temporary directory: the guest's two config
files in Trove's layout, its state, the MariaDB data directory (on a free
port) and the backup storage. The steps:

1. start ``trove-guestagent`` for datastore ``mysql`` as a subprocess;
2. ``prepare`` (a cast, as Trove sends it), following its progress;
3. create a database and a user (casts), list both (calls);
4. prove the effects from outside: connect as the new user with PyMySQL;
5. ``create_backup`` to file storage; the conductor stand-in hears
   ``update_backup`` and periodic ``heartbeat`` casts;
6. stop the datastore, SIGTERM the guest, and print a summary.

The work dir is removed after a passing run unless ``--keep`` is given.
"""

import argparse
import logging
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import uuid

URL = "rabbit://guest:guest@127.0.0.1:5672/"
PASSWORD_ALPHABET = string.ascii_letters + string.digits


def say(text=""):
    """Print one line of the demo's story."""
    print(text, flush=True)


def write_configs(workdir, guest_id, port, conductor_topic):
    """Write guest_info.conf and trove-guestagent.conf; return both."""
    info = os.path.join(workdir, "guest_info.conf")
    main = os.path.join(workdir, "trove-guestagent.conf")
    with open(info, "w", encoding="utf-8") as handle:
        handle.write("[DEFAULT]\nguest_id = %s\ndatastore_manager = mysql\n"
                     % guest_id)
    paths = {name: os.path.join(workdir, name)
             for name in ("state", "vol", "run", "log", "etc", "backups")}
    with open(main, "w", encoding="utf-8") as handle:
        handle.write(
            "[DEFAULT]\n"
            "transport_url = %(url)s\n"
            "control_exchange = trove\n"
            "conductor_queue = %(topic)s\n"
            "state_path = %(state)s\n"
            "report_interval = 2\n"
            "log_file = %(log)s/guest.log\n"
            "\n[mysql]\n"
            "runner = child\n"
            "service_user = root\n"
            "bind_address = 127.0.0.1\n"
            "port = %(port)d\n"
            "mount_point = %(vol)s\n"
            "data_dir = %(vol)s/data\n"
            "run_dir = %(run)s\n"
            "log_dir = %(log)s\n"
            "config_file = %(etc)s/my.cnf\n"
            "backup_storage = file\n"
            "backup_storage_root = %(backups)s\n"
            % dict(paths, url=URL, topic=conductor_topic, port=port))
    os.makedirs(paths["log"], exist_ok=True)
    return info, main, paths


class Conductor:
    """A stand-in for Trove's conductor: records heartbeats and backup
    updates cast by the guest."""

    def __init__(self, transport, topic):
        import oslo_messaging

        self.heartbeats = []
        self.backups = []
        outer = self

        class Endpoint:
            target = oslo_messaging.Target(version="1.0")

            def heartbeat(self, ctxt, instance_id, payload, sent=None):
                outer.heartbeats.append((sent, payload["service_status"]))

            def update_backup(self, ctxt, instance_id, backup_id,
                              sent=None, **fields):
                outer.backups.append((backup_id, fields))

        self.server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic=topic, server="demo"),
            [Endpoint()])
        self.server.start()

    def stop(self):
        """Stop listening."""
        self.server.stop()
        self.server.wait()


def wait_backup(conductor, backup_id, timeout=300):
    """Wait for a final update_backup; return its fields."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for seen, fields in conductor.backups:
            if seen == backup_id and fields.get("state") in (
                    "COMPLETED", "FAILED"):
                return fields
        time.sleep(0.2)
    raise RuntimeError("no final update_backup for %s within %d s"
                       % (backup_id, timeout))


def follow(client, timeout):
    """Print progress until no mutating operation runs; return health."""
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.current_operation()
        current = state["current"]
        progress = (current or {}).get("progress")
        line = None
        if current and progress:
            line = "    %s: %s/%s %s" % (
                current["name"], progress["done"],
                progress["total"] or "?", progress["message"])
        if line and line != last:
            say(line)
            last = line
        if current is None and not state["queued"]:
            return client.wait_idle(timeout=timeout)
        time.sleep(0.3)
    raise RuntimeError("the guest stayed busy for %d s" % timeout)


def run(args):  # noqa: C901 - one linear story, told step by step
    """The demo; returns the process exit status."""
    import pymysql
    from oslo_config import cfg

    from trove_core import client as client_mod
    from trove_core import exceptions
    from trove_core import models
    from trove_core import rpc
    from trove_guest_base import net

    workdir = tempfile.mkdtemp(prefix="trove-demo-")
    guest_id = "demo-%s" % uuid.uuid4()
    port = net.free_port()
    topic = "trove-conductor-%s" % guest_id
    info, main, paths = write_configs(workdir, guest_id, port, topic)
    summary = []

    def check(label, ok, detail=""):
        summary.append((label, bool(ok), detail))
        say("  [%s] %s%s" % ("ok" if ok else "FAILED", label,
                             " - %s" % detail if detail else ""))

    say("== trove-core demo: a MariaDB guest over RabbitMQ")
    say("   work dir %s, guest %s, MariaDB port %d" % (workdir, guest_id,
                                                      port))
    say("   config: %s + %s" % (info, main))
    opts = cfg.ConfigOpts()
    opts([], project="trove-demo")
    transport = rpc.get_transport(opts, url=URL)
    conductor = Conductor(transport, topic)
    agent = os.path.join(os.path.dirname(sys.executable),
                         "trove-guestagent")
    argv = [agent, "--config-file", info, "--config-file", main]
    say("\n== 1. start the guest: %s" % " ".join(argv))
    started = time.monotonic()
    guest = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    client = client_mod.GuestClient(guest_id, transport=transport)
    try:
        client.wait_until_up(timeout=60)
        check("guest consuming on %s" % rpc.guest_topic(guest_id), True,
              "%.2f s after exec" % (time.monotonic() - started))
        plugin = client.plugin_info()
        say("    plugin %(name)s from %(distribution)s %(version)s, tier "
            "%(tier)s" % plugin)
        say("    capabilities: %s"
            % ", ".join(client.capabilities()["capabilities"]))

        say("\n== 2. prepare (cast), following its progress")
        client.prepare(memory_mb=512, packages=[], databases=[], users=[],
                       config_contents="")
        health = follow(client, timeout=args.timeout)
        check("prepared, datastore %s" % health["status"],
              health["prepared"] and health["status"] in ("healthy",
                                                          "running"))

        say("\n== 3. create a database and a user (casts), list them")
        password = "".join(secrets.choice(PASSWORD_ALPHABET)
                           for _ in range(24))
        shop = models.Database("demo_shop", character_set="utf8mb4",
                               collate="utf8mb4_general_ci")
        client.create_database(databases=[shop])
        client.create_user(users=[models.User(
            "demo_user", host="%", password=password, databases=(shop,))])
        client.wait_idle(timeout=60)
        databases, _marker = client.list_databases()
        users, _marker = client.list_users()
        say("    list_databases -> %s" % [d.name for d in databases])
        say("    list_users     -> %s" % [
            (u.key, [d.name for d in u.databases]) for u in users])
        check("database listed", "demo_shop" in [d.name for d in databases])
        check("user listed with its grant", any(
            u.name == "demo_user" and "demo_shop" in
            [d.name for d in u.databases] for u in users))
        try:
            client.call("mount_volume", device_path="/dev/vdb",
                        mount_point="/mnt")
        except exceptions.TroveError as exc:
            check("undeclared operation refused",
                  isinstance(exc, exceptions.OperationNotSupported),
                  "%s: %s" % (type(exc).__name__, exc))

        say("\n== 4. connect from outside as demo_user (PyMySQL)")
        conn = pymysql.connect(host="127.0.0.1", port=port,
                               user="demo_user", password=password,
                               database="demo_shop", connect_timeout=10)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS items "
                        "(id INT PRIMARY KEY, name VARCHAR(40))")
            cur.execute("REPLACE INTO items VALUES (%s, %s), (%s, %s)",
                        (1, "teapot", 2, "kettle"))
            conn.commit()
            cur.execute("SELECT COUNT(*) FROM items")
            rows = cur.fetchone()[0]
            cur.execute("SELECT CURRENT_USER(), VERSION()")
            who, version = cur.fetchone()
        say("    connected as %s to %s; items has %d rows"
            % (who, version, rows))
        check("new user can write its database", rows == 2)

        say("\n== 5. create_backup (cast) to file storage")
        client.create_backup(backup_info={"id": "demo-backup-1"})
        fields = wait_backup(conductor, "demo-backup-1",
                             timeout=args.timeout)
        states = [f.get("state") for b, f in conductor.backups
                  if b == "demo-backup-1"]
        say("    update_backup states: %s" % " -> ".join(states))
        location = fields.get("location") or ""
        stored = (location if os.path.isabs(location)
                  else os.path.join(paths["backups"], location))
        # update_backup carries the size in GB, as Trove's conductor
        # stores it; show the bytes on disk beside it.
        on_disk = os.path.getsize(stored) if os.path.exists(stored) else 0
        say("    %s: %d bytes stored (update_backup size %.9f GB), %s" % (
            location, on_disk, float(fields.get("size") or 0),
            str(fields.get("checksum"))[:23] + "..."))
        check("backup completed and stored",
              fields.get("state") == "COMPLETED"
              and os.path.exists(stored), stored)

        say("\n== 6. heartbeats the conductor stand-in received")
        client.wait_idle(timeout=60)
        time.sleep(2.5)
        for sent, status in conductor.heartbeats[-6:]:
            say("    %s  heartbeat service_status=%s"
                % (time.strftime("%H:%M:%S", time.localtime(sent)),
                   status))
        check("heartbeats received", len(conductor.heartbeats) >= 2,
              "%d in total" % len(conductor.heartbeats))

        say("\n== 7. stop the datastore, then SIGTERM the guest")
        client.call("stop_db")
        check("stop_db", client.health()["status"] == "shutdown")
    except Exception as exc:
        check("demo step", False, "%s: %s" % (type(exc).__name__, exc))
        try:
            client.call("stop_db", timeout=60)
        except Exception as stop_exc:  # report the first error
            say("    could not stop the datastore: %s" % stop_exc)
    finally:
        if guest.poll() is None:
            guest.send_signal(signal.SIGTERM)
        try:
            status = guest.wait(timeout=60)
        except subprocess.TimeoutExpired:
            guest.kill()
            status = guest.wait()
        check("guest exited cleanly on SIGTERM", status == 0,
              "exit status %s" % status)
        conductor.stop()
        transport.cleanup()

    say("\n== summary")
    for label, ok, _detail in summary:
        say("  %-6s %s" % ("ok" if ok else "FAILED", label))
    failed = [label for label, ok, _d in summary if not ok]
    if failed or args.keep:
        say("  kept %s (guest log: %s/guest.log)" % (workdir, paths["log"]))
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        say("  removed %s (run with --keep to keep it)" % workdir)
    say("\n%s" % ("demo passed" if not failed
                  else "demo FAILED: %s" % "; ".join(failed)))
    return 1 if failed else 0


def main():
    """Parse arguments and run the demo."""
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    # The broker client warns about frames racing a clean close.
    logging.getLogger("amqp").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=int, default=300,
                        help="seconds allowed for prepare and the backup")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work dir (data, logs, backup)")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
