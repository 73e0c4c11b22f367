"""Benchmark: forming a 3-member Galera cluster, and write-to-read latency
across its members.

In one run on this machine (as root; the servers run as ``mysql``):

* three MariaDB servers are prepared by the mysql plugin as cluster
  members (``prepare`` with a ``cluster_config``), then formed in Trove's
  order through the manager's own operations (``reset_admin_password`` and
  ``install_cluster`` on each, bootstrap first, then ``cluster_complete``
  on all), each step timed; the fragments are Trove 26's template
  rendered with jinja2;
* write-to-read latency: an ``INSERT`` on member 1, then reads on member 2
  until the row is there (plain reads, polling), and with a causal read
  (``wsrep_sync_wait = 1``: one read that waits for the write); the
  baseline is the same ``INSERT`` and read on one member.

Usage::

    .venv/bin/python bench/galera_cluster.py --rounds 300 \\
        --out bench/results/galera.md

Not a test; it needs galera-4 and rsync, and takes about a minute.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = """[mysqld]
bind-address=0.0.0.0
default-storage-engine=innodb

[galera]
binlog_format=ROW
innodb_autoinc_lock_mode=2
innodb_flush_log_at_trx_commit=0
innodb_doublewrite=1
query_cache_size=0
wsrep_on=ON
wsrep_slave_threads=8
wsrep_provider=/usr/lib/libgalera_smm.so
wsrep_provider_options="gcache.size=128M; gcache.page_size=1G"

wsrep_sst_method=rsync
wsrep_sst_auth="{user}:{password}"

wsrep_cluster_address="gcomm://{ips}"

