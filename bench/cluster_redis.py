"""Benchmark: forming a 3-master Redis Cluster through the guest against
``redis-cli --cluster create``, and write-to-read latency across members.

For each round, in one run on the same machine:

* guest: three members prepared by the plugin's own ``prepare`` with a
  ``cluster_config`` (not timed), then the calls of Trove's taskmanager
  through each manager's operation gate, timed: ``cluster_meet`` on the
  second and third (pointing at the first), ``cluster_addslots`` on each
  (whole ranges), ``cluster_complete`` on each;
* baseline: three bare ``redis-server --cluster-enabled yes`` started
  directly, then ``redis-cli --cluster create ... --cluster-yes`` (which
  also waits until the cluster agrees), timed.

Latency: on the guest-formed cluster, a writer and a separate reader
(``redis.cluster.RedisCluster`` clients) ``SET`` then ``GET`` keys spread
over every master; the time from the write's start to the reader seeing
the value, against the same pair of plain clients on one standalone
redis-server.

Usage::

    .venv/bin/python bench/cluster_redis.py --rounds 5 \\
        --out bench/results/cluster_redis.md

Not a test: it starts about 6 servers per round.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SPLIT = ((0, 5461), (5462, 10922), (10923, 16383))
PASSWORD = "bench-root-pw-123"  # noqa: S105 - a throwaway bench password


def _member(root, name):
    from trove_guest_base import testing
    from trove_ds_redis import testing as redis_testing

    where = os.path.join(root, name)
    return testing.make_manager(
        "redis", where, port=redis_testing.cluster_port(),
        bind_address="127.0.0.1", mount_point=os.path.join(where, "data"),
        config_file=os.path.join(where, "etc", "redis.conf"),
        backup_storage_root=os.path.join(root, "backups"), save=[],
        start_timeout=60, cluster_node_timeout=5000)


def guest_round(root):
    """Prepare three members, then time Trove's calls; return
    ``(seconds, members)`` (the members keep running)."""
    members = [_member(root, "m%d" % i) for i in range(3)]
    for mgr in members:
        mgr.prepare(memory_mb=None, packages=[], databases=[], users=[],
                    cluster_config={"id": "bench", "instance_type":
                                    "member"})
        mgr.enable_root_with_password(PASSWORD)
    started = time.monotonic()
    head = members[0]
    for mgr in members[1:]:
        mgr.operation("cluster_meet")(head.host, str(head.options.port))
    for mgr, (first, last) in zip(members, SPLIT, strict=True):
        mgr.operation("cluster_addslots")(float(first), float(last))
    for mgr in members:
        mgr.operation("cluster_complete")()
    return time.monotonic() - started, members


def _bare_server(root, name, port, cluster=True):
    where = os.path.join(root, name)
    os.makedirs(where)
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--dir", where, "--save", "", "--appendonly", "no"]
    if cluster:
        argv += ["--cluster-enabled", "yes", "--cluster-config-file",
                 os.path.join(where, "nodes.conf"),
                 "--cluster-node-timeout", "5000"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port, socket_timeout=5)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    client.close()
    return proc


def baseline_round(root):
    """Three bare cluster-mode servers; time ``redis-cli --cluster
    create``; return seconds."""
    from trove_ds_redis import testing as redis_testing

    ports = [redis_testing.cluster_port() for _ in range(3)]
    procs = [_bare_server(root, "bare%d" % i, p)
             for i, p in enumerate(ports)]
    try:
        started = time.monotonic()
        subprocess.run(
            ["redis-cli", "--cluster", "create"]
            + ["127.0.0.1:%d" % p for p in ports]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, timeout=120)
        import redis

        # like the guest's cluster_complete: every node says 'ok'
        for port in ports:
            client = redis.Redis(port=port, socket_timeout=5)
            while b"cluster_state:ok" not in client.execute_command(
                    "CLUSTER", "INFO"):
                if time.monotonic() - started > 120:
                    raise RuntimeError("the baseline cluster is not ok")
                time.sleep(0.02)
            client.close()
        return time.monotonic() - started
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def _latencies(writer, reader, count):
    out = []
    for i in range(count):
        key, value = "lat:%d" % i, "v%d" % i
        started = time.perf_counter()
        writer.set(key, value)
        while reader.get(key) != value:
            pass
        out.append((time.perf_counter() - started) * 1e6)
    return out


def latency(members, root, count):
    """Write-to-read latency in microseconds on the cluster and on one
    standalone server."""
    import redis
    from redis.cluster import ClusterNode
    from redis.cluster import RedisCluster

    nodes = [ClusterNode("127.0.0.1", m.options.port) for m in members]
    writer = RedisCluster(startup_nodes=nodes[:1], password=PASSWORD,
                          decode_responses=True)
    reader = RedisCluster(startup_nodes=nodes[2:], password=PASSWORD,
                          decode_responses=True)
    from trove_ds_redis import testing as redis_testing

    port = redis_testing.server_port()
    proc = _bare_server(root, "standalone", port, cluster=False)
    try:
        plain_w = redis.Redis(port=port, decode_responses=True)
        plain_r = redis.Redis(port=port, decode_responses=True)
        _latencies(writer, reader, 200)  # warm the slot maps
        cluster_us = _latencies(writer, reader, count)
        single_us = _latencies(plain_w, plain_r, count)
        per_master = [m.client().dbsize() for m in members]
        return cluster_us, single_us, per_master
    finally:
        writer.close()
        reader.close()
        proc.terminate()
        proc.wait(timeout=30)


def _pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(rounds, count):
    """All rounds; return the result dict."""
    guest_s, bare_s = [], []
    lat = None
    for r in range(rounds):
        root = tempfile.mkdtemp(prefix="redis-cluster-bench-")
        members = []
        try:
            # alternate which side goes first, so drift hits both
            if r % 2:
                bare_s.append(baseline_round(root))
                seconds, members = guest_round(root)
            else:
                seconds, members = guest_round(root)
                bare_s.append(baseline_round(root))
            guest_s.append(seconds)
            if lat is None:
                lat = latency(members, root, count)
        finally:
            for mgr in members:
                mgr.do_stop()
            shutil.rmtree(root, ignore_errors=True)
        print(json.dumps({"round": r, "guest_s": guest_s[-1],
                          "redis_cli_s": bare_s[-1]}), flush=True)
    cluster_us, single_us, per_master = lat
    return {
        "rounds": rounds, "guest_form_s": guest_s,
        "redis_cli_create_s": bare_s,
        "guest_form_median_s": statistics.median(guest_s),
        "redis_cli_create_median_s": statistics.median(bare_s),
        "form_ratio": statistics.median(guest_s)
        / statistics.median(bare_s),
        "latency_samples": count,
        "keys_per_master": per_master,
        "cluster_write_read_us": {"p50": _pct(cluster_us, 0.5),
                                  "p99": _pct(cluster_us, 0.99)},
        "standalone_write_read_us": {"p50": _pct(single_us, 0.5),
                                     "p99": _pct(single_us, 0.99)},
        "latency_ratio_p50": _pct(cluster_us, 0.5)
        / _pct(single_us, 0.5),
    }


def _redis_version():
    out = subprocess.run(["redis-server", "--version"], check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    return out.split("v=")[1].split()[0] if "v=" in out else out.strip()


def markdown(result):
    """Render the result as bench/results/cluster_redis.md."""
    r = result
    lines = [
        "# Redis Cluster: forming 3 masters, write-to-read latency", "",
        "Produced by `bench/cluster_redis.py` (one run, same machine: %d "
        "CPUs, redis-server %s, %d rounds, guest and baseline "
        "interleaved). Guest = from three members already prepared with "
        "a `cluster_config`, Trove's calls through each manager's "
        "operation gate: `cluster_meet` x2, `cluster_addslots` x3, "
        "`cluster_complete` x3 (each meet waits for the handshake and "
        "the peer's next PONG; complete waits for `cluster_state:ok`). "
        "Baseline = `redis-cli --cluster create` on three bare "
        "cluster-mode servers (it waits until the nodes agree), then "
        "until each node reports `cluster_state:ok`. No RPC is included "
        "on either side."
        % (os.cpu_count(), _redis_version(), r["rounds"]), "",
        "| | guest (Trove's calls) | redis-cli --cluster create | ratio |",
        "|---|---|---|---|",
        "| form 3 masters, median | %.2f s | %.2f s | %.2fx |" % (
            r["guest_form_median_s"], r["redis_cli_create_median_s"],
            r["form_ratio"]),
        "", "Write-to-read latency (%d keys; a writer client SETs, a "
        "separate reader client GETs until it sees the value; keys "
        "spread over the masters: %s keys each):" % (
            r["latency_samples"], "/".join(
                str(k) for k in r["keys_per_master"])), "",
        "| | guest-formed cluster (RedisCluster clients) | one standalone "
        "server (plain clients) | ratio p50 |",
        "|---|---|---|---|",
        "| p50 / p99 | %.0f / %.0f us | %.0f / %.0f us | %.2fx |" % (
            r["cluster_write_read_us"]["p50"],
            r["cluster_write_read_us"]["p99"],
            r["standalone_write_read_us"]["p50"],
            r["standalone_write_read_us"]["p99"],
            r["latency_ratio_p50"]),
        "", "Reading:", "",
        "* Forming: the guest follows Trove's order (meet first, slots "
        "after), so the members sit in a cluster that serves no slot "
        "until the slots arrive; Redis then holds `cluster_state:fail` "
        "for its rejoin delay (`cluster-node-timeout`, capped at 5 s), "
        "which the first `cluster_complete` waits out. `redis-cli "
        "--cluster create` assigns slots before meeting and does not "
        "pay it. The guest also checks each meet (handshake done, the "
        "peer's next PONG seen: about 1 s each) where `CLUSTER MEET` "
        "alone answers before anything happened. Lower "
        "`cluster_node_timeout` shortens the first part.",
        "* Latency: every key is read from the master that holds it, "
        "where it was written, so a reader sees a write as soon as it "
        "returns; the cluster's extra cost is the client's routing "
        "(redis-py's RedisCluster computes the slot and picks the "
        "connection per command). p99 figures carry the noise of the "
        "shared 2-CPU machine.",
        "", "Raw figures:", "", "```json",
        json.dumps(r, indent=1, sort_keys=True), "```", ""]
    return "\n".join(lines)


def main(argv=None):
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys", type=int, default=2000,
                        help="latency samples")
    parser.add_argument(
        "--out", default=os.path.join(os.path.dirname(
            os.path.abspath(__file__)), "results", "cluster_redis.md"),
        help="write Markdown results here (and the figures as .json)")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("redis-server is not installed (apt-get install "
              "redis-server)")
        return 2
    result = run(args.rounds, args.keys)
    text = markdown(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
        with open(os.path.splitext(args.out)[0] + ".json", "w",
                  encoding="utf-8") as handle:
            json.dump(result, handle, indent=1, sort_keys=True)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
