#!/usr/bin/env python3
"""Rewrite module paths that issue 20 moved (trove_core split into
contract, runtime and tools).

Usage::

    python scripts/rewrite_imports.py [--check] PATH...

Each PATH is a file or a directory (walked; ``.git``, ``.venv``,
``.tox``, ``build`` and ``__pycache__`` are skipped, and so are this
script and its test). Text files with the
suffixes below are rewritten in place: imports (``import x``,
``from x import a, b``, nested or lazy ones alike), dotted names in
strings (``python -m trove_core.cli``, entry points
``trove_core.image:main``, ``mock.patch("trove_core.testing.x.y")``,
lazy facade tables, ``:mod:`` roles) and repository paths
(``trove_core/testing/elements``). Running it twice changes nothing the
second time. ``--check`` only lists the files it would change and exits
1 if there are any.
"""

import argparse
import os
import pathlib
import re
import sys

#: old dotted name -> new dotted name; the longest match wins.
MODULES = {
    "trove_core.cli": "trove_core.tools.cli",
    "trove_core.image": "trove_core.tools.image",
    "trove_core.evidence": "trove_core.tools.evidence",
    "trove_core.scaffold": "trove_core.tools.scaffold",
    "trove_core.security.cli": "trove_core.tools.credentials.cli",
    "trove_core.security.broker": "trove_core.tools.credentials.broker",
    "trove_core.security.GuestBrokerPolicy":
        "trove_core.tools.credentials.GuestBrokerPolicy",
    "trove_core.security.Rabbitmqctl":
        "trove_core.tools.credentials.Rabbitmqctl",
    "trove_core.testing": "trove_guest_base.testing",
    "trove_core.testing.plugin": "trove_ds_fake.plugin",
}

#: old repository path -> new one; the longest match wins.
PATHS = {
    "trove_core/cli": "trove_core/tools/cli",
    "trove_core/image": "trove_core/tools/image",
    "trove_core/evidence.py": "trove_core/tools/evidence.py",
    "trove_core/scaffold.py": "trove_core/tools/scaffold.py",
    "trove_core/security/cli.py": "trove_core/tools/credentials/cli.py",
    "trove_core/security/broker.py":
        "trove_core/tools/credentials/broker.py",
    "trove_core/testing": "trove_guest_base/testing",
    "trove_core/testing/plugin.py":
        "tests/plugins/trove-ds-fake/trove_ds_fake/plugin.py",
    "trove_core/testing/elements":
        "tests/plugins/trove-ds-fake/trove_ds_fake/elements",
}

SUFFIXES = {".py", ".rst", ".md", ".txt", ".cfg", ".toml", ".ini", ".sh",
            ".yaml", ".yml", ".json", ".in", ".j2", ""}
SKIP_DIRS = {".git", ".venv", ".tox", "build", "dist", "__pycache__",
             ".eggs", "node_modules"}
#: this script and its test hold the old paths on purpose
SKIP_FILES = {"rewrite_imports.py", "test_rewrite_imports.py"}

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# a dotted name that is not the tail of a longer one
_DOTTED = re.compile(r"(?<![\w.])(%s(?:\.%s)*)" % (_NAME, _NAME))
_PATH = re.compile(r"(?<![\w.-])(trove_core(?:/[\w.-]+)+)")
_FROM = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+(?P<module>%s(?:\.%s)*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n#]*?)(?P<tail>[ \t]*(?:#[^\n]*)?)$"
    % (_NAME, _NAME), re.MULTILINE)


def rename(dotted, table=MODULES, sep="."):
    """The new name of ``dotted`` (itself when nothing moved)."""
    parts = dotted.split(sep)
    for n in range(len(parts), 0, -1):
        head = sep.join(parts[:n])
        if head in table:
            return sep.join([table[head]] + parts[n:])
    return dotted


def _dotted(match):
    return rename(match.group(1))


def _path(match):
    return rename(match.group(1), PATHS, "/")


def _from(match):
    """``from A import x, y``: each name goes where ``A.x`` went now."""
    module, names = match.group("module"), match.group("names")
    if not module.startswith("trove_core"):
        return match.group(0)
    paren = names.startswith("(")
    items = [n.strip() for n in names.strip("()").replace("\n", " ")
             .split(",") if n.strip()]
    groups = {}
    for item in items:
        name, _, alias = item.partition(" as ")
        name, alias = name.strip(), alias.strip()
        new = rename("%s.%s" % (module, name))
        parent, _, new_name = new.rpartition(".")
        if new_name != name and not alias:
            alias = name
        groups.setdefault(parent, []).append(
            new_name + (" as %s" % alias if alias and alias != new_name
                        else ""))
    if list(groups) == [module]:
        return match.group(0)
    indent, tail = match.group("indent"), match.group("tail")
    lines = []
    for parent, group in groups.items():
        joined = ", ".join(group)
        if paren and len(groups) == 1:
            joined = "(%s)" % joined
        lines.append("%sfrom %s import %s" % (indent, parent, joined))
    lines[-1] += tail
    return "\n".join(lines)


def rewrite_text(text):
    """Return ``text`` with every moved module path rewritten."""
    text = _FROM.sub(_from, text)
    text = _DOTTED.sub(_dotted, text)
    return _PATH.sub(_path, text)


def _files(paths):
    for path in paths:
        path = pathlib.Path(path)
        if path.is_file():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS
                             and not d.endswith(".egg-info"))
            for name in sorted(files):
                yield pathlib.Path(root, name)


def main(argv=None):
    """Rewrite the given files and trees; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="list what would change, change nothing")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    args = parser.parse_args(argv)
    changed = []
    for path in _files(args.paths):
        if path.suffix not in SUFFIXES or path.name in SKIP_FILES:
            continue
        try:
            old = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        new = rewrite_text(old)
        if new != old:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for path in changed:
        print(("would rewrite %s" if args.check else "rewrote %s") % path)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
