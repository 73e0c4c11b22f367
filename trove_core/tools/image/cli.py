"""Command line of ``trove-guest-image``.

::

    trove-guest-image build --datastore NAME [--os ID] --output DIR
    trove-guest-image verify DIR
    trove-guest-image register DIR --config-file trove.conf \
        --version-name NAME (--image-id ID | --image-tags T | --upload IMG)
    trove-guest-image activate --config-file trove.conf \
        --datastore NAME --version-name NAME
    trove-guest-image deactivate --config-file trove.conf \
        --datastore NAME --version-name NAME
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
        description="Build and verify the guest bundle of one datastore, "
        "and register it with a Trove control plane.")
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
    build.add_argument("--debootstrap-cache", type=pathlib.Path,
                       metavar="DIR", help="keep --rootfs's base system "
                       "packages here as a tarball and reuse them")
    build.add_argument("--evidence", metavar="DIR",
                       help="where --rootfs writes the image record "
                       "<datastore>.image.json for trove-datastores "
                       "check (default: $TROVE_EVIDENCE_DIR, else "
                       "~/.local/state/trove-core/evidence)")
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
    _control_plane_parsers(sub)
    return top


def _trove_args(cmd):
    cmd.add_argument("--config-file", required=True, type=pathlib.Path,
                     help="the Trove control plane's trove.conf (its "
                     "[database] connection is used)")
    cmd.add_argument("--trove-manage", metavar="PATH",
                     help="Trove's trove-manage (default: on PATH)")
    cmd.add_argument("--trove-python", metavar="PATH",
                     help="the Python Trove is installed in (default: "
                     "trove-manage's interpreter)")
    cmd.add_argument("--dry-run", action="store_true",
                     help="print the trove-manage commands, run nothing")


def _tags(value):
    return [t for t in value.split(",") if t]


def _control_plane_parsers(sub):
    reg = sub.add_parser(
        "register", help="register a bundle with Trove as a datastore "
        "version (trove-manage datastore_update, "
        "datastore_version_update)")
    reg.add_argument("bundle", type=pathlib.Path)
    _trove_args(reg)
    reg.add_argument("--version-name", required=True,
                     help="the version's name users choose, e.g. 7.0")
    reg.add_argument("--version", dest="number", metavar="NUMBER",
                     help="the version number (default: the name)")
    reg.add_argument("--manager", help="Trove's manager of the version "
                     "(default: the bundle's datastore)")
    image = reg.add_mutually_exclusive_group(required=True)
    image.add_argument("--image-id", help="the image store's id of the "
                       "guest's disk image")
    image.add_argument("--image-tags", type=_tags, metavar="TAG[,TAG]",
                       help="Trove picks the image carrying these tags")
    image.add_argument("--upload", type=pathlib.Path, metavar="DISK_IMAGE",
                       help="upload this disk image (needs the "
                       "image-upload extra, openstacksdk) and use its id")
    reg.add_argument("--cloud", help="clouds.yaml entry for --upload")
    reg.add_argument("--packages", type=_tags, metavar="PKG[,PKG]",
                     help="packages recorded for the version (default: "
                     "the bundle's OS packages)")
    reg.add_argument("--registry-ext", help="stored as the version's "
                     "registry_ext (default: trove-core:MANAGER; Trove 26 "
                     "needs one for non-MySQL managers)")
    reg.add_argument("--inactive", action="store_true",
                     help="register it inactive (activate it later)")
    reg.add_argument("--default", action="store_true",
                     help="also make it the datastore's default version")
    reg.add_argument("--no-verify", action="store_true",
                     help="check the bundle's hashes only, not its offline "
                     "install and self-check")
    for name, text in (("activate", "make a registered version active "
                        "and the datastore's default"),
                       ("deactivate", "make a registered version inactive "
                        "(and no longer the default)")):
        cmd = sub.add_parser(name, help=text)
        _trove_args(cmd)
        cmd.add_argument("--datastore", required=True)
        cmd.add_argument("--version-name", required=True)
        cmd.add_argument("--version", dest="number", metavar="NUMBER",
                         help="the version number, when several versions "
                         "share the name")


def _control_plane(args):
    from trove_core.tools.image import register

    if args.command == "register":
        if args.upload and args.dry_run:
            raise register.RegistrationError(
                datastore=str(args.bundle), reason="--upload cannot be "
                "combined with --dry-run (the id is known after the "
                "upload); upload first and pass --image-id")
        manifest = register.check_bundle(
            args.bundle, full=not (args.no_verify or args.dry_run),
            progress=None if args.no_verify or args.dry_run else
            _quiet_progress())
        datastore = manifest["datastore"]
    else:
        datastore = args.datastore
    trove = register.Trove(args.config_file, args.trove_manage,
                           args.trove_python, datastore=datastore,
                           dry_run=args.dry_run)
    if args.command == "register":
        image_id = args.image_id
        if args.upload:
            image_id = register.upload_image(
                args.upload, "trove-guest-%s-%s" % (datastore,
                                                    args.version_name),
                ["trove", datastore], cloud=args.cloud, datastore=datastore)
            print("uploaded %s as image %s" % (args.upload, image_id))
        state = register.register(
            trove, manifest, args.version_name, image_id=image_id,
            image_tags=args.image_tags or (), version=args.number,
            manager=args.manager, packages=args.packages,
            active=not args.inactive, make_default=args.default,
            registry_ext=args.registry_ext, dry_run=args.dry_run,
            rules=register.parameter_rules(args.bundle, manifest))
    else:
        state = getattr(register, args.command)(
            trove, datastore, args.version_name, args.number,
            dry_run=args.dry_run)
    if state is not None:
        _print_state(state)


def _quiet_progress():
    from trove_core.tools.image import build

    return build.Progress(4, stream=sys.stderr)


def _print_state(state):
    ds = state["datastore"]
    default = state.get("default") or {}
    print("Trove serves datastore %s (%s), default version: %s" % (
        ds["name"], ds["id"], "%s (%s)" % (default["name"],
                                           default["version"])
        if default else "none"))
    for v in sorted(state["versions"], key=lambda v: (v["name"],
                                                      v["version"])):
        print("  %-12s %-10s %-8s manager %s, image %s, packages %s, "
              "%d configuration parameters" % (
                  v["name"], v["version"], "active" if v["active"] else
                  "inactive", v["manager"], v["image_id"] or "tags %s"
                  % v["image_tags"], v["packages"] or "-",
                  len(v.get("parameters", ()))))


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
            from trove_core.tools.image import build

            steps = 6 + (4 if args.verify else 0)
            if args.rootfs:
                steps += 2 + (0 if args.no_smoke else 3)
            progress = build.Progress(steps)
            build.build(args.datastore, args.output, os_id=args.os_id,
                        sources=dict(args.source), prebuilt=args.wheel,
                        force=args.force, progress=progress,
                        core_extras=("secure",) if args.secure else ())
            if args.verify:
                from trove_core.tools.image import verify

                report = verify.verify(args.output, progress=progress)
                _print_report(report, False)
            if args.rootfs:
                from trove_core.tools.image import rootfs

                from trove_core.tools import evidence

                rootfs.build_rootfs(args.output, args.rootfs,
                                    mirror=args.mirror, progress=progress,
                                    cache_dir=args.debootstrap_cache,
                                    evidence=evidence.evidence_dir(
                                        args.evidence))
                if not args.no_smoke:
                    health = rootfs.smoke_test(
                        args.rootfs, args.datastore, args.transport_url,
                        progress=progress)
                    print("OK: in %s the guest prepared %s, status %s"
                          % (args.rootfs, args.datastore,
                             health["status"]))
        elif args.command in ("register", "activate", "deactivate"):
            _control_plane(args)
        else:
            from trove_core.tools.image import build
            from trove_core.tools.image import verify

            progress = build.Progress(
                4, stream=sys.stderr if args.json else None)
            report = verify.verify(args.bundle, venv_dir=args.venv,
                                   progress=progress)
            _print_report(report, args.json)
    except exceptions.TroveError as exc:
        print("trove-guest-image: error: %s" % exc, file=sys.stderr)
        return 1
    return 0
