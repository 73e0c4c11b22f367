"""The guest's self-check: is this a working single-datastore guest?

``python -m trove_guest_base.selfcheck [--datastore NAME]`` discovers the
installed datastore plugins, checks that exactly one is present (and that
it is ``NAME`` when given), loads and verifies its manager with
:func:`trove_core.discovery.load_manager_class`, imports its driver
modules, and prints a JSON report. The exit code is 0 when every check
passes, 1 otherwise. Image builds run it as their last step.
"""

import argparse
import importlib
import importlib.metadata
import json
import logging
import sys

from trove_core import discovery
from trove_core import exceptions

__all__ = ["check", "main"]

LOG = logging.getLogger(__name__)


def _driver(module):
    mod = importlib.import_module(module)
    version = getattr(mod, "__version__", None)
    if not isinstance(version, str):
        version = ".".join(str(p) for p in version) if isinstance(
            version, tuple) else None
    return version or "unknown"


def check(datastore=None, records=None):
    """Check this environment as a guest of one datastore.

    :param datastore: the datastore this guest must serve; ``None``
        accepts whichever single plugin is installed.
    :param records: discovery records (tests); default: discover.
    :returns: a JSON-serialisable report; ``report["ok"]`` says whether
        every check passed, ``report["problems"]`` says what to fix.
    """
    # shipped descriptor data is held against the code, as the guest does
    records = (discovery.discover(verify=True) if records is None
               else records)
    report = {"ok": False, "datastore": datastore, "problems": [],
              "plugins": [{"name": r.name, "distribution": r.distribution,
                           "version": r.version, "health": r.health.value,
                           "reason": r.reason} for r in records],
              "capabilities": [], "drivers": {}}
    problems = report["problems"]
    names = sorted({r.name for r in records})
    if len(names) != 1:
        problems.append(
            "a guest carries exactly one datastore plugin; found %d (%s); "
            "uninstall the others or rebuild the image with "
            "trove-guest-image" % (len(names), ", ".join(names) or "none"))
    if datastore is None and len(names) == 1:
        datastore = report["datastore"] = names[0]
    if datastore is not None and datastore not in names:
        problems.append("the datastore plugin %r is not installed; install"
                        " it with %s" % (datastore, discovery.install_command(
                            "trove-ds-%s" % datastore)))
    elif datastore is not None:
        try:
            record, manager_cls = discovery.load_manager_class(datastore,
                                                               records)
        except exceptions.PluginError as exc:
            problems.append(str(exc))
        else:
            report["distribution"] = record.distribution
            report["version"] = record.version
            report["tier"] = record.descriptor.tier.label
            report["manager"] = "%s.%s" % (manager_cls.__module__,
                                           manager_cls.__qualname__)
            from trove_core import capabilities as caps

            report["capabilities"] = sorted(
                caps.capabilities_of(manager_cls))
            for module in record.descriptor.driver_modules:
                try:
                    report["drivers"][module] = _driver(module)
                except ImportError as exc:
                    problems.append(
                        "driver module %r does not import (%s); run %s"
                        % (module, exc, discovery.install_command(
                            record.distribution)))
    report["ok"] = not problems
    return report


def main(argv=None):
    """Run the self-check, print the JSON report, return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m trove_guest_base.selfcheck",
        description="Check that this guest carries exactly one working "
        "datastore plugin.")
    parser.add_argument("--datastore", metavar="NAME",
                        help="the datastore this guest must serve")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = check(args.datastore)
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
