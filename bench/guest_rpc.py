"""Benchmark: per-call overhead of the guest against a bare server.

Not a test. On the same RabbitMQ, in one run:

* *bare*: a plain oslo.messaging RPC server (threading executor, one
  endpoint with ``rpc_ping``) in its own process, on its own topic;
* *guest*: ``trove-guestagent`` (MySQL datastore, unprepared: the call
  does not touch the datastore) on ``guestagent.<id>``.

Both are called with the same plain oslo.messaging client, round-robin
one call at a time so both see the same load; the guest is also called through
:class:`trove_core.client.GuestClient` (version pinning, error mapping) and
with ``list_databases`` rejected by argument checks (``limit="x"``: a
typed error round trip). Medians of per-call latency are printed.

Usage::

    .venv/bin/python bench/guest_rpc.py [--calls 2000]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import guest_common  # noqa: E402

BARE_SERVER = textwrap.dedent('''
    import sys, time, warnings
    warnings.simplefilter("ignore")
    import oslo_messaging
    from oslo_config import cfg

    class Endpoint:
        target = oslo_messaging.Target(version="1.3")

        def rpc_ping(self, ctxt):
            return True

    oslo_messaging.set_transport_defaults("trove")  # the guests' exchange
    cfg.CONF([], project="bench")
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=sys.argv[1])
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=sys.argv[2], server="bare"),
        [Endpoint()])
    server.start()
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()
    server.wait()
''')


def time_calls(func, count):
    """Per-call seconds of ``count`` sequential calls."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return samples


def main():
    """Run the benchmark and print the table."""
    import warnings

    warnings.simplefilter("ignore")
    import oslo_messaging
    from oslo_config import cfg

    from trove_core import client as client_mod
    from trove_core import exceptions
    from trove_core import rpc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--blocks", type=int, default=10)
    args = parser.parse_args()
    per_block = max(1, args.calls // args.blocks)

    bare_topic = "bench-bare-%s" % uuid.uuid4().hex
    bare = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER, guest_common.URL, bare_topic],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    assert bare.stdout.readline().strip() == "ready"
    tmp = tempfile.mkdtemp(prefix="bench-rpc-")
    guest_id, argv = guest_common.write_guest_config(tmp)
    guest, _startup = guest_common.start_until_consuming(argv)

    opts = cfg.ConfigOpts()
    opts([], project="bench-client")
    transport = rpc.get_transport(opts, url=guest_common.URL)
    raw_bare = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(topic=bare_topic),
        timeout=30).prepare(version="1.0")
    raw_guest = oslo_messaging.get_rpc_client(
        transport, rpc.guest_target(guest_id), timeout=30).prepare(
            version="1.0")
    client = client_mod.GuestClient(guest_id, transport=transport)

    def rejected():
        try:
            client.call("list_databases", limit="x")
        except exceptions.BadRequest:
            return
        raise AssertionError("list_databases(limit='x') was accepted")

    series = {
        "bare oslo.messaging server": lambda: raw_bare.call({}, "rpc_ping"),
        "guest, plain oslo client": lambda: raw_guest.call({}, "rpc_ping"),
        "guest, GuestClient": client.rpc_ping,
        "guest, typed error (BadRequest)": rejected,
    }
    samples = {name: [] for name in series}
    try:
        for func in series.values():  # warm up connections and queues
            time_calls(func, 20)
        # Round-robin, one call of each series at a time: every series
        # sees the same broker and machine load.
        for _ in range(per_block * args.blocks):
            for name, func in series.items():
                samples[name].extend(time_calls(func, 1))
    finally:
        bare.stdin.close()
        bare.wait(timeout=60)
        guest_common.stop(guest)
        transport.cleanup()

    base = guest_common.median_ms(samples["bare oslo.messaging server"])
    result = {"calls_per_series": per_block * args.blocks, "series": {}}
    print("median per call, %d calls each" % (per_block * args.blocks))
    for name, values in samples.items():
        ms = guest_common.median_ms(values)
        result["series"][name] = {"median_ms": ms, "ratio": ms / base}
        print("%-34s %7.3f ms  %.3fx" % (name, ms, ms / base))
    out = pathlib.Path(__file__).parent / "results" / "guest_rpc.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("wrote %s" % out)


if __name__ == "__main__":
    main()
