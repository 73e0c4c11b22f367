"""Tier requirements, evaluated by machine from installed code and reports.

The maturity spec (seed ``000``) lists what a datastore must have to be
experimental, technical preview or stable. Each requirement becomes a
:class:`Requirement` with a check a machine can run:

=================  ===================  ==================================
tier               requirement          evidence
=================  ===================  ==================================
experimental       ``descriptor``       the descriptor loads and targets
                                        this core's plugin API
experimental       ``manager``          the manager loads and implements
                                        the interfaces it declares
experimental       ``lifecycle``        ``lifecycle`` (create, delete) is
                                        declared
experimental       ``supported-os``     supported operating systems are
                                        declared
experimental       ``elements``         the package's image elements hold
                                        content for every supported OS
experimental       ``report``           a current conformance report
technical-preview  ``capabilities``     the report passes every declared
                                        capability
stable             ``live``             the report ran against a real
                                        server
=================  ===================  ==================================

The *verified* tier is the highest tier whose requirements, and those of
every lower tier, all pass. Conformance reports are the JSON files the
conformance kit writes, found as ``<datastore>.json`` in the evidence
directory (:func:`evidence_dir`). A report written for another version of
the plugin, or by an older core, is *stale* and is not evidence.

A backup or replication strategy is credited only with its own results:
the report's ``strategies`` entry for it (the kit runs the backup round
trip once per declared backup strategy). A passing capability does not
credit a strategy the run did not exercise, and a report without
``strategies`` (an older kit's) credits none.
"""

import dataclasses
import functools
import importlib.metadata
import importlib.util
import logging
import os
import pathlib

from trove_core import exceptions
from trove_core import tiers

__all__ = ["Evaluation", "Report", "Requirement", "StrategyEvaluation",
           "evaluate", "evidence_dir", "find_report", "read_report"]

LOG = logging.getLogger(__name__)

ENV_VAR = "TROVE_EVIDENCE_DIR"

_E = tiers.Tier.EXPERIMENTAL
_TP = tiers.Tier.TECHNICAL_PREVIEW
_S = tiers.Tier.STABLE

#: requirement id -> (tier, what the seed asks for, in one line)
REQUIREMENTS = {
    "descriptor": (_E, "descriptor is valid and targets this plugin API"),
    "manager": (_E, "manager loads and implements its declared "
                    "interfaces (basic API incl. create and delete)"),
    "lifecycle": (_E, "lifecycle capability (create, delete) declared"),
    "supported-os": (_E, "supported operating systems declared"),
    "elements": (_E, "guest image elements present for every supported "
                     "OS"),
    "report": (_E, "a current conformance report exists (test suite)"),
    "capabilities": (_TP, "conformance passes for every declared "
                          "capability"),
    "live": (_S, "conformance ran live against a real server (voting "
                 "suite)"),
}


#: strategy requirement id -> (tier, what the seed asks for)
STRATEGY_REQUIREMENTS = {
    "implementation": (_E, "strategy class registered in its entry-point "
                           "group and importable"),
    "tested": (_E, "the conformance report passes the strategy's "
                   "capability and the kit exercised the strategy itself "
                   "(basic tests)"),
    "live": (_S, "the strategy's own tests passed live (voting tests)"),
}


def evidence_dir(path=None):
    """Where conformance reports are looked for.

    :param path: an explicit directory, which wins.
    :returns: ``path``, else ``$TROVE_EVIDENCE_DIR``, else
        ``$XDG_STATE_HOME/trove-core/evidence`` (by default
        ``~/.local/state/trove-core/evidence``), as a :class:`pathlib.Path`.
    """
    if path:
        return pathlib.Path(path)
    if os.environ.get(ENV_VAR):
        return pathlib.Path(os.environ[ENV_VAR])
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state")
    return pathlib.Path(state, "trove-core", "evidence")


@dataclasses.dataclass(frozen=True)
class Report:
    """A conformance report, as the conformance kit writes it.

    :param path: where it was read from.
    :param data: the parsed JSON document (schema 1).
    """

    path: pathlib.Path
    data: dict

    @property
    def datastore(self):
        """The datastore it was run for."""
        return self.data["datastore"]

    @property
    def live(self):
        """Whether it ran against a real server."""
        return bool(self.data["live"])

    @property
    def capabilities(self):
        """capability name -> ``{"status", "tests", "reason"}``."""
        return self.data["capabilities"]

    def status(self, capability):
        """``pass``, ``fail``, ``skip`` or ``missing`` for a capability."""
        entry = self.capabilities.get(capability)
        return entry.get("status", "missing") if entry else "missing"

    @property
    def strategies(self):
        """strategy name -> ``{"kind", "status", "reason", "live"}``, or
        ``None`` for a report without per-strategy results (an older
        kit's), which is no evidence about any strategy."""
        return self.data.get("strategies")

    def summary(self):
        """One line naming what produced the report, for evidence."""
        engine = self.data.get("engine") or {}
        return ("%s (%s %s, core %s, engine %s %s, %s, started %s)" % (
            self.path, self.data["plugin_distribution"],
            self.data["plugin_version"], self.data["core_version"],
            engine.get("name", "?"), engine.get("version", "?"),
            "live" if self.live else "not live",
            self.data.get("started", "?")))


