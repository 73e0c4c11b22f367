"""``trove-datastores``: what is installed, and what it has earned.

Commands::

    trove-datastores list                  installed plugins, tiers, health
    trove-datastores show NAME             everything about one plugin
    trove-datastores matrix                datastore x capability
    trove-datastores check NAME|--all      tier requirements vs evidence
    trove-datastores config-sample --side server|guest [NAME ...]

``list``, ``show`` and ``matrix`` read descriptors only: they import no
manager and no datastore driver; ``list`` and ``matrix`` read a plugin's
shipped descriptor data without importing the plugin at all, ``show``
also imports its descriptor and refuses data that disagrees with it.
``check`` imports the manager it checks (and the descriptor, as
``show``).

Exit codes (:data:`EXIT_CODES`): 0 success; 1 a checked plugin's
declared tier is not supported by the evidence; 2 usage error (bad
arguments, option values or configuration file, or an output format this
host cannot produce); 3 a named plugin is not installed or cannot be
used.
"""

import argparse
import gc
import logging
import sys

from trove_core import exceptions
from trove_core.tools.cli import output

__all__ = ["EXIT_CHECK_FAILED", "EXIT_CODES", "EXIT_OK", "EXIT_PLUGIN",
           "EXIT_USAGE", "build_parser", "main"]

LOG = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_PLUGIN = 3

#: exit code -> meaning, as documented in ``--help`` and the operator guide
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_CHECK_FAILED: "a declared tier (of a datastore or a strategy) is "
                       "not supported by the evidence",
    EXIT_USAGE: "usage error: arguments, option values, configuration "
                "file, or an output format unavailable here",
    EXIT_PLUGIN: "a named plugin is not installed or cannot be used",
}

PROG = "trove-datastores"


class _Usage(Exception):
    """A usage problem found after argument parsing."""


def _split_tiers(value):
    return [t for t in (p.strip() for p in value.split(",")) if t]


def _policy(args):
    from trove_core import tiers

    if args.allowed_tiers is not None:
        return tiers.TierPolicy(_split_tiers(args.allowed_tiers),
                                option="--allowed-tiers")
    if not args.config_file:
        return tiers.TierPolicy()
    import copy

    from oslo_config import cfg

    from trove_core import options

    conf = cfg.ConfigOpts()
    conf.register_opts(copy.deepcopy(options.CORE_OPTS))
    try:
        conf(args=[], project="trove", default_config_files=list(
            args.config_file), use_env=False)
        allowed = conf.allowed_tiers
    except cfg.Error as exc:
        reason = "cannot read [DEFAULT] allowed_tiers from %s: %s" % (
            ", ".join(args.config_file), exc)
        raise exceptions.BadRequest(reason, reason=reason) from None
    return tiers.TierPolicy(allowed)


def _records(names=None, verify=False):
    from trove_core import discovery

    return discovery.discover(names=names, verify=verify)


def _find(name, records):
    from trove_core import discovery

    return discovery.find(name, records)


def _emit(result, args, stream):
    stream.write(output.render(result, args.format))


def _cmd_list(args, stream):
    from trove_core.tools.cli import views

    result = views.list_plugins(_records(), _policy(args), args.evidence)
    _emit(result, args, stream)
    return EXIT_OK


def _cmd_show(args, stream):
    from trove_core.tools.cli import views

    # the named plugin only, its shipped data held against its code
    records = _records({args.name}, verify=True)
    matches = [r for r in records if r.name == args.name]
    if not matches:
        _find(args.name, None)  # raises PluginNotFound
    policy = _policy(args)
    results = [views.show(rec, policy, args.evidence) for rec in matches]
    if len(results) == 1:
        _emit(results[0], args, stream)
    else:  # a duplicated name: one document listing every registration
        _emit(output.Result([r.data for r in results], results[0].columns,
                            [row for r in results for row in r.flat_rows()]),
              args, stream)
    return EXIT_OK if all(r.ok for r in matches) else EXIT_PLUGIN


def _cmd_matrix(args, stream):
    from trove_core.tools.cli import views

    _emit(views.matrix(_records()), args, stream)
    return EXIT_OK


def _cmd_check(args, stream):
    from trove_core.tools.cli import views

    if args.all and args.names:
        raise _Usage("give datastore names or --all, not both")
    # shipped descriptor data is held against the code it describes
    records = _records(None if args.all else set(args.names), verify=True)
    if args.all:
        selected = records
    elif args.names:
        selected = []
        for name in args.names:
            matches = [r for r in records if r.name == name]
            if not matches:
                _find(name, None)  # raises PluginNotFound
            selected.extend(matches)
    else:
        raise _Usage("name the datastores to check, or pass --all")
    result, evaluations = views.check(selected, args.evidence)
    _emit(result, args, stream)
    if args.format == "table":
        for ev in evaluations:
            if ev.advice:
                stream.write("%s\n" % ev.advice)
    if not all(r.ok for r in selected):
        return EXIT_PLUGIN
    if not all(ev.supported and all(st.supported for st in ev.strategies)
               for ev in evaluations):
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _registered_namespaces():
    import importlib.metadata

    return {ep.name for ep in importlib.metadata.entry_points(
        group="oslo.config.opts")}


