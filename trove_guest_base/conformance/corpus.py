"""Hostile identifiers every name-taking operation must survive.

Each name must be rejected with
:class:`~trove_core.exceptions.BadRequest` (usually its subclass
:class:`~trove_core.exceptions.InvalidIdentifier`) or stored exactly as
given and read back identically. Several of them try to drop the
sentinel database, log in as the sentinel user or create the canary file;
the kit checks that the sentinel survives and the canary never appears.
"""

import pytest

__all__ = ["CANARY", "HOSTILE_NAMES", "HOSTILE_PASSWORDS", "LEAK",
           "OPTION_NAMES", "SENTINEL_DATABASE", "SENTINEL_USER", "params"]

#: a database created before hostile names are tried; it must survive.
SENTINEL_DATABASE = "trove_sentinel"
#: a user created before hostile names are tried; it must survive.
SENTINEL_USER = "trove_sentinel_user"
#: a file some names try to create through a shell; it must not appear.
CANARY = "/tmp/trove_conformance_canary"  # noqa: S108 (must be fixed)

#: a file an option-shaped name tries to make a tool write; it must not
#: appear anywhere.
LEAK = "trove_conformance_leak"

_DROP = "DROP DATABASE %s" % SENTINEL_DATABASE

#: id -> name shaped like a command-line option: a tool that gets one
#: as an argument without ``--`` before it obeys it (``--result-file``
#: writes the dump elsewhere, ``--help`` prints help and exits 0).
OPTION_NAMES = {
    "option-help": "--help",
    "option-where": "--where=0",
    "option-result-file": "--result-file=%s" % LEAK,
    "option-short": "-e",
    "option-single-dash": "-",
    "option-double-dash": "--",
}

#: id -> name
HOSTILE_NAMES = {
    "sql-single-quote": "x'; %s; --" % _DROP,
    "sql-double-quote": 'x"; %s; --' % _DROP,
    "sql-backtick": "x`; %s; -- `" % _DROP,
    "sql-backslash-quote": "x\\'; %s; --" % _DROP,
    "sql-comment": "x/* */; %s" % _DROP,
    "sql-like-wildcards": "trove_sent%",
    "sql-underscore-wildcard": "trove_sentine_",
    "sql-reserved-word": "select",
    "cql-keyspace": "x'; DROP KEYSPACE %s; //" % SENTINEL_DATABASE,
    "mongo-operator": '{"$ne": null}',
    "mongo-dollar-dot": "$cmd.x",
    "shell-substitution": "$(touch %s)" % CANARY,
    "shell-backticks": "`touch %s`" % CANARY,
    "shell-semicolon": "x; touch %s" % CANARY,
    "format-string": "%s%n{0}%%",
    "path-traversal": "../../../../etc/passwd",
    "dot-dot": "..",
    "absolute-path": "/etc",
    "newline": "x\n%s" % _DROP,
    "carriage-return": "x\r\n",
    "tab": "x\ty",
    "nul": "x\x00%s" % _DROP,
    "unicode-cyrillic-cjk": "база_日本語",
    "unicode-emoji": "db_\U0001f600",
    "unicode-rtl-override": "db\u202eevil",
    "unicode-homoglyph": "trоve_sentinel",  # noqa: RUF001 (Cyrillic o)
    "over-long": "a" * 1025,
    "empty": "",
    "space-only": " ",
    "leading-space": " %s" % SENTINEL_DATABASE,
    "at-sign": "%s@%%" % SENTINEL_USER,
    **OPTION_NAMES,
}

#: passwords are values, not names: each must be rejected or work exactly.
HOSTILE_PASSWORDS = {
    key: HOSTILE_NAMES[key] for key in (
        "sql-single-quote", "sql-double-quote", "sql-backtick",
        "sql-backslash-quote", "shell-substitution", "shell-backticks",
        "format-string", "unicode-cyrillic-cjk", "newline", "space-only",
        "option-help", "option-result-file")}


def params(corpus):
    """Return ``pytest.param`` objects with readable ids for ``corpus``."""
    return [pytest.param(value, id=key) for key, value in corpus.items()]
