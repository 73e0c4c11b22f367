"""Benchmark: the redis-rdb backup strategy against redis-cli + gzip.

For each dataset size, in one run on the same machine:

* fill a Redis server started by the plugin's own prepare until
  ``used_memory`` reaches the target (values from a pool of random hex
  strings, so they compress about as much as typical text);
* back it up through the guest (``create_backup``: BGSAVE, then stream the
  RDB through gzip and SHA-256 into file storage) in a separate process
  whose peak RSS is recorded, and directly with
  ``redis-cli --rdb - | gzip -6 > file``;
* restore it through the guest (``prepare`` with ``backup_info`` on a new
  server: verify, decompress, start, load), also in a separate process,
  and directly with ``gzip -dc > dump.rdb`` then ``redis-server`` until it
  answers ``PING``.

Usage::

    .venv/bin/python bench/redis_backup.py --sizes 256,1024 \\
        --out bench/results/redis.md

Not a test: it takes minutes and needs about 4x the largest size in RAM.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

VALUE_BYTES = 1024
POOL = 2048
BATCH = 2000


def _manager(root, name, opts=None):
    from trove_guest_base import testing
    from trove_ds_redis import testing as redis_testing

    where = os.path.join(root, name)
    overrides = redis_testing.spawner_options(where)
    overrides.update({"backup_storage_root": os.path.join(root, "backups"),
                      "mount_point": os.path.join(where, "data"),
                      "save": [], "start_timeout": 600})
    overrides.update(opts or {})
    return testing.make_manager("redis", where, **overrides), overrides


def _fill(client, megabytes):
    pool = [os.urandom(VALUE_BYTES // 2).hex() for _ in range(POOL)]
    target = megabytes * 1024 * 1024
    i = 0
    while client.info("memory")["used_memory"] < target:
        with client.pipeline(transaction=False) as pipe:
            for _ in range(BATCH):
                pipe.set("bench:%d" % i, pool[i % POOL])
                i += 1
            pipe.execute()
    return i, client.info("memory")["used_memory"]


def _child(argv):
    """Run one guest operation in this process and print timing and peak
    RSS as JSON (so the figure is the guest's alone)."""
    spec = json.loads(argv[0])
    mgr, _ = _manager(spec["root"], spec["name"], spec["opts"])
    started = time.monotonic()
    if spec["op"] == "backup":
        result = mgr.create_backup({"id": spec["backup_id"]})
        extra = {"size": result.size, "raw_size": result.raw_size}
    else:
        mgr.prepare(memory_mb=spec["memory_mb"], packages=[], databases=[],
                    users=[], backup_info={"id": spec["backup_id"],
                                           "location": spec["location"]})
        extra = {"keys": mgr.client().dbsize()}
        mgr.do_stop()
    extra.update(seconds=time.monotonic() - started,
                 peak_rss_mb=resource.getrusage(
                     resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    print(json.dumps(extra))


def _in_child(spec):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child",
         json.dumps(spec)], check=True, stdout=subprocess.PIPE,
        timeout=3600)
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def _direct_backup(mgr, target):
    env = dict(os.environ, REDISCLI_AUTH=mgr.admin_password())
    started = time.monotonic()
    with open(target, "wb") as out:
        cli = subprocess.Popen(
            [mgr.options.client_binary, "-h", mgr.host, "-p",
             str(mgr.options.port), "--user", "os_admin", "--rdb", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        gz = subprocess.run(["gzip", "-6"], stdin=cli.stdout, stdout=out,
                            check=True)
        cli.stdout.close()
        if cli.wait() != 0 or gz.returncode != 0:
            raise RuntimeError("redis-cli --rdb | gzip failed")
    return time.monotonic() - started


def _direct_restore(root, archive):
    import redis

    from trove_ds_redis import testing as redis_testing

    where = os.path.join(root, "direct-restore")
    os.makedirs(where)
    port = redis_testing.server_port()
    started = time.monotonic()
    with open(os.path.join(where, "dump.rdb"), "wb") as out:
        subprocess.run(["gzip", "-dc", archive], stdout=out, check=True)
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--dir", where, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        while True:
            try:
                if client.ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        return time.monotonic() - started, client.dbsize()
    finally:
        server.terminate()
        server.wait()


def run_size(megabytes):
    """Measure one dataset size; return a result dict."""
    root = tempfile.mkdtemp(prefix="redis-bench-")
    # run as root, the server runs as the redis user, which must enter
    os.chmod(root, 0o711)  # noqa: S103 - enter, not list
    memory_mb = megabytes * 3
    try:
        mgr, opts = _manager(root, "source")
        mgr.prepare(memory_mb=memory_mb, packages=[], databases=[],
                    users=[])
        t0 = time.monotonic()
        keys, used = _fill(mgr.client(timeout=60), megabytes)
        fill_s = time.monotonic() - t0
        spec = {"root": root, "name": "source", "opts": {
            "port": opts["port"]}, "op": "backup", "backup_id": "bench"}
        guest_backup = _in_child(spec)
        direct_archive = os.path.join(root, "direct.rdb.gz")
        # redis-cli --rdb is served as a diskless replica sync, which Redis
        # delays 5 s by default to batch replicas; do not charge that to
        # the baseline.
        mgr.client().config_set("repl-diskless-sync-delay", "0")
        direct_backup_s = _direct_backup(mgr, direct_archive)
        mgr.do_stop()
        guest_restore = _in_child({
            "root": root, "name": "target", "opts": {}, "op": "restore",
            "backup_id": "bench", "location": "bench.rdb.gz",
            "memory_mb": memory_mb})
        direct_restore_s, direct_keys = _direct_restore(root,
                                                        direct_archive)
        return {
            "target_mb": megabytes, "keys": keys,
            "used_memory_mb": used / 1048576.0, "fill_s": fill_s,
            "rdb_mb": guest_backup["raw_size"] / 1048576.0,
            "guest_backup_s": guest_backup["seconds"],
            "guest_backup_gz_mb": guest_backup["size"] / 1048576.0,
            "guest_backup_peak_rss_mb": guest_backup["peak_rss_mb"],
            "direct_backup_s": direct_backup_s,
            "direct_backup_gz_mb": os.path.getsize(direct_archive)
            / 1048576.0,
            "guest_restore_s": guest_restore["seconds"],
            "guest_restore_keys": guest_restore["keys"],
            "guest_restore_peak_rss_mb": guest_restore["peak_rss_mb"],
            "direct_restore_s": direct_restore_s,
            "direct_restore_keys": direct_keys,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def markdown(results):
    """Render results as the Markdown of bench/results/redis.md."""
    lines = [
        "# Redis backup and restore: guest vs redis-cli + gzip", "",
        "Produced by `bench/redis_backup.py` (one run, same machine: "
        "%d CPUs, redis-server %s). Guest backup = `create_backup` "
        "(BGSAVE, then RDB -> gzip level 6 -> SHA-256 -> file storage). "
        "Direct backup = `redis-cli --rdb - | gzip -6`. Guest restore = "
        "`prepare` with `backup_info` on a new server (verify checksum, "
        "decompress, start, load). Direct restore = `gzip -dc > dump.rdb`"
        " then `redis-server` until PING. Peak RSS is the guest process's "
        "own (ru_maxrss), measured in a separate process per operation. "
        "The source server runs with repl-diskless-sync-delay 0 so the "
        "direct baseline is not charged Redis's 5 s replica batching "
        "delay."
        % (os.cpu_count(), _redis_version()), "",
        "| dataset (used_memory) | keys | RDB | guest backup | direct "
        "backup | guest .gz | direct .gz | guest restore | direct restore"
        " | guest peak RSS backup / restore |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            "| %.0f MB | %d | %.0f MB | %.1f s | %.1f s | %.0f MB | %.0f MB"
            " | %.1f s | %.1f s | %.0f MB / %.0f MB |" % (
                r["used_memory_mb"], r["keys"], r["rdb_mb"],
                r["guest_backup_s"], r["direct_backup_s"],
                r["guest_backup_gz_mb"], r["direct_backup_gz_mb"],
                r["guest_restore_s"], r["direct_restore_s"],
                r["guest_backup_peak_rss_mb"],
                r["guest_restore_peak_rss_mb"]))
    lines += ["", "Raw figures:", "", "```json",
              json.dumps(results, indent=1, sort_keys=True), "```", ""]
    return "\n".join(lines)


def _redis_version():
    out = subprocess.run(["redis-server", "--version"], check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    return out.split("v=")[1].split()[0] if "v=" in out else out.strip()


def main(argv=None):
    """Entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return _child(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024",
                        help="dataset sizes in MB of used_memory")
    parser.add_argument("--out", help="write Markdown results here")
    args = parser.parse_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = run_size(size)
        print(json.dumps(result), flush=True)
        results.append(result)
    text = markdown(results)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
