#!/usr/bin/env python3
"""Which test suites a change needs, and which of them vote.

The gate tests every supported datastore without running what a change
cannot break (the v2 mail, seed 004): a change inside one plugin runs
that plugin's suites and the core's contract tests (the conformance kit,
its reports and the tier evidence, the fake datastore's conformance); a
change to the core, the guest runtime, the test plugins, the packaging
or this script runs everything. The datastores whose suites run are the
*voting* ones: the conformance reports they write record it (see
``trove_guest_base.conformance.report.provenance``) and only those can
give ``stable`` evidence.

Used by ``scripts/test.sh`` when ``TROVE_TEST_CHANGED_FROM`` names a git
revision::

    python3 scripts/gate.py --since origin/main --format sh

Standard library only: it runs before the virtualenv exists.
"""

import argparse
import pathlib
import shlex
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: the core's contract tests: what every plugin is held to
CONTRACT = (
    "tests/conformance",
    "tests/unit/test_conformance_kit.py",
    "tests/unit/test_conformance_report.py",
    "tests/unit/test_descriptor.py",
    "tests/unit/test_discovery.py",
    "tests/unit/test_evidence.py",
    "tests/unit/test_layering.py",
    "tests/integration/test_cli_evidence.py",
)
#: the datastore the contract tests exercise
CONTRACT_DATASTORES = ("fake",)
#: the test that builds datastores' images and writes their image records
#: (tier evidence ``image``), one parameter per datastore it builds
IMAGE_TEST = "tests/integration/test_image_rootfs.py"
IMAGE_DATASTORES = ("fake", "mysql", "redis")
#: changes that need no datastore suite (documentation, benchmarks)
QUIET_PREFIXES = ("docs/", "bench/", "demo/")
QUIET_FILES = ("README.md",)
#: tests that keep the documentation honest
DOC_TESTS = ("tests/unit/test_cli_docs.py",
             "tests/integration/test_author_docs.py")


def plugins(root=ROOT):
    """``{datastore: plugin directory}`` of the plugins in this tree."""
    found = {}
    for path in sorted((root / "plugins").glob("trove-ds-*")):
        if path.is_dir():
            found[path.name[len("trove-ds-"):]] = "plugins/%s" % path.name
    return found


def select(paths, root=ROOT):
    """Decide what a change with these changed ``paths`` runs.

    :param paths: changed files, relative to the repository root.
    :returns: ``(suites, voting, reason)``: the test paths to run
        (``[]`` means every suite), the datastores whose suites run, and
        one line saying why.
    """
    known = plugins(root)
    everything = sorted(known) + list(CONTRACT_DATASTORES)
    if not paths:
        return [], everything, "no changed paths known: every suite"
    touched, docs, core = set(), False, []
    for path in paths:
        path = path.strip()
        if not path:
            continue
        owner = next((name for name, where in known.items()
                      if path.startswith(where + "/")), None)
        if owner is not None:
            touched.add(owner)
        elif path.startswith(QUIET_PREFIXES) or path in QUIET_FILES:
            docs = True
        else:
            core.append(path)
    if core:
        return [], everything, ("core or runtime change (%s): every suite"
                                % ", ".join(sorted(core)[:3]
                                            + (["..."] if len(core) > 3
                                               else [])))
    suites = [known[name] + "/tests" for name in sorted(touched)]
    suites += list(CONTRACT)
    # the image builds of the datastores that vote keep their ``image``
    # evidence current (a plugin's hooks may have changed)
    suites += ["%s::test_rootfs_builds_and_records_its_hooks[%s]" % (
        IMAGE_TEST, name) for name in sorted(touched) + list(
            CONTRACT_DATASTORES) if name in IMAGE_DATASTORES and
        (root / IMAGE_TEST).exists()]
    if docs:
        suites += [t for t in DOC_TESTS if (root / t).exists()]
    voting = sorted(touched) + list(CONTRACT_DATASTORES)
    what = ("plugin change (%s)" % ", ".join(sorted(touched))
            if touched else "documentation change")
    return suites, voting, "%s: its suites and the core contract tests" % (
        what,)


def changed_since(revision, root=ROOT):
    """Files changed since ``revision`` (committed or not).

    :raises SystemExit: git cannot compare with ``revision``.
    """
    def git(*args):
        proc = subprocess.run(["git", "-C", str(root), *args],
                              capture_output=True, text=True, timeout=60,
                              check=False)
        if proc.returncode != 0:
            raise SystemExit("gate.py: git %s failed: %s; set "
                             "TROVE_TEST_CHANGED_FROM to a revision this "
                             "checkout has" % (" ".join(args),
                                               proc.stderr.strip()))
        return proc.stdout.splitlines()

    base = git("merge-base", revision, "HEAD")[0]
    names = set(git("diff", "--name-only", base, "--"))
    names |= set(git("ls-files", "--others", "--exclude-standard"))
    return sorted(n for n in names if n)


def main(argv=None):
    """Print the selection (``--format sh`` for ``eval`` in test.sh)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--since", metavar="REV",
                        help="select from the files changed since REV")
    source.add_argument("--paths", nargs="*", metavar="PATH",
                        help="select from these changed files")
    parser.add_argument("--format", choices=("text", "sh"), default="text")
    args = parser.parse_args(argv)
    paths = (changed_since(args.since) if args.since is not None
             else args.paths)
    suites, voting, reason = select(paths)
    if args.format == "sh":
        print("TROVE_SELECTED_SUITES=%s" % shlex.quote(" ".join(suites)))
        print("TROVE_VOTING_SUITES=%s" % shlex.quote(" ".join(voting)))
        print("TROVE_SELECTION_REASON=%s" % shlex.quote(reason))
    else:
        print(reason)
        print("suites: %s" % (" ".join(suites) or "all"))
        print("voting: %s" % " ".join(voting))
    return 0


if __name__ == "__main__":
    sys.exit(main())