def read_report(path):
    """Read and validate one conformance report.

    Validation is the conformance kit's own
    (:func:`trove_guest_base.conformance.report.load`), so the kit and
    this check agree on schema 1.

    :param path: the JSON file.
    :returns: a :class:`Report`.
    :raises BadRequest: the file cannot be read, is not JSON, or does not
        follow schema 1; the message names the file and the problem.
    """
    from trove_guest_base.conformance import report as kit_report

    path = pathlib.Path(path)
    return Report(path, kit_report.load(path))


def find_report(name, directory=None):
    """Return the report of datastore ``name``, or ``None`` if absent.

    :raises BadRequest: the file exists but is not a usable report.
    """
    path = evidence_dir(directory) / ("%s.json" % name)
    if not path.is_file():
        return None
    return read_report(path)


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One requirement of a tier and the result of checking it.

    :param id: a short stable name (``manager``, ``live``...).
    :param tier: the tier that asks for it.
    :param title: what the maturity spec asks, in one line.
    :param passed: whether the evidence supports it.
    :param evidence: what was found, or what is missing and what to do.
    """

    id: str
    tier: tiers.Tier
    title: str
    passed: bool
    evidence: str

    def as_dict(self):
        """Plain data for JSON, YAML and CSV output."""
        return {"requirement": self.id, "tier": self.tier.label,
                "result": "pass" if self.passed else "fail",
                "title": self.title, "evidence": self.evidence}


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Every requirement of one datastore, and the tier they support.

    :param name: the datastore.
    :param declared: the tier its author declares, or ``None`` when the
        plugin did not load.
    :param requirements: :class:`Requirement` objects, lowest tier first.
    :param report: the conformance :class:`Report` used, or ``None``.
    :param stale: why the report is not evidence, or ``""``.
    :param strategies: a :class:`StrategyEvaluation` per strategy.
    """

    name: str
    declared: tiers.Tier
    requirements: tuple
    report: Report = None
    stale: str = ""
    strategies: tuple = ()

    @property
    def verified(self):
        """The highest tier whose requirements all pass, or ``None``."""
        best = None
        for tier in sorted(tiers.Tier):
            if all(r.passed for r in self.requirements if r.tier <= tier):
                best = tier
            else:
                break
        return best

    @property
    def supported(self):
        """Whether the evidence supports the declared tier."""
        verified = self.verified
        return (self.declared is not None and verified is not None
                and verified >= self.declared)


@dataclasses.dataclass(frozen=True)
class StrategyEvaluation:
    """The requirements of one backup or replication strategy.

    The seed gives strategies two tiers of their own: experimental (an
    implementation, tested) and stable (voting tests); technical preview
    adds nothing for them.

    :param name: the strategy name.
    :param kind: ``backup`` or ``replication``.
    :param declared: the tier its author declares.
    :param requirements: :class:`Requirement` objects.
    """

    name: str
    kind: str
    declared: tiers.Tier
    requirements: tuple

    @property
    def verified(self):
        """``stable``, ``experimental`` or ``None``."""
        if not all(r.passed for r in self.requirements
                   if r.tier is _E):
            return None
        if all(r.passed for r in self.requirements):
            return _S
        return _E

    @property
    def supported(self):
        """Whether the evidence supports the declared tier."""
        verified = self.verified
        return verified is not None and verified >= self.declared


@functools.lru_cache(maxsize=1)
def core_version():
    """The installed trove-core version, or ``""`` if unknown.

    Cached: each lookup scans every installed distribution.
    """
    try:
        return importlib.metadata.version("trove-core")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _older(left, right):
    """Whether version ``left`` is older than ``right``."""
    try:
        from packaging import version
    except ImportError:  # not on every guest; compare as text then
        return left != right
    try:
        return version.Version(left) < version.Version(right)
    except version.InvalidVersion:
        return left != right


