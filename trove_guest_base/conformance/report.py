"""The machine-readable report a conformance run writes.

Running the kit writes one JSON document per datastore exercised: to the
path given with ``--trove-report PATH`` and, when ``TROVE_EVIDENCE_DIR``
is set, to ``$TROVE_EVIDENCE_DIR/<datastore>.json`` (where
``trove-datastores check`` looks for tier evidence). When one run
exercises several datastores, ``PATH`` may contain ``{datastore}``;
otherwise each report after the first goes next to it as
``<stem>-<datastore>.json``.

Schema 1::

    {
      "schema": 1,
      "datastore": "fake",
      "plugin_distribution": "trove-ds-fake",
      "plugin_version": "1.0.0",
      "core_version": "0.1.0",
      "engine": {"name": "fake", "version": "1.0"},
      "live": false,
      "declared_tier": "experimental",
      "declared_capabilities": ["access", "backup", ...],
      "partial": false,
      "started": "2026-01-01T00:00:00Z",
      "duration_s": 1.25,
      "totals": {"pass": 180, "fail": 0, "skip": 4},
      "capabilities": {
        "databases": {
          "status": "pass",
          "reason": "",
          "tests": {
            "test_databases_create_list_delete": {"status": "pass"},
            "test_databases_hostile_name[nul]": {"status": "pass"}
          }
        },
        "cluster": {"status": "skip", "reason": "not declared",
                    "tests": {"test_cluster_not_declared_refused":
                              {"status": "pass"}}}
      },
      "strategies": {
        "fake-copy": {"kind": "backup", "status": "pass", "reason": "",
                      "live": false}
      },
      "provenance": {"source": "local", "ci": "", "commit": "",
                     "voting": false}
    }

``status`` of a capability is ``fail`` when any of its tests failed (the
``reason`` names the first failure), ``pass`` when none failed and the
capability is declared and at least one test passed, and ``skip``
otherwise, with the reason: ``not declared``, ``no conformance tests for
this capability yet`` or why its tests were skipped. A test entry has
``status`` and, unless it passed, ``reason``. ``live`` is true only when
the probe looked at a real server. ``partial`` is true when some kit
tests were deselected or the run stopped early: such a report is not
complete evidence.

``strategies`` has one entry per strategy the datastore declares and per
strategy a kit test exercised: its ``kind`` (``backup``,
``replication`` or ``cluster``), ``status`` (``pass`` when every test
that exercised it passed, ``fail`` when one failed, ``skip`` when none
ran it, with the ``reason``: it cannot run here, its capability is not
declared or was skipped, or no kit test exercises it) and ``live`` (it
passed against a real server). The key is optional in schema 1: a report
without it (an older kit's) holds no evidence about any strategy.

``provenance`` says where the run happened (:func:`provenance`):
``source`` is ``gate`` when the project's CI ran it (``CI=true`` and a
commit known), ``local`` otherwise; ``ci`` names the CI system, ``commit``
the commit tested, and ``voting`` is true when the datastore's suites
vote in that gate (listed in ``TROVE_VOTING_SUITES`` by
``scripts/test.sh``). ``trove-datastores check`` grants ``stable`` only
to a live report from a voting gate run. The key is optional in schema
1: a report without it (an older kit's) counts as a local run.

When the plugin's spawn fixture skips (no server here), every kit test is
a ``skip`` with that reason, the declared capabilities come from the
descriptor, and ``live`` is false.
"""

import datetime
import json
import os
import pathlib

from trove_core import report as _format

__all__ = ["ENV_VAR", "SCHEMA", "STATUSES", "ReportCollector", "load",
           "provenance", "validate"]

SCHEMA = _format.SCHEMA
STATUSES = _format.STATUSES
ENV_VAR = "TROVE_EVIDENCE_DIR"
NOT_DECLARED = "not declared"
STRATEGY_KINDS = _format.STRATEGY_KINDS
NOT_EXERCISED = "no kit test exercised it in this run"
NO_TESTS = "no conformance tests for this capability yet"
# the format and provenance live in trove_core.report (the evidence
# check reads them too); these names stay importable from here
VOTING_VAR = _format.VOTING_VAR
COMMIT_VAR = _format.COMMIT_VAR
_CI_SYSTEMS = _format.CI_SYSTEMS
provenance = _format.provenance
validate = _format.validate
load = _format.load



def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _version(distribution):
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _Run:
    """What one datastore's run has gathered so far."""

    def __init__(self, datastore):
        self.datastore = datastore
        self.started = _now()
        self.finished = self.started
        self.meta = {}
        self.results = {}  # capability -> {test: {"status", "reason"}}
        self.expected = {}  # capability -> set of collected test names
        self.strategies = {}  # name -> {"kind", "status", "reason"}

    def note(self, capability, test, status, reason=""):
        tests = self.results.setdefault(capability, {})
        previous = tests.get(test)
        if previous and previous["status"] == "fail":
            return
        entry = {"status": status}
        if status != "pass":
            entry["reason"] = reason
        tests[test] = entry
        self.finished = _now()

    def note_strategy(self, kind, name, status, reason=""):
        """Record one test's outcome for strategy ``name``: a failure
        stands, a pass wins over a skip."""
        previous = self.strategies.get(name)
        rank = {"fail": 2, "pass": 1, "skip": 0}
        if previous and rank[previous["status"]] >= rank[status]:
            return
        self.strategies[name] = {"kind": kind, "status": status,
                                 "reason": "" if status == "pass"
                                 else reason}