def _cmd_config_sample(args, stream):
    from oslo_config import cfg
    from oslo_config import generator

    from trove_core import options

    records = _records()
    registered = _registered_namespaces()
    if args.names:
        names = [_find(name, records).name for name in args.names]
    else:
        names = []
        for rec in records:
            if not rec.ok:
                continue
            if options.namespace(rec.name, args.side) in registered:
                names.append(rec.name)
            else:
                sys.stderr.write("%s: note: datastore %r registers no %s "
                                 "options; left out\n"
                                 % (PROG, rec.name, args.side))
    namespaces = ["trove.core"]
    for name in names:
        namespace = options.namespace(name, args.side)
        if namespace not in registered:
            raise exceptions.PluginError(
                name=name, reason="it registers no %s options (entry point "
                "%r in group oslo.config.opts)" % (args.side, namespace))
        namespaces.append(namespace)
    if args.side == "guest" and "trove.guestagent" in registered:
        namespaces.insert(1, "trove.guestagent")
    argv = ["--wrap-width", "79"]
    for namespace in namespaces:
        argv += ["--namespace", namespace]
    if args.output_file:
        argv += ["--output-file", args.output_file]
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(argv, project="trove", default_config_files=[], use_env=False)
    if args.output_file:
        generator.generate(conf)
    else:
        generator.generate(conf, stream)
    return EXIT_OK


def _add_format(parser):
    parser.add_argument(
        "-f", "--format", choices=output.FORMATS, default="table",
        help="output format (default: table; yaml needs PyYAML)")


def _add_evidence(parser):
    parser.add_argument(
        "--evidence", metavar="DIR", default=None,
        help="directory of conformance reports <datastore>.json (default: "
             "$TROVE_EVIDENCE_DIR, else ~/.local/state/trove-core/evidence)")


def _add_policy(parser):
    parser.add_argument(
        "--allowed-tiers", metavar="TIERS", default=None,
        help="comma-separated tiers allowed to run, overriding the "
             "configuration (e.g. stable,technical-preview)")
    parser.add_argument(
        "--config-file", metavar="PATH", action="append", default=[],
        help="read [DEFAULT] allowed_tiers from this file (repeatable; "
             "later files win)")


def build_parser():
    """Return the :class:`argparse.ArgumentParser` of the command."""
    epilog = "exit codes:\n" + "\n".join(
        "  %d  %s" % item for item in sorted(EXIT_CODES.items()))
    parser = argparse.ArgumentParser(
        prog=PROG, description="List installed datastore plugins, their "
        "maturity tiers, health and capabilities; check tiers against "
        "conformance evidence; write sample configuration.",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log plugin problems and debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="installed plugins with tier and health",
                       description="List every plugin of the "
                       "trove.datastores group, usable or not. Imports no "
                       "manager and no driver.")
    _add_format(p)
    _add_policy(p)
    _add_evidence(p)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("show", help="everything about one plugin")
    p.add_argument("name", help="datastore name")
    _add_format(p)
    _add_policy(p)
    _add_evidence(p)
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("matrix", help="datastore x capability")
    _add_format(p)
    p.set_defaults(func=_cmd_matrix)

    p = sub.add_parser(
        "check", help="check declared tiers against evidence",
        description="Evaluate every requirement of each plugin's declared "
        "tier. Imports the manager of each plugin checked.",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="datastores to check")
    p.add_argument("--all", action="store_true",
                   help="check every installed plugin")
    _add_format(p)
    _add_evidence(p)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser(
        "config-sample", help="sample configuration via oslo-config-generator")
    p.add_argument("--side", choices=("server", "guest"), required=True,
                   help="control-plane (server) or guest options")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="datastores to include (default: every usable one)")
    p.add_argument("-o", "--output-file", metavar="PATH",
                   help="write the sample here instead of stdout")
    p.set_defaults(func=_cmd_config_sample)
    return parser


def main(argv=None, stream=None):
    """Run ``trove-datastores``.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :param stream: where results are written (default: ``sys.stdout``).
    :returns: the exit code, one of :data:`EXIT_CODES`.
    """
    stream = sys.stdout if stream is None else stream
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and bad usage
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s")
    # a command builds many small acyclic objects and exits: with 500
    # plugins the cyclic collector ran ~35 more times, for nothing
    collecting = gc.isenabled()
    gc.disable()
    try:
        return args.func(args, stream)
    except _Usage as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write("%s: error: %s\n" % (PROG, exc))
        return EXIT_USAGE
    except (exceptions.InvalidTier, exceptions.BadRequest) as exc:
        sys.stderr.write("%s: error: %s\n" % (PROG, exc))
        return EXIT_USAGE
    except exceptions.PluginError as exc:
        sys.stderr.write("%s: error: %s\n" % (PROG, exc))
        return EXIT_PLUGIN
    finally:
        if collecting:
            gc.enable()