def staleness(report, record, core=None):
    """Say why ``report`` is not evidence for ``record``, or ``""``.

    It is not when it was written for another datastore, distribution or
    plugin version, by an older trove-core, or by a partial run.

    :param report: a :class:`Report`.
    :param record: the :class:`~trove_core.discovery.PluginRecord`.
    :param core: the installed core version (looked up when ``None``).
    """
    core = core_version() if core is None else core
    data = report.data
    if data.get("partial"):
        return ("the run was partial (tests deselected or stopped early); "
                "run the whole kit")
    if data["datastore"] != record.name:
        return "it is a report for datastore %r" % data["datastore"]
    if data["plugin_distribution"] != record.distribution:
        return ("it was written for distribution %r, %r is installed"
                % (data["plugin_distribution"], record.distribution))
    if data["plugin_version"] != record.version:
        return ("it was written for %s %s, %s is installed"
                % (record.distribution, data["plugin_version"],
                   record.version))
    if core and _older(data["core_version"], core):
        return ("it was written by trove-core %s, older than the "
                "installed %s" % (data["core_version"], core))
    return ""


def _req(rid, passed, evidence):
    tier, title = REQUIREMENTS[rid]
    return Requirement(rid, tier, title, bool(passed), evidence)


def _package_dir(record):
    """The directory of the package that holds the descriptor module."""
    module = record.target.split(":", 1)[0]
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations:
        return pathlib.Path(list(spec.submodule_search_locations)[0])
    parent = module.rpartition(".")[0]
    spec = importlib.util.find_spec(parent) if parent else None
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def _check_elements(record):
    desc = record.descriptor
    pkg = _package_dir(record)
    if pkg is None:
        return False, "the package of %s cannot be located" % record.target
    root = pkg / desc.image.elements
    if not root.is_dir():
        return False, "%s does not exist; ship the image elements there" % (
            root,)
    files = [p for p in sorted(root.rglob("*"))
             if p.is_file() and p.stat().st_size > 0
             and "__pycache__" not in p.parts]
    if not files:
        return False, "%s holds no non-empty file" % root
    missing = []
    for entry in desc.image.supported_os:
        distro = entry.id.split("-", 1)[0]
        if not any(_mentions(root, path, entry.id, distro)
                   for path in files):
            missing.append(entry.id)
    if missing:
        return False, ("%s has %d files but none for %s (name a file or "
                       "directory after the OS, or mention its id in one)"
                       % (root, len(files), ", ".join(missing)))
    return True, "%s: %d non-empty files, covering %s" % (
        root, len(files), ", ".join(e.id for e in desc.image.supported_os))


def _mentions(root, path, os_id, distro):
    rel = str(path.relative_to(root)).lower()
    if os_id in rel or distro in rel:
        return True
    try:
        return os_id in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _check_manager(record, load_manager, report, stale):
    if not load_manager:
        if report is not None and not stale:
            return True, ("not imported here; the conformance run of %s "
                          "loaded it (run 'trove-datastores check %s' to "
                          "verify on this host)"
                          % (report.data.get("started", "?"), record.name))
        return False, ("not imported here and no current conformance "
                       "report; run 'trove-datastores check %s'"
                       % record.name)
    from trove_core import discovery

    try:
        _rec, cls = discovery.load_manager_class(record.name, [record])
    except exceptions.PluginError as exc:
        return False, str(exc)
    return True, "%s.%s implements %s" % (
        cls.__module__, cls.__qualname__,
        ", ".join(sorted(record.descriptor.capabilities)))


def _check_report(record, directory, core):
    try:
        report = find_report(record.name, directory)
    except exceptions.TroveError as exc:
        return None, "", False, str(exc)
    where = evidence_dir(directory) / ("%s.json" % record.name)
    if report is None:
        return None, "", False, (
            "no report at %s; run the conformance kit and copy its report "
            "there (or pass --evidence DIR)" % where)
    stale = staleness(report, record, core)
    if stale:
        return report, stale, False, "stale report %s is not evidence: %s" % (
            report.path, stale)
    return report, "", True, report.summary()


def _check_capabilities(record, report, stale):
    if report is None or stale:
        return False, "no current conformance report"
    declared = sorted(record.descriptor.capabilities)
    bad = ["%s=%s%s" % (cap, report.status(cap),
                        _reason(report, cap))
           for cap in declared if report.status(cap) != "pass"]
    if bad:
        return False, "not passing: " + "; ".join(bad)
    return True, "passing: " + ", ".join(declared)


def _reason(report, cap):
    entry = report.capabilities.get(cap) or {}
    return " (%s)" % entry["reason"] if entry.get("reason") else ""


def _sreq(rid, passed, evidence):
    tier, title = STRATEGY_REQUIREMENTS[rid]
    return Requirement(rid, tier, title, bool(passed), evidence)


@functools.cache
def _strategy_entries(group):
    """name -> entry points of one strategy group, read once a process
    (each read scans every installed distribution)."""
    index = {}
    for ep in importlib.metadata.entry_points(group=group):
        index.setdefault(ep.name, []).append(ep)
    return index