class ReportCollector:
    """Gathers kit test outcomes during a pytest session and builds
    schema-1 reports."""

    def __init__(self):
        self.runs = {}
        self.partial = False

    def run(self, datastore):
        """Return the run record of ``datastore``, creating it."""
        if datastore not in self.runs:
            self.runs[datastore] = _Run(datastore)
        return self.runs[datastore]

    def describe(self, datastore, manager=None, probe=None):
        """Record what is known about the datastore under test, once.

        :param manager: the plugin's manager (for its capabilities).
        :param probe: the probe (for the engine and ``live``).
        """
        run = self.run(datastore)
        if run.meta and (manager is None or run.meta.get("_manager")):
            return
        from trove_core import discovery
        from trove_core import exceptions

        meta = {"plugin_distribution": "unknown",
                "plugin_version": "unknown", "declared_tier": None,
                "declared_capabilities": [], "_manager": manager is not None,
                "_strategies": {}}
        try:
            record = discovery.find(datastore)
        except exceptions.TroveError as exc:
            meta["plugin_error"] = "%s: %s" % (type(exc).__name__, exc)
        else:
            desc = record.descriptor
            meta.update(plugin_distribution=record.distribution,
                        plugin_version=record.version,
                        declared_tier=desc.tier.label,
                        declared_capabilities=sorted(desc.capabilities),
                        _strategies={s.name: s.kind
                                     for s in desc.strategies})
        if manager is not None:
            meta["declared_capabilities"] = sorted(manager.capabilities())
        meta["engine"] = {"name": "unknown", "version": "unknown"}
        meta["live"] = False
        if probe is not None:
            meta["engine"] = dict(probe.engine())
            meta["live"] = bool(probe.live)
        run.meta = meta

    def build(self, datastore):
        """Return the schema-1 report of ``datastore``."""
        from trove_core import capabilities as caps

        run = self.runs[datastore]
        meta = dict(run.meta)
        meta.pop("_manager", None)
        declared_strategies = meta.pop("_strategies", {})
        declared = set(meta.get("declared_capabilities", ()))
        capabilities = {}
        totals = {status: 0 for status in STATUSES}
        for name in caps.CAPABILITIES:
            tests = run.results.get(name, {})
            for entry in tests.values():
                totals[entry["status"]] += 1
            capabilities[name] = self._summarize(name, tests, declared)
        doc = {
            "schema": SCHEMA,
            "datastore": datastore,
            "plugin_distribution": meta.pop("plugin_distribution",
                                            "unknown"),
            "plugin_version": meta.pop("plugin_version", "unknown"),
            "core_version": _version("trove-core"),
            "engine": meta.pop("engine", {"name": "unknown",
                                          "version": "unknown"}),
            "live": meta.pop("live", False),
            "started": run.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round(
                (run.finished - run.started).total_seconds(), 3),
            "partial": self.partial,
            "totals": totals,
            "capabilities": capabilities,
        }
        doc["strategies"] = self._strategies(
            run, declared_strategies, capabilities, doc["live"])
        doc["provenance"] = provenance(datastore)
        doc.update(meta)
        return validate(doc)

    @staticmethod
    def _strategies(run, declared, capabilities, live):
        found = {}
        for name, kind in declared.items():
            cap = capabilities.get(kind, {})
            reason = (cap.get("reason") if cap.get("status") == "skip"
                      else "") or NOT_EXERCISED
            found[name] = {"kind": kind, "status": "skip",
                           "reason": reason}
        for name, entry in run.strategies.items():
            found[name] = dict(entry)
        for entry in found.values():
            entry["live"] = bool(live and entry["status"] == "pass")
        return found

    @staticmethod
    def _summarize(name, tests, declared):
        failed = [(t, e) for t, e in tests.items() if e["status"] == "fail"]
        passed = [t for t, e in tests.items() if e["status"] == "pass"]
        if failed:
            test, entry = failed[0]
            reason = "%d test(s) failed; first: %s: %s" % (
                len(failed), test, entry.get("reason", ""))
            status = "fail"
        elif name not in declared:
            status, reason = "skip", NOT_DECLARED
        elif passed:
            status, reason = "pass", ""
        elif tests:
            status = "skip"
            reason = next(iter(tests.values())).get("reason", "skipped")
        else:
            status, reason = "skip", NO_TESTS
        return {"status": status, "reason": reason, "tests": tests}

    def targets(self, option_path, env=None):
        """Return ``[(datastore, path)]`` to write, from ``--trove-report``
        and ``$TROVE_EVIDENCE_DIR``."""
        env = os.environ if env is None else env
        out = []
        names = sorted(self.runs)
        if option_path:
            for index, name in enumerate(names):
                path = str(option_path)
                if "{datastore}" in path:
                    path = path.replace("{datastore}", name)
                elif index:
                    base = pathlib.Path(path)
                    path = str(base.with_name("%s-%s%s" % (
                        base.stem, name, base.suffix or ".json")))
                out.append((name, pathlib.Path(path)))
        if env.get(ENV_VAR):
            for name in names:
                out.append((name, pathlib.Path(env[ENV_VAR],
                                               "%s.json" % name)))
        return out

    def write(self, option_path, env=None):
        """Write every report; return the paths written."""
        written = []
        for name, path in self.targets(option_path, env):
            doc = self.build(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name("." + path.name + ".tmp")
            tmp.write_text(json.dumps(doc, indent=2, sort_keys=True)
                           + "\n", encoding="utf-8")
            os.replace(tmp, path)
            written.append(path)
        return written
