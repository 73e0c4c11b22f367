"""Benchmark: the mysqldump backup strategy against mysqldump | gzip.

For each dataset size, in one run on the same machine:

* fill database ``bench`` of a MariaDB server started by the plugin's own
  prepare until the dump reaches the target size (rows of hex text and
  random bytes, so gzip has real work);
* back it up ``--reps`` times through the guest (``create_backup``:
  mariadb-dump streamed through the two-thread gzip, SHA-256, file
  storage and the read-back check) in a separate process whose peak RSS
  and time breakdown (``BackupResult.timings``) are recorded, and as
  often directly with ``mariadb-dump ... | gzip -6 > file`` (same dump
  options, no shell), interleaved (guest first in odd repetitions,
  direct first in even ones); medians and the spread are reported;
* restore it once through the guest (the strategy's restore: verify the
  checksum, decompress, feed the client) into a second server, also in a
  separate process, and directly with ``gzip -dc file | mariadb``
  (``--no-restore`` skips this).

Usage::

    .venv/bin/python bench/mysql_backup.py --sizes 10,100,500 --reps 3 \\
        --out bench/results/mysql.md

Not a test: it takes many minutes and several GB of disk.
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

ROW_BYTES = 330  # a dumped row: id, 192 hex chars, 64 bytes as hex
BATCH = 100000


def _manager(root, name, opts=None):
    from trove_guest_base import testing
    from trove_ds_mysql import testing as mysql_testing

    where = os.path.join(root, name)
    overrides = mysql_testing.spawner_options(where)
    overrides.update({"backup_storage_root": os.path.join(root, "backups"),
                      "mount_point": os.path.join(where, "data"),
                      "start_timeout": 600})
    overrides.update(opts or {})
    return testing.make_manager("mysql", where, **overrides), overrides


def _query(manager, statement):
    with manager.server.admin() as cur:
        cur.execute(statement)
        return cur.fetchall()


def _fill(manager, megabytes):
    _query(manager, "DROP DATABASE IF EXISTS bench")
    _query(manager, "CREATE DATABASE bench")
    _query(manager, "CREATE TABLE bench.t (id INT PRIMARY KEY, "
                    "txt VARCHAR(200), bin VARBINARY(64))")
    rows = megabytes * 1024 * 1024 // ROW_BYTES
    for first in range(1, rows + 1, BATCH):
        last = min(rows, first + BATCH - 1)
        # the sequence engine names its tables seq_<first>_to_<last>
        table = "bench.seq_%d_to_%d" % (first, last)
        _query(manager, "INSERT INTO bench.t SELECT seq, "  # noqa: S608
                        "REPEAT(MD5(seq), 6), RANDOM_BYTES(64) FROM " + table)
    return rows


def _child(args):
    """Run one guest operation in this process; print time and RSS."""
    from trove_ds_mysql import backup

    with open(args.child_conf, encoding="utf-8") as handle:
        spec = json.load(handle)
    manager, _ = _manager(spec["root"], spec["name"], spec["options"])
    if args.child in ("baseline", "backup"):
        # what a running guest has done already: load the strategy and
        # the storage driver (plugin discovery), and talk to its server
        # (its status checks import the driver and connect)
        manager.backup_strategy("mysqldump")
        manager.backup_storage()
        _query(manager, "SELECT 1")
    started = time.monotonic()
    if args.child == "baseline":
        extra = {}
    elif args.child == "backup":
        result = manager.create_backup({"id": spec["backup_id"],
                                        "type": "mysqldump"})
        extra = {"size": result.size, "raw_size": result.raw_size,
                 "pipeline_s": result.seconds,
                 "verify_s": result.verify_seconds,
                 "timings": result.timings}
    else:
        backup.MySQLDump(manager).restore(manager.backup_storage(),
                                          spec["location"])
        extra = {}
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(dict(extra, seconds=seconds, peak_rss_kb=peak)))


def _in_child(root, kind, name, options, **spec):
    path = os.path.join(root, "%s-%s.json" % (kind, name))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dict(spec, root=root, name=name, options=options), handle)
    started = time.monotonic()
    out = subprocess.run([sys.executable, __file__, "--child", kind,
                          "--child-conf", path], check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["wall"] = time.monotonic() - started
    return result


def _direct_backup(manager, path):
    from trove_ds_mysql import backup

    argv = backup.MySQLDump(manager)._argv(["bench"])
    started = time.monotonic()
    with open(path, "wb") as out:
        dump = subprocess.Popen(argv, stdout=subprocess.PIPE)
        gzip = subprocess.Popen(["gzip", "-6"], stdin=dump.stdout,
                                stdout=out)
        dump.stdout.close()
        if gzip.wait() or dump.wait():
            raise RuntimeError("direct backup failed")
    return time.monotonic() - started


def _direct_restore(manager, path):
    client = [manager.options.client_binary,
              "--defaults-file=%s" % manager.tool_config()]
    started = time.monotonic()
    unzip = subprocess.Popen(["gzip", "-dc", path], stdout=subprocess.PIPE)
    feed = subprocess.Popen(client, stdin=unzip.stdout)
    unzip.stdout.close()
    if feed.wait() or unzip.wait():
        raise RuntimeError("direct restore failed")
    seconds = time.monotonic() - started
    manager.reset_admin()  # the dump replaced the admin's password hash
    return seconds


def _count(manager):
    return _query(manager, "SELECT COUNT(*) FROM bench.t")[0][0]


def _spread(values):
    return {"median": round(statistics.median(values), 3),
            "min": round(min(values), 3), "max": round(max(values), 3),
            "runs": [round(v, 3) for v in values]}


def _backups(root, source, source_opts, size, reps):
    """``reps`` guest and direct backups, interleaved."""
    guest, direct = [], []
    direct_path = os.path.join(root, "direct-%d.sql.gz" % size)
    for rep in range(reps):
        order = ("guest", "direct") if rep % 2 == 0 else ("direct",
                                                           "guest")
        for kind in order:
            if kind == "guest":
                backup_id = "bench-%d-%d" % (size, rep)
                guest.append(_in_child(root, "backup", "source",
                                       source_opts, backup_id=backup_id))
                if rep < reps - 1:
                    source.backup_storage().delete(backup_id + ".sql.gz")
            else:
                if os.path.exists(direct_path):
                    os.unlink(direct_path)
                direct.append(_direct_backup(source, direct_path))
    return guest, direct, direct_path


def run(sizes, root, reps=3, restore=True):
    """Run every size; return the result rows."""
    source, source_opts = _manager(root, "source")
    target, target_opts = _manager(root, "target")
    for manager in (source, target):
        manager.prepare(memory_mb=2048, packages=[], databases=[],
                        users=[])
    rows = []
    try:
        baseline = _in_child(root, "baseline", "source",
                             source_opts)["peak_rss_kb"]
        for size in sizes:
            count = _fill(source, size)
            guest, direct, direct_path = _backups(root, source,
                                                  source_opts, size, reps)
            last = guest[-1]
            guest_s = [g["seconds"] for g in guest]
            ratios = [g / d for g, d in zip(guest_s, direct, strict=True)]
            row = {
                "size_mb": size, "rows": count, "reps": reps,
                "dump_mb": round(last["raw_size"] / 1048576.0, 1),
                "stored_mb": round(last["size"] / 1048576.0, 1),
                "direct_mb": round(os.path.getsize(direct_path)
                                   / 1048576.0, 1),
                "guest_backup_s": _spread(guest_s),
                "direct_backup_s": _spread(direct),
                "backup_ratio": round(statistics.median(guest_s)
                                      / statistics.median(direct), 3),
                "backup_ratio_per_rep": [round(r, 3) for r in ratios],
                "guest_timings_s": {
                    k: round(statistics.median(
                        g["timings"][k] for g in guest), 3)
                    for k in last["timings"]},
                "guest_outside_pipeline_s": round(statistics.median(
                    g["seconds"] - g["pipeline_s"] for g in guest), 3),
                "backup_peak_rss_mb": round(max(
                    g["peak_rss_kb"] for g in guest) / 1024.0, 1),
                "baseline_rss_mb": round(baseline / 1024.0, 1),
            }
            if restore:
                _query(target, "DROP DATABASE IF EXISTS bench")
                guest_r = _in_child(
                    root, "restore", "target", target_opts,
                    location="bench-%d-%d.sql.gz" % (size, reps - 1))
                assert _count(target) == count, "guest restore lost rows"
                _query(target, "DROP DATABASE IF EXISTS bench")
                direct_r = _direct_restore(target, direct_path)
                assert _count(target) == count, "direct restore lost rows"
                row.update({
                    "guest_restore_s": round(guest_r["seconds"], 2),
                    "direct_restore_s": round(direct_r, 2),
                    "restore_ratio": round(guest_r["seconds"] / direct_r,
                                           3),
                    "restore_peak_rss_mb": round(
                        guest_r["peak_rss_kb"] / 1024.0, 1)})
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
            os.unlink(direct_path)
            source.backup_storage().delete("bench-%d-%d.sql.gz"
                                           % (size, reps - 1))
    finally:
        for manager in (source, target):
            manager.server.stop()
    return rows


def _markdown(rows):
    lines = [
        "# MySQL logical backup benchmark",
        "",
        "Generated by `bench/mysql_backup.py` (%s, %d CPUs). Guest = the "
        "`mysqldump` strategy through the trove-core pipeline (two deflate "
        "threads, read-back check), in its own process; direct = "
        "`mariadb-dump ... | gzip -6 > file` and `gzip -dc file | "
        "mariadb`, same dump options, same servers, same run. Backup "
        "times are medians of interleaved repetitions (min-max in "
        "brackets); restores ran once. Each guest process first loads "
        "the backup strategy and the storage driver and queries its "
        "server, as a running guest has done (plugin discovery, "
        "importing the driver and connecting are start-up costs, not a "
        "backup's)." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            os.cpu_count()),
        "",
        "| dataset | dump raw | stored (direct) | backup guest | backup "
        "direct | ratio | guest time: dump wait / deflate wait / write / "
        "commit / verify / other | peak RSS (baseline) | restore guest / "
        "direct |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        g, d, t = r["guest_backup_s"], r["direct_backup_s"], \
            r["guest_timings_s"]
        restore = ("%.1f s / %.1f s (%.3f)" % (
            r["guest_restore_s"], r["direct_restore_s"],
            r["restore_ratio"]) if "guest_restore_s" in r else "-")
        lines.append(
            "| %d MB | %.1f MB | %.1f MB (%.1f) | %.2f s [%.2f-%.2f] | "
            "%.2f s [%.2f-%.2f] | %.3f | %.2f / %.2f / %.2f / %.2f / %.2f "
            "/ %.2f s | %.1f MB (%.1f) | %s |"
            % (r["size_mb"], r["dump_mb"], r["stored_mb"], r["direct_mb"],
               g["median"], g["min"], g["max"], d["median"], d["min"],
               d["max"], r["backup_ratio"], t["source"], t["compress"],
               t["write"], t["commit"], t["verify"],
               t["other"] + r["guest_outside_pipeline_s"],
               r["backup_peak_rss_mb"], r["baseline_rss_mb"], restore))
    lines += ["", "Raw rows:", "", "```json",
              json.dumps(rows, indent=1), "```", ""]
    return "\n".join(lines)


def main():
    """Parse arguments and run the benchmark (or one child step)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500",
                        help="dataset sizes in MB, comma separated")
    parser.add_argument("--reps", type=int, default=3,
                        help="backups of each kind per size")
    parser.add_argument("--no-restore", action="store_true",
                        help="measure backups only")
    parser.add_argument("--out", default=None, help="markdown result file")
    parser.add_argument("--workdir", default=None,
                        help="where the scratch directory is created")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch directory (servers' data)")
    parser.add_argument("--child", choices=["baseline", "backup", "restore"])
    parser.add_argument("--child-conf")
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    root = tempfile.mkdtemp(prefix="mysql-bench-", dir=args.workdir)
    try:
        rows = run([int(s) for s in args.sizes.split(",")], root,
                   reps=args.reps, restore=not args.no_restore)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    text = _markdown(rows)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
