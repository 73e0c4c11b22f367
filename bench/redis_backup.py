"""Benchmark: the redis-rdb backup strategy against redis-cli + gzip.

For each dataset size, in one run on the same machine:

* fill a Redis server started by the plugin's own prepare until
  ``used_memory`` reaches the target (values from a pool of random hex
  strings, so they compress about as much as typical text);
* back it up ``--reps`` times through the guest (``create_backup``:
  the RDB of an RDB-only SYNC streamed through the two-thread gzip,
  SHA-256, file storage and the read-back check; ``--bgsave``: BGSAVE,
  then the file) in a separate process whose peak RSS and time
  breakdown are recorded, and as often directly with
  ``redis-cli --rdb - | gzip -6 > file``, interleaved (guest first in odd
  repetitions, direct first in even ones); medians and spread reported;
* restore it once through the guest (``prepare`` with ``backup_info`` on
  a new server: verify, decompress, start, load), also in a separate
  process, and directly with ``gzip -dc > dump.rdb`` then
  ``redis-server`` until it answers ``PING`` (``--no-restore`` skips
  this).

Usage::

    .venv/bin/python bench/redis_backup.py --sizes 10,100,500 --reps 3 \\
        --out bench/results/redis.md

Not a test: it takes minutes and needs about 4x the largest size in RAM.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
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
    if spec["op"] in ("baseline", "backup"):
        # what a running guest has done already: load the strategy and
        # the storage driver (plugin discovery), and talk to its server
        # (its status checks import the driver and connect)
        mgr.backup_strategy()
        mgr.backup_storage()
        mgr.client().ping()
    started = time.monotonic()
    if spec["op"] == "baseline":
        extra = {}
    elif spec["op"] == "backup":
        snapshot = mgr.backup_strategy().snapshot
        waited = []

        def timed(*args, **kwargs):
            mark = time.monotonic()
            try:
                return snapshot(*args, **kwargs)
            finally:
                waited.append(time.monotonic() - mark)
        mgr.backup_strategy().snapshot = timed
        if spec.get("bgsave"):
            mgr.backup_strategy().stream = False
        result = mgr.create_backup({"id": spec["backup_id"]})
        extra = {"size": result.size, "raw_size": result.raw_size,
                 "pipeline_s": result.seconds,
                 "bgsave_s": sum(waited), "timings": result.timings}
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


def _spread(values):
    return {"median": round(statistics.median(values), 3),
            "min": round(min(values), 3), "max": round(max(values), 3),
            "runs": [round(v, 3) for v in values]}


def run_size(megabytes, reps=3, restore=True, bgsave=False):
    """Measure one dataset size; return a result dict."""
    root = tempfile.mkdtemp(prefix="redis-bench-")
    # run as root, the server runs as the redis user, which must enter
    os.chmod(root, 0o711)  # noqa: S103 - enter, not list
    memory_mb = max(64, megabytes * 3)
    try:
        mgr, opts = _manager(root, "source")
        mgr.prepare(memory_mb=memory_mb, packages=[], databases=[],
                    users=[])
        t0 = time.monotonic()
        keys, used = _fill(mgr.client(timeout=60), megabytes)
        fill_s = time.monotonic() - t0
        # redis-cli --rdb is served as a diskless replica sync, which Redis
        # delays 5 s by default to batch replicas; do not charge that to
        # the baseline.
        mgr.client().config_set("repl-diskless-sync-delay", "0")
        baseline = _in_child({"root": root, "name": "source", "opts": {
            "port": opts["port"]}, "op": "baseline"})
        direct_archive = os.path.join(root, "direct.rdb.gz")
        guest, direct = [], []
        for rep in range(reps):
            order = ("guest", "direct") if rep % 2 == 0 else ("direct",
                                                               "guest")
            for kind in order:
                if kind == "direct":
                    direct.append(_direct_backup(mgr, direct_archive))
                    continue
                backup_id = "bench-%d" % rep
                guest.append(_in_child({
                    "root": root, "name": "source",
                    "opts": {"port": opts["port"]}, "op": "backup",
                    "backup_id": backup_id, "bgsave": bgsave}))
                if rep < reps - 1:
                    storage = mgr.backup_storage()
                    storage.delete(backup_id + ".rdb.gz")
        last = guest[-1]
        guest_s = [g["seconds"] for g in guest]
        result = {
            "target_mb": megabytes, "keys": keys, "reps": reps,
            "used_memory_mb": used / 1048576.0, "fill_s": fill_s,
            "rdb_mb": last["raw_size"] / 1048576.0,
            "guest_backup_s": _spread(guest_s),
            "guest_backup_gz_mb": last["size"] / 1048576.0,
            "guest_backup_peak_rss_mb": max(g["peak_rss_mb"]
                                            for g in guest),
            "baseline_rss_mb": baseline["peak_rss_mb"],
            "guest_bgsave_s": round(statistics.median(
                g["bgsave_s"] for g in guest), 3),
            "guest_timings_s": {
                k: round(statistics.median(g["timings"][k] for g in guest),
                         3) for k in last["timings"]},
            "guest_outside_pipeline_s": round(statistics.median(
                g["seconds"] - g["pipeline_s"] for g in guest), 3),
            "direct_backup_s": _spread(direct),
            "backup_ratio": round(statistics.median(guest_s)
                                  / statistics.median(direct), 3),
            "backup_ratio_per_rep": [round(g / d, 3) for g, d in zip(
                guest_s, direct, strict=True)],
            "direct_backup_gz_mb": os.path.getsize(direct_archive)
            / 1048576.0,
        }
        mgr.do_stop()
        if restore:
            guest_restore = _in_child({
                "root": root, "name": "target", "opts": {},
                "op": "restore", "backup_id": "bench-%d" % (reps - 1),
                "location": "bench-%d.rdb.gz" % (reps - 1),
                "memory_mb": memory_mb})
            direct_restore_s, direct_keys = _direct_restore(
                root, direct_archive)
            result.update({
                "guest_restore_s": guest_restore["seconds"],
                "guest_restore_keys": guest_restore["keys"],
                "guest_restore_peak_rss_mb": guest_restore["peak_rss_mb"],
                "direct_restore_s": direct_restore_s,
                "direct_restore_keys": direct_keys})
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def markdown(results):
    """Render results as the Markdown of bench/results/redis.md."""
    lines = [
        "# Redis backup and restore: guest vs redis-cli + gzip", "",
        "Produced by `bench/redis_backup.py` (%s, same machine: "
        "%d CPUs, redis-server %s). Guest backup = `create_backup` "
        "(the RDB of an RDB-only SYNC, streamed -> gzip level 6 on two "
        "threads -> SHA-256 -> file storage -> read-back check). "
        "Direct backup = `redis-cli --rdb - | gzip -6`. Guest restore = "
        "`prepare` with `backup_info` on a new server (verify checksum, "
        "decompress, start, load). Direct restore = `gzip -dc > dump.rdb`"
        " then `redis-server` until PING. Peak RSS is the guest process's "
        "own (ru_maxrss), measured in a separate process per operation; "
        "the baseline is the same process importing and loading the "
        "manager only. Each guest process first loads the backup "
        "strategy and the storage driver and pings its server, as a "
        "running guest has done (plugin discovery, importing the "
        "driver and connecting are start-up costs, not a backup's). "
        "The source server runs with repl-diskless-sync-delay 0 so the "
        "direct baseline is not charged Redis's 5 s replica batching "
        "delay. Backup times are medians of interleaved repetitions "
        "(min-max in brackets); restores ran once."
        % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           os.cpu_count(), _redis_version()), "",
        "| dataset (used_memory) | RDB | guest backup | direct backup | "
        "ratio | guest time: BGSAVE (fallback only) / RDB stream wait / "
        "deflate wait / write / commit / verify / other | guest .gz "
        "(direct) | peak RSS backup "
        "(baseline) | restore guest / direct |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        g, d, t = (r["guest_backup_s"], r["direct_backup_s"],
                   r["guest_timings_s"])
        restore = ("%.1f s / %.1f s" % (r["guest_restore_s"],
                                        r["direct_restore_s"])
                   if "guest_restore_s" in r else "-")
        lines.append(
            "| %.0f MB | %.0f MB | %.2f s [%.2f-%.2f] | %.2f s [%.2f-%.2f]"
            " | %.3f | %.2f / %.2f / %.2f / %.2f / %.2f / %.2f / %.2f s | "
            "%.0f MB (%.0f) | %.0f MB (%.0f) | %s |" % (
                r["used_memory_mb"], r["rdb_mb"], g["median"], g["min"],
                g["max"], d["median"], d["min"], d["max"],
                r["backup_ratio"], r["guest_bgsave_s"], t["source"],
                t["compress"], t["write"], t["commit"], t["verify"],
                t["other"] + r["guest_outside_pipeline_s"]
                - r["guest_bgsave_s"],
                r["guest_backup_gz_mb"], r["direct_backup_gz_mb"],
                r["guest_backup_peak_rss_mb"], r["baseline_rss_mb"],
                restore))
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
    parser.add_argument("--sizes", default="10,100,500",
                        help="dataset sizes in MB of used_memory")
    parser.add_argument("--reps", type=int, default=3,
                        help="backups of each kind per size")
    parser.add_argument("--no-restore", action="store_true",
                        help="measure backups only")
    parser.add_argument("--bgsave", action="store_true",
                        help="back up through BGSAVE and the file (the "
                        "fallback) instead of the streamed SYNC")
    parser.add_argument("--out", help="write Markdown results here")
    args = parser.parse_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = run_size(size, args.reps, not args.no_restore,
                          args.bgsave)
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
