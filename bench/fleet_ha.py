"""Benchmark: guests riding out the loss of one node of a RabbitMQ cluster.

Not a test (``tests/integration/test_fleet_broker.py`` runs the same drill
with assertions). Starts three private RabbitMQ nodes clustered with
``rabbitmqctl join_cluster``, ``--guests`` guests naming all three in
their ``transport_url`` with quorum queues, casts ``create_database`` to
every guest from a control plane, and ``kill -9`` one node a third of the
way through (:func:`trove_guest_base.testing.fleet.failover_drill`). Records
casts sent and lost and how long the guests of the killed node took to
heartbeat again.

Usage::

    .venv/bin/python bench/fleet_ha.py [--guests 6] [--output FILE]
"""

import argparse
import json
import os
import pathlib
import tempfile
import time

from trove_guest_base.testing import fleet

RESULTS = pathlib.Path(__file__).parent / "results"


def main(argv=None):
    """Run the drill and write its JSON and table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=6)
    parser.add_argument("--output", default=str(RESULTS / "fleet_ha.json"))
    args = parser.parse_args(argv)
    load = os.getloadavg()
    figures = fleet.failover_drill(tempfile.mkdtemp(prefix="fleet-ha-"),
                                   guests=args.guests)
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    pathlib.Path(args.output).write_text(
        json.dumps(figures, indent=2, sort_keys=True) + "\n",
        encoding="utf-8")
    resume = sorted(v for v in figures["heartbeat_resume_s"].values()
                    if v is not None)
    lines = [
        "# Fleet on a 3-node RabbitMQ cluster: one node killed",
        "",
        "Measured by `bench/fleet_ha.py` (three private RabbitMQ 3.10.8 "
        "nodes on this shared 2-core machine, clustered with "
        "`rabbitmqctl join_cluster`; guests with all three nodes in "
        "`transport_url`, `rabbit_quorum_queue = true`, "
        "`report_interval = 1`). `kill -9` of one node a third of the way "
        "through %d rounds of `create_database` casts to every guest."
        % figures["rounds"],
        "",
        "| figure | value |", "|---|---|",
        "| guests | %d |" % figures["guests"],
        "| guests connected to the killed node | %d |"
        % figures["guests_on_killed_node"],
        "| topic queue type | %s |" % ", ".join(
            figures["topic_queue_types"]),
        "| casts sent / lost | %d / %d |" % (figures["casts_sent"],
                                            figures["casts_lost"]),
        "| cast errors seen by the control plane | %d |"
        % len(figures["cast_errors"]),
        "| heartbeats resumed after the kill (s, each guest of the "
        "killed node) | %s |" % ", ".join("%.1f" % v for v in resume),
        "| heartbeat resume max (s) | %s |"
        % figures["heartbeat_resume_max_s"],
        "| 'Reconnected to AMQP server' logged | %d |"
        % figures["reconnected_logged"],
        "| cluster start (3 nodes, s) | %s |" % figures["cluster_start_s"],
        "| guests exiting 0 on SIGTERM | %d |" % figures["clean_exits"],
        "| load average (1 min) before / after | %s / %s |" % (
            figures["machine"]["loadavg_before"][0],
            figures["machine"]["loadavg_after"][0]),
        "",
    ]
    (RESULTS / "fleet_ha.md").write_text("\n".join(lines) + "\n",
                                         encoding="utf-8")
    print(json.dumps(figures, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
