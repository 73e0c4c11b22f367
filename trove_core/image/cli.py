"""Command line of ``trove-guest-image``.

::

    trove-guest-image build --datastore NAME [--os ID] --output DIR
    trove-guest-image verify DIR
"""

import argparse
import json
import logging
import pathlib
import sys

from trove_core import exceptions

__all__ = ["main", "parser"]


def _source(value):
    dist, sep, path = value.partition("=")
    if not sep or not dist or not path:
        raise argparse.ArgumentTypeError(
            "expected DISTRIBUTION=DIR, e.g. trove-core=/src/trove-core, "
            "got %r" % value)
    return dist, pathlib.Path(path)


def parser():
    """The argument parser (exposed for the docs)."""
    top = argparse.ArgumentParser(
        prog="trove-guest-image",
        description="Build and verify the guest bundle of one datastore.")
    sub = top.add_subparsers(dest="command", required=True)
    build = sub.add_parser(
        "build", help="build a bundle: wheelhouse, lock file, "
        "Containerfile, diskimage-builder element, unit, sample config")
    build.add_argument("--datastore", required=True,
                       help="the datastore plugin's name, e.g. mysql")
    build.add_argument("--os", dest="os_id", metavar="ID",
                       help="target OS, e.g. debian-12 (default: the "
                       "first supported OS whose python3 matches this one)")
    build.add_argument("--output", required=True, type=pathlib.Path,
                       help="the bundle directory to create")
    build.add_argument("--source", action="append", type=_source,
                       default=[], metavar="DIST=DIR",
                       help="build DIST (trove-core or the plugin) from "
                       "DIR instead of its recorded install location")
    build.add_argument("--wheel", action="append", default=[],
                       metavar="PATH", help="use this wheel of trove-core "
                       "or the plugin instead of building it")
    build.add_argument("--secure", action="store_true",
                       help="add trove-core's [secure] extra "
                       "(cryptography): needed to enable [secure_rpc] or "
                       "backup encryption on the guest")
    build.add_argument("--force", action="store_true",
                       help="replace an existing bundle in --output")
    build.add_argument("--verify", action="store_true",
                       help="verify the bundle after building it")
    build.add_argument("--rootfs", type=pathlib.Path, metavar="DIR",
                       help="also build a root filesystem with debootstrap "
                       "into DIR and smoke-test it (root only)")
    build.add_argument("--mirror", help="package mirror for --rootfs")
    build.add_argument("--no-smoke", action="store_true",
                       help="build --rootfs without the smoke test")
    build.add_argument("--transport-url",
                       default="rabbit://guest:guest@127.0.0.1:5672/",
                       help="RabbitMQ the smoke test's guest uses "
                       "(default: %(default)s)")
    verify = sub.add_parser(
        "verify", help="install a bundle offline into a clean virtualenv "
        "and check it")
    verify.add_argument("bundle", type=pathlib.Path)
    verify.add_argument("--venv", type=pathlib.Path,
                        help="create the virtualenv here and keep it")
    verify.add_argument("--json", action="store_true",
                        help="print the report as JSON")
    return top


def _print_report(report, as_json):
    if as_json:
        print(json.dumps(report, indent=2))
        return
    print("OK: guest bundle of %s for %s verified" % (
        report["datastore"], report["os"]))
    print("  plugins:        %s" % ", ".join(report["plugins"]))
    print("  self-check:     ok (%s)" % ", ".join(
        "%s %s" % (k, v) for k, v in sorted(
            report["selfcheck"].get("drivers", {}).items())))
    print("  footprint:      %.1f MB, %d distributions" % (
        report["footprint_mb"], report["distributions"]))
    print("  import time:    %.0f ms (%s + manager)" % (
        report["import_ms"], report["entry_point"]))


def main(argv=None):
    """Run ``trove-guest-image``; returns the exit code."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="trove-guest-image: %(levelname)s: "
                        "%(message)s")
    try:
        if args.command == "build":
            from trove_core.image import build

            steps = 6 + (4 if args.verify else 0)
            if args.rootfs:
                steps += 2 + (0 if args.no_smoke else 3)
            progress = build.Progress(steps)
            build.build(args.datastore, args.output, os_id=args.os_id,
                        sources=dict(args.source), prebuilt=args.wheel,
                        force=args.force, progress=progress,
                        core_extras=("secure",) if args.secure else ())
            if args.verify:
                from trove_core.image import verify

                report = verify.verify(args.output, progress=progress)
                _print_report(report, False)
            if args.rootfs:
                from trove_core.image import rootfs

                rootfs.build_rootfs(args.output, args.rootfs,
                                    mirror=args.mirror, progress=progress)
                if not args.no_smoke:
                    health = rootfs.smoke_test(
                        args.rootfs, args.datastore, args.transport_url,
                        progress=progress)
                    print("OK: in %s the guest prepared %s, status %s"
                          % (args.rootfs, args.datastore,
                             health["status"]))
        else:
            from trove_core.image import build
            from trove_core.image import verify

            progress = build.Progress(
                4, stream=sys.stderr if args.json else None)
            report = verify.verify(args.bundle, venv_dir=args.venv,
                                   progress=progress)
            _print_report(report, args.json)
    except exceptions.TroveError as exc:
        print("trove-guest-image: error: %s" % exc, file=sys.stderr)
        return 1
    return 0