def _check_implementation(strategy, load):
    eps = _strategy_entries(strategy.group).get(strategy.name, [])
    if not eps:
        return False, "no entry point %r in group %s" % (strategy.name,
                                                         strategy.group)
    if len({ep.value for ep in eps}) > 1:
        return False, "%d entry points named %r in %s: %s" % (
            len(eps), strategy.name, strategy.group,
            ", ".join(sorted(ep.value for ep in eps)))
    if not load:
        return True, "%s (registered; not imported here)" % eps[0].value
    try:
        eps[0].load()
    except Exception as exc:  # a plugin's import may raise anything
        return False, "importing %s failed: %s: %s" % (
            eps[0].value, type(exc).__name__, exc)
    return True, "%s loads" % eps[0].value


def _check_topology(strategy, desc):
    # A cluster topology's code is the manager's cluster family
    # capability (verified against the manager when it loads).
    families = desc.cluster_families
    if not families:
        return False, ("topology %r: the descriptor declares no cluster "
                       "family capability" % strategy.name)
    return True, "served by %s" % ", ".join(
        "cluster_%s" % family for family in families)


def _evaluate_strategy(strategy, report, stale, load, desc=None):
    if strategy.kind == "cluster" and desc is not None:
        implemented = _check_topology(strategy, desc)
    else:
        implemented = _check_implementation(strategy, load)
    reqs = [_sreq("implementation", *implemented)]
    if report is None or stale:
        reqs.append(_sreq("tested", False, "no current conformance report"))
        reqs.append(_sreq("live", False, "no current conformance report"))
        return StrategyEvaluation(strategy.name, strategy.kind,
                                  strategy.tier, tuple(reqs))
    status = report.status(strategy.kind)
    cap = "%r is %s%s" % (strategy.kind, status,
                          _reason(report, strategy.kind))
    results = report.strategies
    own = (results or {}).get(strategy.name)
    if results is None:
        tested, note = False, ("the report has no per-strategy results "
                               "(written by an older kit); run the kit "
                               "again")
    elif own is None or own.get("kind") != strategy.kind:
        tested, note = False, ("the run did not exercise %s strategy %r"
                               % (strategy.kind, strategy.name))
    else:
        tested = status == "pass" and own["status"] == "pass"
        note = "strategy %r: %s%s" % (
            strategy.name, own["status"],
            " (%s)" % own["reason"] if own.get("reason") else "")
    reqs.append(_sreq("tested", tested, "%s; %s" % (cap, note)))
    if not tested:
        live = False, "its own tests did not pass"
    elif own.get("live") and report.live:
        live = True, "live run"
    else:
        live = False, "the report is not live"
    reqs.append(_sreq("live", *live))
    return StrategyEvaluation(strategy.name, strategy.kind, strategy.tier,
                              tuple(reqs))


def evaluate(record, directory=None, load_manager=True, core=None):
    """Check every tier requirement of one plugin.

    :param record: a :class:`~trove_core.discovery.PluginRecord`.
    :param directory: the evidence directory (see :func:`evidence_dir`).
    :param load_manager: import and verify the manager (``check`` does;
        ``list`` does not, and then accepts a current conformance report
        as evidence that the manager loaded).
    :param core: the installed core version, looked up when ``None``.
    :returns: an :class:`Evaluation`.
    """
    if not record.ok:
        reqs = tuple(_req(rid, False, "plugin is %s: %s" % (
            record.health.value, record.reason)) for rid in REQUIREMENTS)
        return Evaluation(record.name, None, reqs)
    desc = record.descriptor
    report, stale, report_ok, report_evidence = _check_report(
        record, directory, core)
    reqs = [_req("descriptor", True, "%s (plugin API %s)" % (
        record.target, desc.plugin_api))]
    reqs.append(_req("manager", *_check_manager(
        record, load_manager, report, stale)))
    reqs.append(_req("lifecycle", "lifecycle" in desc.capabilities,
                     "declares %s" % ", ".join(sorted(desc.capabilities))))
    os_ids = [e.id for e in desc.image.supported_os]
    reqs.append(_req("supported-os", bool(os_ids),
                     ", ".join(os_ids) or "none declared in ImageSpec"))
    if os_ids:
        reqs.append(_req("elements", *_check_elements(record)))
    else:
        reqs.append(_req("elements", False, "no supported OS declared"))
    reqs.append(_req("report", report_ok, report_evidence))
    reqs.append(_req("capabilities", *_check_capabilities(
        record, report, stale)))
    if report is None or stale:
        live = False, "no current conformance report"
    elif report.live:
        live = True, "live run started %s" % report.data.get("started", "?")
    else:
        live = False, ("the report is not live; run the kit against a real "
                       "server")
    reqs.append(_req("live", *live))
    strategies = tuple(_evaluate_strategy(st, report, stale, load_manager,
                                          desc)
                       for st in desc.strategies)
    return Evaluation(record.name, desc.tier, tuple(reqs), report, stale,
                      strategies)