wsrep_cluster_name={name}
wsrep_node_name={node}
wsrep_node_address=127.0.0.1"""


def _member(root, name):
    from oslo_config import cfg

    from trove_core import options as core_options
    from trove_ds_mysql.manager import Manager
    from trove_guest_base import net

    where = os.path.join(root, name)
    os.makedirs(where)
    os.chmod(where, 0o755)  # noqa: S103 - the mysql user must traverse it
    conf = cfg.ConfigOpts()
    core_options.register_side(conf, "mysql", "guest")
    conf(args=[], default_config_files=[], default_config_dirs=[])
    values = dict(
        mount_point=os.path.join(where, "vol"),
        data_dir=os.path.join(where, "vol", "data"),
        run_dir=os.path.join(where, "run"),
        log_dir=os.path.join(where, "log"),
        config_file=os.path.join(where, "etc", "my.cnf"),
        service_user="mysql", runner="child", bind_address="127.0.0.1",
        port=net.free_port(), start_timeout=120,
        galera_port=net.free_port(), galera_ist_port=net.free_port(),
        galera_sst_port=net.free_port())
    for key, value in values.items():
        conf.set_override(key, value, group="mysql")
    return Manager("mysql", conf, os.path.join(where, "state"))


def _connect(mgr):
    import pymysql

    return pymysql.connect(unix_socket=mgr.server.socket,
                           user=mgr.options.admin_user,
                           password=mgr.load_secret("admin_password"),
                           autocommit=True, connect_timeout=10)


def _pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latencies(members, rounds):
    writer, reader = _connect(members[0]), _connect(members[1])
    causal = _connect(members[1])
    with writer.cursor() as w, reader.cursor() as r, causal.cursor() as c:
        w.execute("CREATE DATABASE IF NOT EXISTS bench")
        w.execute("CREATE TABLE IF NOT EXISTS bench.t (id INT PRIMARY KEY,"
                  " v VARCHAR(32))")
        c.execute("SET SESSION wsrep_sync_wait = 1")
        same, across, causal_ms, polls = [], [], [], []
        for i in range(rounds):
            started = time.perf_counter()
            w.execute("INSERT INTO bench.t VALUES (%s, 'same')", (3 * i,))
            w.execute("SELECT v FROM bench.t WHERE id = %s", (3 * i,))
            assert w.fetchone()
            same.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            w.execute("INSERT INTO bench.t VALUES (%s, 'across')",
                      (3 * i + 1,))
            n = 0
            while True:
                n += 1
                r.execute("SELECT v FROM bench.t WHERE id = %s",
                          (3 * i + 1,))
                if r.fetchone():
                    break
            across.append((time.perf_counter() - started) * 1000)
            polls.append(n)

            started = time.perf_counter()
            w.execute("INSERT INTO bench.t VALUES (%s, 'causal')",
                      (3 * i + 2,))
            c.execute("SELECT v FROM bench.t WHERE id = %s", (3 * i + 2,))
            assert c.fetchone(), "a causal read missed the write"
            causal_ms.append((time.perf_counter() - started) * 1000)
    for conn in (writer, reader, causal):
        conn.close()
    return {"same_member_ms": same, "across_poll_ms": across,
            "across_causal_ms": causal_ms, "polls": polls}


def run(rounds):
    """Form the cluster, measure, tear down; return the figures."""
    from trove_ds_mysql import galera

    root = tempfile.mkdtemp(prefix="bench-galera-")
    os.chmod(root, 0o755)  # noqa: S103 - the mysql user must traverse it
    members = [_member(root, "m%d" % i) for i in range(3)]
    figures = {"steps_s": []}
    try:
        started = time.perf_counter()
        for mgr in members:
            mgr.prepare(memory_mb=512, packages=[], databases=[], users=[],
                        cluster_config={"id": "bench", "instance_type":
                                        "member"})
        figures["prepare_3_s"] = time.perf_counter() - started
        ips = ",".join("127.0.0.1:%d" % m.options.galera_port
                       for m in members)
        user = {"name": "clusterrepuser", "password": "Bench-repl-1"}
        started = time.perf_counter()
        for n, mgr in enumerate(members):
            step = time.perf_counter()
            mgr.operation("reset_admin_password")("Bench-admin-1")
            fragment = TEMPLATE.format(user=user["name"],
                                       password=user["password"], ips=ips,
                                       name="benchcluster", node="m%d" % n)
            mgr.operation("install_cluster")(user, fragment, n == 0)
            figures["steps_s"].append(time.perf_counter() - step)
        for mgr in members:
            mgr.operation("cluster_complete")()
        figures["form_3_s"] = time.perf_counter() - started
        figures["cluster_size"] = int(members[0].wsrep_status()[
            "wsrep_cluster_size"])
        lat = _latencies(members, rounds)
        figures["raw"] = lat
        for key in ("same_member_ms", "across_poll_ms", "across_causal_ms"):
            figures[key] = {"median": statistics.median(lat[key]),
                            "p95": _pct(lat[key], 0.95)}
        figures["mean_polls"] = statistics.mean(lat["polls"])
        figures["provider"] = galera.find_provider()
    finally:
        for mgr in members:
            try:
                mgr.do_stop()
            except Exception as exc:  # report, keep stopping the others
                print("stop failed: %s" % exc, file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
    return figures


def _mariadb_version():
    out = subprocess.run(["mariadbd", "--version"], capture_output=True,
                         text=True, check=False).stdout
    return out.split("Ver ")[-1].split(" for")[0].strip() or "?"


def report(fig, rounds):
    """The Markdown of the results file."""
    same = fig["same_member_ms"]
    poll = fig["across_poll_ms"]
    causal = fig["across_causal_ms"]
    steps = ", ".join("%.1f s" % s for s in fig["steps_s"])
    lines = [
        "# Galera cluster: forming and write-to-read latency",
        "",
        "Produced by `bench/galera_cluster.py` (one run, same machine: "
        "%d CPUs, MariaDB %s, provider %s, state transfer rsync). Three "
        "servers prepared by the mysql plugin as cluster members, on "
        "127.0.0.1 with their own ports; formed in Trove's order through "
        "the manager's operations (reset_admin_password + install_cluster "
        "on each, bootstrap first; cluster_complete on all). Latency over "
        "%d rounds: write on member 1 then read on member 2 (polling plain "
        "reads, and one causal read with wsrep_sync_wait = 1), against the "
        "same write and read on member 1. The machine is shared with other "
        "test runs: p95 figures are noisy, medians less so."
        % (os.cpu_count(), _mariadb_version(), fig["provider"], rounds),
        "",
        "| measure | value |",
        "|---|---|",
        "| prepare 3 members (sequential) | %.1f s |" % fig["prepare_3_s"],
        "| form the 3-member cluster | %.1f s (bootstrap, join, join: "
        "%s) |" % (fig["form_3_s"], steps),
        "| cluster size after forming | %d |" % fig["cluster_size"],
        "| write+read, same member (median / p95) | %.2f / %.2f ms |"
        % (same["median"], same["p95"]),
        "| write, then polled read on another member (median / p95) | "
        "%.2f / %.2f ms (%.2fx; %.1f reads on average) |"
        % (poll["median"], poll["p95"], poll["median"] / same["median"],
           fig["mean_polls"]),
        "| write, then causal read on another member (median / p95) | "
        "%.2f / %.2f ms (%.2fx) |"
        % (causal["median"], causal["p95"],
           causal["median"] / same["median"]),
        "",
        "Raw figures:",
        "",
        "```json",
        json.dumps({k: v for k, v in fig.items() if k != "raw"}, indent=1,
                   sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    """Run the benchmark and write its results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--out", default=os.path.join(
        HERE, "results", "galera.md"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root: the servers run as the mysql user")
        return 1
    fig = run(args.rounds)
    text = report(fig, args.rounds)
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    print("(%s)" % platform.platform())
    return 0


if __name__ == "__main__":
    sys.exit(main())
