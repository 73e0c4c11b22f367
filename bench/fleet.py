"""Benchmark: a fleet of real guests on one RabbitMQ node.

Not a test. Starts a private RabbitMQ node (its own name, ports and
directories; never the shared broker), gives each of ``--guests`` guests
its own broker user (``Rabbitmqctl.create_many``, timed), starts that many
``trove-guestagent`` processes of the fake datastore and measures:

* the time until every guest consumes its topic;
* ping-all: one ``rpc_ping`` to every guest at once, from as many
  threads, three rounds; p50 and max of every call;
* heartbeat traffic at the default ``report_interval`` (30 s): heartbeats
  the conductor took per second, and AMQP bytes per second per guest
  (the broker's counters of the guests' connections, AMQP heartbeats
  included) over ``--window`` seconds;
* per-guest RSS (median, max), against Trove 26's guest import set
  (``bench/guest_trove26.py``'s ``TROVE_GUEST``) measured in the same run;
* the broker's RSS (before the guests and with them), and connections,
  channels, queues and consumers per guest; reply queues left after the
  calls;
* removing every guest user (timed).

Usage::

    .venv/bin/python bench/fleet.py --guests 50 [--output FILE]

Writes the JSON (``bench/results/fleet.json`` by default) and rebuilds
``bench/results/fleet.md`` from every ``bench/results/fleet*.json``.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import guest_trove26  # noqa: E402

from trove_guest_base.testing import fleet as fleet_mod  # noqa: E402
from trove_guest_base.testing import rabbitmq  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"
# the Trove 26 virtualenv scripts/test.sh builds beside the checkout
TROVE26_PYTHON = os.environ.get("TROVE26_PYTHON", str(
    pathlib.Path(__file__).resolve().parent.parent / ".venv-trove26" / "bin"
    / "python"))
RSS_CODE = ("\nimport resource; print(resource.getrusage("
            "resource.RUSAGE_SELF).ru_maxrss)")


def import_set_rss_mb(python, code):
    """Peak RSS (MB) of a fresh ``python`` running ``code``."""
    out = subprocess.run([python, "-W", "ignore", "-c", code + RSS_CODE],
                         capture_output=True, text=True, check=True,
                         timeout=300)
    return int(out.stdout.split()[-1]) * 1024 / 1e6


def percentile(values, fraction):
    """The ``fraction`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1,
                       round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def ping_all(transport, ids):
    """One ``rpc_ping`` to every guest at once; returns the latencies
    (s) and the wall time of the round."""
    from trove_core import client as client_mod

    clients = [client_mod.GuestClient(g, transport=transport) for g in ids]

    def one(client):
        started = time.perf_counter()
        assert client.rpc_ping() is True
        return time.perf_counter() - started

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
        latencies = list(pool.map(one, clients))
    return latencies, time.perf_counter() - started


def broker_counts(node, users):
    """Connections, channels, queues and consumers of the fleet."""
    connections = [r for r in node.rows("list_connections", "user",
                                        "recv_oct", "send_oct", "name")
                   if r[0] in users]
    channels = [r for r in node.rows("list_channels", "user")
                if r[0] in users]
    queues = node.rows("list_queues", "name", "consumers", "messages")
    guest_queues = [q for q in queues if q[0].startswith("guestagent.")]
    return {
        "connections": len(connections),
        "channels": len(channels),
        "guest_queues": len(guest_queues),
        "consumers": sum(int(q[1]) for q in guest_queues),
        "reply_queues": sum(1 for q in queues
                            if q[0].startswith("reply_")),
        "octets": sum(int(r[1]) + int(r[2]) for r in connections),
    }


def run(args):
    """Run the fleet and return the results dict."""
    from oslo_config import cfg

    from trove_core import rpc

    scratch = tempfile.mkdtemp(prefix="fleet-bench-")
    load_before = os.getloadavg()
    node = rabbitmq.RabbitNode(os.path.join(scratch, "rabbit"),
                               prefix="fleet").start()
    result = {"guests": args.guests, "datastore": "fake",
              "report_interval_s": 30, "window_s": args.window,
              "broker_rss_mb_empty": round(node.rss_mb(), 1)}
    fleet = None
    conductor = None
    transport = None
    try:
        ctl = node.rabbitmqctl(timeout=300)
        ctl.set_queue_expiry(expires=args.queue_expiry)
        fleet = fleet_mod.Fleet(
            ctl, lambda user, password: node.host_url(user, password),
            os.path.join(scratch, "guests"), args.guests)
        fleet.provision()
        result["users_create_s"] = round(fleet.provision_seconds, 2)
        opts = cfg.ConfigOpts()
        opts([], project="fleet-bench")
        transport = rpc.get_transport(opts, url=node.url)
        conductor = fleet_mod.Conductor(transport, fleet.conductor_topic)
        result["all_consuming_s"] = round(fleet.start(), 2)
        print("%d guests consuming after %.1f s"
              % (args.guests, result["all_consuming_s"]))
        rounds = [ping_all(transport, fleet.ids) for _ in range(3)]
        latencies = [x for lat, _wall in rounds for x in lat]
        result["ping_all_p50_s"] = round(statistics.median(latencies), 3)
        result["ping_all_p95_s"] = round(percentile(latencies, 0.95), 3)
        result["ping_all_max_s"] = round(max(latencies), 3)
        result["ping_all_rounds_wall_s"] = [round(w, 3) for _l, w in rounds]
        result["ping_all_rounds_max_s"] = [round(max(lat), 3)
                                           for lat, _w in rounds]
        users = {p.username for p in fleet.policies}
        before = broker_counts(node, users)
        window_start = time.monotonic()
        time.sleep(args.window)
        after = broker_counts(node, users)
        beats = conductor.since(window_start)
        result["heartbeats_per_s"] = round(len(beats) / args.window, 2)
        result["heartbeats_per_guest_per_min"] = round(
            len(beats) / args.window * 60 / args.guests, 2)
        result["amqp_bytes_per_s_per_guest"] = round(
            (after["octets"] - before["octets"]) / args.window
            / args.guests, 1)
        rss = [g.rss_mb() for g in fleet.guests]
        result["guest_rss_mb_median"] = round(statistics.median(rss), 1)
        result["guest_rss_mb_max"] = round(max(rss), 1)
        result["broker_rss_mb"] = round(node.rss_mb(), 1)
        result["broker_rss_mb_per_guest"] = round(
            (node.rss_mb() - result["broker_rss_mb_empty"]) / args.guests,
            2)
        for key in ("connections", "channels", "guest_queues", "consumers"):
            result["%s_per_guest" % key.replace("guest_", "")] = round(
                after[key] / args.guests, 2)
        result["reply_queues_after_calls"] = after["reply_queues"]
        result["trove26_import_set_rss_mb"] = round(import_set_rss_mb(
            TROVE26_PYTHON, guest_trove26.TROVE_GUEST), 1)
        result["guest_rss_vs_trove26"] = round(
            result["guest_rss_mb_median"]
            / result["trove26_import_set_rss_mb"], 2)
        statuses = fleet.stop()
        result["clean_exits"] = sum(1 for s in statuses if s == 0)
        fleet.remove_users()
        result["users_remove_s"] = round(fleet.removal_seconds, 2)
        result["bench_rss_mb"] = round(resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1000, 1)
    finally:
        fleet_mod.release(conductor, transport, fleet)
        node.stop()
    result["machine"] = {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rabbitmq": "3.10.8 private node",
    }
    return result


COLUMNS = [
    ("guests", "guests"), ("all_consuming_s", "all consume (s)"),
    ("ping_all_p50_s", "ping-all p50 (s)"),
    ("ping_all_max_s", "ping-all max (s)"),
    ("guest_rss_mb_median", "guest RSS median (MB)"),
    ("guest_rss_mb_max", "guest RSS max (MB)"),
    ("trove26_import_set_rss_mb", "Trove 26 import set RSS (MB)"),
    ("broker_rss_mb", "broker RSS (MB)"),
    ("broker_rss_mb_empty", "broker RSS before guests (MB)"),
    ("connections_per_guest", "conns/guest"),
    ("channels_per_guest", "channels/guest"),
    ("queues_per_guest", "queues/guest"),
    ("heartbeats_per_s", "heartbeats/s"),
    ("amqp_bytes_per_s_per_guest", "AMQP B/s/guest"),
    ("users_create_s", "create users (s)"),
    ("users_remove_s", "remove users (s)"),
]


def render():
    """Rebuild ``fleet.md`` from every ``fleet*.json``."""
    runs = []
    for path in sorted(RESULTS.glob("fleet*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "guests" in data and "ping_all_p50_s" in data:
            runs.append((data, path.name))
    runs.sort(key=lambda item: item[0]["guests"])
    lines = [
        "# Fleet: guests on one RabbitMQ node",
        "",
        "Measured by `bench/fleet.py` on a private RabbitMQ 3.10.8 node "
        "(its own ports and directories) on this 2-core machine shared "
        "with other engineers' test runs; the fake datastore; every guest "
        "with its own broker user; `report_interval` at its default (30 "
        "s). Ping-all: one `rpc_ping` to every guest at once, three "
        "rounds, all calls pooled. Load is the 1-minute load average "
        "before and after the run.",
        "",
        "| " + " | ".join(title for _k, title in COLUMNS)
        + " | load before/after | file |",
        "|" + "---|" * (len(COLUMNS) + 2),
    ]
    for data, name in runs:
        machine = data.get("machine", {})
        cells = [str(data.get(key, "")) for key, _t in COLUMNS]
        cells.append("%s / %s" % (machine.get("loadavg_before", ["?"])[0],
                                  machine.get("loadavg_after", ["?"])[0]))
        cells.append(name)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if runs:
        top = runs[-1][0]
        ratio = top["guest_rss_mb_median"] / top["trove26_import_set_rss_mb"]
        lines += [
            "## Findings",
            "",
            "- %d guests: ping-all max %.2f s (goal: under 2 s, %s), p50 "
            "%.2f s." % (top["guests"], top["ping_all_max_s"],
                         "met" if top["ping_all_max_s"] < 2 else "NOT met",
                         top["ping_all_p50_s"]),
            "- A running guest's RSS is %.1f MB, %.2fx Trove 26's guest "
            "import set (%.1f MB, measured in the same run; goal: at most "
            "0.5x, %s)." % (top["guest_rss_mb_median"], ratio,
                            top["trove26_import_set_rss_mb"],
                            "met" if ratio <= 0.5 else "NOT met"),
            "- Per guest on the broker: %s connections, %s channels, %s "
            "queues; no reply queue is left by the calls (%d reply queue "
            "in all: the bench client's)." % (
                top["connections_per_guest"], top["channels_per_guest"],
                top["queues_per_guest"], top["reply_queues_after_calls"]),
            "- The machine was loaded: the 1-minute load average went "
            "from %s to %s during the %d-guest run (starting %d Python "
            "processes on 2 cores, beside other engineers' test runs), "
            "so start-up and ping times are upper bounds; %d of %d guests "
            "exited 0 within the shared 60 s SIGTERM deadline." % (
                top["machine"]["loadavg_before"][0],
                top["machine"]["loadavg_after"][0], top["guests"],
                top["guests"], top.get("clean_exits", 0), top["guests"]),
            "",
        ]
    (RESULTS / "fleet.md").write_text("\n".join(lines) + "\n",
                                      encoding="utf-8")


def main(argv=None):
    """Run the benchmark, write its JSON and the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=50)
    parser.add_argument("--output", default=str(RESULTS / "fleet.json"))
    parser.add_argument("--window", type=int, default=65,
                        help="seconds of idle heartbeat traffic measured")
    parser.add_argument("--queue-expiry", type=int, default=3600,
                        help="the guest queue expiry policy (seconds)")
    args = parser.parse_args(argv)
    if args.guests < 1:
        parser.error("--guests must be at least 1")
    result = run(args)
    pathlib.Path(args.output).write_text(
        json.dumps(result, indent=2, sort_keys=True) + "\n",
        encoding="utf-8")
    render()
    print(json.dumps(result, indent=2, sort_keys=True))
    print("wrote %s and %s" % (args.output, RESULTS / "fleet.md"))


if __name__ == "__main__":
    main()
