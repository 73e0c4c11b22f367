"""The conformance report's format (schema 1) and a run's provenance.

The conformance kit (:mod:`trove_guest_base.conformance.report`) writes
these documents and ``trove-datastores check``
(:mod:`trove_core.tools.evidence`) reads them; both validate with
:func:`validate` here, so they agree on schema 1 without either
importing the other. The kit's module documents the schema field by
field. :func:`provenance` says where a run happened; the kit's reports
and the image builder's records both carry it.
"""

import json
import os

from trove_core import exceptions

__all__ = ["COMMIT_VAR", "SCHEMA", "STATUSES", "STRATEGY_KINDS",
           "VOTING_VAR", "load", "provenance", "shape_problem",
           "validate"]

SCHEMA = 1
STATUSES = ("pass", "fail", "skip")
STRATEGY_KINDS = ("backup", "replication", "cluster")

#: the datastores whose suites vote in the gate (space or comma
#: separated), set by ``scripts/test.sh`` in CI
VOTING_VAR = "TROVE_VOTING_SUITES"
#: the commit a CI run tests, when the CI system's own variable is absent
COMMIT_VAR = "TROVE_GATE_COMMIT"
#: CI systems recognised by their own variables: (variable, name, commit
#: variable)
CI_SYSTEMS = (("ZUUL_PROJECT", "zuul", "ZUUL_COMMIT"),
              ("GITHUB_ACTIONS", "github-actions", "GITHUB_SHA"),
              ("GITLAB_CI", "gitlab-ci", "CI_COMMIT_SHA"),
              ("JENKINS_URL", "jenkins", "GIT_COMMIT"))


def provenance(datastore, env=None):
    """Where a run for ``datastore`` happens, from the environment.

    A run is the project's gate when ``CI`` is true (as CI systems set
    it) and the commit under test is known (``$TROVE_GATE_COMMIT``, which
    ``scripts/test.sh`` sets from git, or the CI system's own variable).
    Its ``voting`` is true when ``datastore`` is listed in
    ``$TROVE_VOTING_SUITES``. The conformance kit's reports and the image
    builder's records both carry it.

    :param datastore: the datastore name.
    :param env: the environment (``os.environ`` by default).
    :returns: ``{"source", "ci", "commit", "voting"}``.
    """
    env = os.environ if env is None else env
    ci = str(env.get("CI", "")).strip().lower() in ("1", "true", "yes")
    system, commit = "", env.get(COMMIT_VAR, "").strip()
    for var, name, commit_var in CI_SYSTEMS:
        if env.get(var):
            system = name
            commit = commit or env.get(commit_var, "").strip()
            break
    if ci and not system:
        system = env.get("TROVE_CI_NAME", "").strip() or "ci"
    voting = set(env.get(VOTING_VAR, "").replace(",", " ").split())
    gate = ci and bool(commit)
    return {"source": "gate" if gate else "local",
            "ci": system if ci else "", "commit": commit if ci else "",
            "voting": bool(gate and datastore in voting)}


_REQUIRED = (("schema", int), ("datastore", str),
             ("plugin_distribution", str), ("plugin_version", str),
             ("core_version", str), ("engine", dict), ("live", bool),
             ("started", str), ("duration_s", (int, float)),
             ("capabilities", dict))


def shape_problem(data, schema, required):
    """The first problem with a versioned JSON document's outline, or
    ``""``: not an object, another schema, a required field absent or of
    the wrong type (a boolean is not a number).

    :param data: the parsed document.
    :param schema: the schema number this core reads.
    :param required: ``((field, type or types), ...)``.
    """
    if not isinstance(data, dict):
        return "the document is not a JSON object"
    if data.get("schema") != schema:
        return "schema is %r; this core reads schema %d" % (
            data.get("schema"), schema)
    for key, kind in required:
        value = data.get(key)
        if not isinstance(value, kind) or (
                isinstance(value, bool) and kind is not bool):
            return "field %r is missing or has the wrong type" % key
    return ""


def _fail(path, reason):
    return exceptions.BadRequest(
        "conformance report %s is not usable: %s; run the conformance kit "
        "again to rewrite it" % (path, reason), reason=reason,
        path=str(path))


def validate(data, path="<report>"):
    """Check that ``data`` follows schema 1.

    :param data: the parsed document.
    :param path: where it came from, for the message.
    :returns: ``data``.
    :raises BadRequest: naming the first problem.
    """
    problem = shape_problem(data, SCHEMA, _REQUIRED)
    if problem:
        raise _fail(path, problem)
    strategies = data.get("strategies", {})
    if not isinstance(strategies, dict):
        raise _fail(path, "'strategies' must be an object")
    for name, entry in strategies.items():
        if not isinstance(entry, dict) or entry.get("status") not in \
                STATUSES or entry.get("kind") not in STRATEGY_KINDS:
            raise _fail(path, "strategy %r needs a kind in %s and a status "
                        "in %s" % (name, list(STRATEGY_KINDS),
                                   list(STATUSES)))
    where = data.get("provenance", {})
    if not isinstance(where, dict) or where.get("source", "local") not in (
            "gate", "local") or not isinstance(where.get("voting", False),
                                               bool):
        raise _fail(path, "'provenance' must be an object with a source "
                    "'gate' or 'local' and a boolean 'voting'")
    for name, entry in data["capabilities"].items():
        if not isinstance(entry, dict) or entry.get("status") not in \
                STATUSES:
            raise _fail(path, "capability %r needs a status in %s"
                        % (name, list(STATUSES)))
        if not isinstance(entry.get("tests", {}), dict):
            raise _fail(path, "capability %r: 'tests' must be an object"
                        % name)
    return data


def load(path):
    """Read and validate a conformance report.

    :param path: the JSON file.
    :returns: the report as a ``dict`` (schema 1).
    :raises BadRequest: the file is unreadable, not JSON or not schema 1.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise _fail(path, "%s: %s" % (type(exc).__name__, exc)) from None
    return validate(data, path)
