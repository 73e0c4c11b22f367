"""Run every benchmark in turn; each writes its results to bench/results/.

Benchmarks are not tests: they compare trove-core against a baseline
measured in the same run and report ratios. Some take long (the MySQL and
Redis backup benchmarks generate 500 MB and 1 GB datasets), so pass names
to run a subset::

    .venv/bin/python bench/run_all.py list_plugins guest_startup
"""

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ALL = ["list_plugins", "guest_startup", "guest_rpc", "footprint",
       "mysql_backup", "redis_backup", "galera_cluster",
       "cluster_redis"]


def main(argv=None):
    """Run the named benchmarks (all by default); return the number that
    failed."""
    names = (argv if argv is not None else sys.argv[1:]) or ALL
    unknown = sorted(set(names) - set(ALL) - {"guest_trove26"})
    if unknown:
        print("unknown benchmarks %s; choose from %s" % (unknown, ALL))
        return 2
    failed = 0
    for name in names:
        print("== %s" % name, flush=True)
        result = subprocess.run([sys.executable, str(HERE / (name + ".py"))],
                                check=False)
        failed += result.returncode != 0
    return failed


if __name__ == "__main__":
    sys.exit(main())
