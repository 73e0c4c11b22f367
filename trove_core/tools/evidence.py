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
                                        an install hook, read as
                                        ``trove-guest-image build`` reads
                                        them, for every supported OS
experimental       ``report``           a current conformance report
technical-preview  ``capabilities``     the report passes every declared
                                        capability
technical-preview  ``hostile``          the report holds every hostile-
                                        input case of the kit, none failed
technical-preview  ``image``            an image build ran the plugin's
                                        current hooks, each exiting 0,
                                        and its self-check passed (the
                                        image record, below)
stable             ``live``             the report ran against a real
                                        server
stable             ``gate``             the report came from the
                                        project's CI gate (``CI=true``, a
                                        commit) where the datastore's
                                        suites vote
=================  ===================  ==================================

Where a report came from is its ``provenance`` (:func:`provenance`,
which the conformance kit and the image builder both use): a run on a
developer's machine is ``local`` and proves at most technical preview,
however live; only the gate's voting suites prove ``stable``, as the
maturity spec asks ("a stable voting test suite is part of the gate").

The *verified* tier is the highest tier whose requirements, and those of
every lower tier, all pass. Conformance reports are the JSON files the
conformance kit writes, found as ``<datastore>.json`` in the evidence
directory (:func:`evidence_dir`). A report written for another version of
the plugin, or by an older core, is *stale* and is not evidence.

An *image record* is the JSON file ``trove-guest-image build --rootfs``
writes as ``<datastore>.image.json`` in the same directory once the hooks
ran in a real root filesystem (:func:`write_image_record`): the plugin
version, the OS, each hook that ran with its sha256 and exit status, the
bundle's identity, when and where (its ``provenance``). It is evidence
only while the plugin's hooks still have the recorded sha256: change a
hook and the image must be built again.

A backup or replication strategy is credited only with its own results:
the report's ``strategies`` entry for it (the kit runs the backup round
trip once per declared backup strategy). A passing capability does not
credit a strategy the run did not exercise, and a report without
``strategies`` (an older kit's) credits none.
"""

import dataclasses
import datetime
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import pathlib

from trove_core import exceptions
from trove_core import report as _format
from trove_core import tiers

__all__ = ["Evaluation", "Report", "Requirement", "StrategyEvaluation",
           "evaluate", "evidence_dir", "find_image_record", "find_report",
           "provenance", "read_image_record", "read_report",
           "write_image_record"]

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
    "hostile": (_TP, "no hostile-input case of the conformance kit fails "
                     "(option-shaped names, backup integrity, storage "
                     "collisions, tenant locks, bounded replies, secrets "
                     "at rest)"),
    "image": (_TP, "an image build ran the plugin's hooks (a guest image "
                   "able to exercise them)"),
    "live": (_S, "conformance ran live against a real server"),
    "gate": (_S, "the run was the project's CI gate, where this "
                 "datastore's suite votes"),
}


#: strategy requirement id -> (tier, what the seed asks for)
STRATEGY_REQUIREMENTS = {
    "implementation": (_E, "strategy class registered in its entry-point "
                           "group and importable"),
    "tested": (_E, "the conformance report passes the strategy's "
                   "capability and the kit exercised the strategy itself "
                   "(basic tests)"),
    "live": (_S, "the strategy's own tests passed live in the CI gate, "
                 "where they vote"),
}


# where a run happened (trove_core.report); kept importable from here
VOTING_VAR = _format.VOTING_VAR
COMMIT_VAR = _format.COMMIT_VAR
CI_SYSTEMS = _format.CI_SYSTEMS
provenance = _format.provenance


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

    @property
    def provenance(self):
        """``{"source", "ci", "commit", "voting"}``: where the run
        happened; a report without it (an older kit's) was local."""
        found = self.data.get("provenance") or {}
        return {"source": found.get("source", "local"),
                "ci": found.get("ci", ""), "commit": found.get("commit", ""),
                "voting": bool(found.get("voting", False))}

    @property
    def gate(self):
        """Whether the project's CI gate ran it as a voting suite."""
        where = self.provenance
        return where["source"] == "gate" and where["voting"]

    def origin(self):
        """Where the run happened, in a few words."""
        where = self.provenance
        if where["source"] != "gate":
            return "local run"
        return "%s gate at %s, %s" % (
            where["ci"] or "CI", where["commit"][:12] or "?",
            "voting" if where["voting"] else "non-voting")

    def summary(self):
        """One line naming what produced the report, for evidence."""
        engine = self.data.get("engine") or {}
        return ("%s (%s %s, core %s, engine %s %s, %s, %s, started %s)" % (
            self.path, self.data["plugin_distribution"],
            self.data["plugin_version"], self.data["core_version"],
            engine.get("name", "?"), engine.get("version", "?"),
            "live" if self.live else "not live", self.origin(),
            self.data.get("started", "?")))


def read_report(path):
    """Read and validate one conformance report.

    Validation is the one the conformance kit writes by
    (:func:`trove_core.report.load`), so the kit and this check agree
    on schema 1.

    :param path: the JSON file.
    :returns: a :class:`Report`.
    :raises BadRequest: the file cannot be read, is not JSON, or does not
        follow schema 1; the message names the file and the problem.
    """
    path = pathlib.Path(path)
    return Report(path, _format.load(path))


def find_report(name, directory=None):
    """Return the report of datastore ``name``, or ``None`` if absent.

    :raises BadRequest: the file exists but is not a usable report.
    """
    path = evidence_dir(directory) / ("%s.json" % name)
    if not path.is_file():
        return None
    return read_report(path)


#: the schema of an image record
IMAGE_SCHEMA = 1
_IMAGE_REQUIRED = (("schema", int), ("datastore", str),
                   ("plugin_distribution", str), ("plugin_version", str),
                   ("os", str), ("result", str), ("hooks", list),
                   ("bundle", dict), ("finished", str))


def image_record_path(name, directory=None):
    """Where the image record of datastore ``name`` lives."""
    return evidence_dir(directory) / ("%s.image.json" % name)


def sha256_hex(data):
    """The sha256 of ``data`` (bytes), in hex."""
    return hashlib.sha256(data).hexdigest()


def _image_unusable(path, reason):
    return exceptions.BadRequest(
        "image record %s is not usable: %s; build the image again "
        "(trove-guest-image build --rootfs) to rewrite it" % (path, reason),
        reason=reason, path=str(path))


def validate_image_record(data, path="<image record>"):
    """Check that ``data`` is an image record of schema 1.

    :returns: ``data``.
    :raises BadRequest: naming the first problem.
    """
    problem = _format.shape_problem(data, IMAGE_SCHEMA, _IMAGE_REQUIRED)
    if problem:
        raise _image_unusable(path, problem)
    if data["result"] not in ("pass", "fail"):
        raise _image_unusable(path, "'result' must be 'pass' or 'fail'")
    for hook in data["hooks"]:
        if not (isinstance(hook, dict) and isinstance(hook.get("hook"), str)
                and isinstance(hook.get("sha256"), str)
                and isinstance(hook.get("exit"), int)
                and not isinstance(hook.get("exit"), bool)):
            raise _image_unusable(path, "each hook needs a 'hook' name, a "
                                  "'sha256' and an integer 'exit'")
    return data


def read_image_record(path):
    """Read and validate one image record.

    :raises BadRequest: the file is unreadable, not JSON or not schema 1.
    """
    path = pathlib.Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _image_unusable(path, "cannot read it (%s)" % exc) from exc
    return validate_image_record(data, path)


def find_image_record(name, directory=None):
    """The image record of datastore ``name`` as a ``dict``, or ``None``.

    :raises BadRequest: the file exists but is not a usable record.
    """
    path = image_record_path(name, directory)
    if not path.is_file():
        return None
    return read_image_record(path)


def write_image_record(data, directory=None):
    """Write an image record atomically as ``<datastore>.image.json``.

    The caller (the image builder) gives the build's facts; this adds the
    schema, the time and the provenance unless given, validates, and
    replaces any earlier record of the datastore in one rename.

    :param data: ``datastore``, ``plugin_distribution``,
        ``plugin_version``, ``os``, ``result`` (``pass``/``fail``),
        ``hooks`` (``[{"hook": "phase/name", "sha256", "exit"}]``, in the
        order they ran), ``bundle`` (the manifest's identity).
    :param directory: the evidence directory (:func:`evidence_dir`).
    :returns: the path written.
    """
    doc = dict(data)
    doc.setdefault("schema", IMAGE_SCHEMA)
    doc.setdefault("finished", datetime.datetime.now(
        datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    doc.setdefault("provenance", provenance(doc.get("datastore", "")))
    path = image_record_path(doc.get("datastore", ""), directory)
    validate_image_record(doc, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    try:
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n",
                       encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def build_command(name, os_id="OS", directory=None):
    """The command that builds ``name``'s image and writes its record."""
    where = str(evidence_dir(directory).absolute())
    return ("sudo trove-guest-image build --datastore %s --os %s --output "
            "bundle-%s --rootfs rootfs-%s --no-smoke --evidence %s"
            % (name, os_id, name, name, where))


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
        return {"requirement": self.id, "required_for": self.tier.label,
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
    :param image_command: the command that builds the image and writes
        its record, when the ``image`` requirement fails, else ``""``.
    """

    name: str
    declared: tiers.Tier
    requirements: tuple
    report: Report = None
    stale: str = ""
    strategies: tuple = ()
    image_command: str = ""

    def _image_advice(self):
        if not self.image_command:
            return ""
        return ("; an image build records that the hooks ran (as root): %s"
                % self.image_command)

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

    @property
    def advice(self):
        """What the author may do when the evidence and the declared tier
        differ, or ``""``."""
        verified = self.verified
        if self.declared is None or verified is None:
            return ""
        if verified > self.declared:
            return ("%s: the evidence supports %s, above the declared %s; "
                    "the author may raise the descriptor's tier to %r "
                    "(with the classifier %r in setup.cfg; strategies each "
                    "on their own evidence), or keep %s" % (
                        self.name, verified.label, self.declared.label,
                        verified.label, verified.classifier,
                        self.declared.label))
        if verified < self.declared:
            missing = [r.id for r in self.requirements
                       if not r.passed and r.tier <= self.declared]
            return ("%s: declared %s but the evidence supports only %s; "
                    "missing: %s%s" % (self.name, self.declared.label,
                                       verified.label, ", ".join(missing),
                                       self._image_advice()))
        if self.image_command and verified < _TP:
            return ("%s: verified %s; %s also needs an image build of the "
                    "plugin's current hooks%s" % (
                        self.name, verified.label, _TP.label,
                        self._image_advice()))
        return ""


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


def _hook_acts(data):
    """Whether a hook's text holds a command that does something."""
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line in ("true", ":", "exit 0") or line.startswith("set "):
            continue
        return True
    return False


def _shell_syntax(data):
    """Why a shell hook would not parse (``sh -n``/``bash -n``), or
    ``""``; hooks in another language are not checked."""
    import shutil
    import subprocess

    first = data.split(b"\n", 1)[0]
    shell = {b"#!/bin/sh": "sh", b"#!/bin/bash": "bash",
             b"#!/usr/bin/env bash": "bash",
             b"#!/usr/bin/env sh": "sh"}.get(first.strip())
    if shell is None or shutil.which(shell) is None:
        return ""
    try:
        done = subprocess.run([shell, "-n"], input=data, capture_output=True,
                              timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "%s -n timed out" % shell
    if done.returncode == 0:
        return ""
    return done.stderr.decode("utf-8", "replace").strip()[-300:]


def _check_elements(record):
    """The hooks ``trove-guest-image build`` would run, per OS."""
    from trove_core.tools.image import target as image_target

    desc = record.descriptor
    where = "%s (DESCRIPTOR.image.elements)" % desc.image.elements
    names, problems = [], []
    for entry in desc.image.supported_os:
        try:
            found = image_target.resolve(record.name, entry.id,
                                         records=[record])
        except exceptions.TroveError as exc:
            problems.append("%s: %s" % (entry.id, exc))
            continue
        acting = ["%s/%s" % (phase, name)
                  for phase in image_target.PHASES
                  for name, data in found.elements.hooks.get(phase, ())
                  if _hook_acts(data)]
        for phase in image_target.PHASES:
            for name, data in found.elements.hooks.get(phase, ()):
                broken = _shell_syntax(data)
                if broken:
                    problems.append("%s: hook %s/%s would not run: %s"
                                    % (entry.id, phase, name, broken))
        if not acting:
            problems.append(
                "%s: %s holds no hook that installs anything (a README "
                "or an empty hook is not an element); add an executable "
                "install.d/NN-name script that installs the server"
                % (entry.id, found.elements.source))
        names = acting or names
    if problems:
        return False, "; ".join(problems)
    return True, ("%s: hooks %s, as trove-guest-image build bundles them "
                  "for %s (shell syntax checked)" % (
                      where, ", ".join(names),
                      ", ".join(e.id for e in desc.image.supported_os)))


def _check_image(record, directory):
    """Whether an image build ran the plugin's current hooks."""
    from trove_core.tools.image import target as image_target

    desc = record.descriptor
    os_ids = [e.id for e in desc.image.supported_os]
    command = build_command(record.name, os_ids[0] if os_ids else "OS",
                            directory)
    try:
        data = find_image_record(record.name, directory)
    except exceptions.TroveError as exc:
        return False, "%s; rebuild: %s" % (exc, command)
    where = image_record_path(record.name, directory)
    if data is None:
        return False, ("no image record at %s: no image build ran the "
                       "hooks; build one (as root): %s" % (where, command))
    command = build_command(record.name, data["os"], directory)
    if data["datastore"] != record.name:
        return False, "%s is a record of datastore %r; rebuild: %s" % (
            where, data["datastore"], command)
    if data["os"] not in os_ids:
        return False, ("%s: built for %s, which the plugin no longer "
                       "supports (%s); rebuild: %s" % (
                           where, data["os"], ", ".join(os_ids), command))
    failed = ["%s (exit %d)" % (h["hook"], h["exit"]) for h in data["hooks"]
              if h["exit"] != 0]
    if failed or data["result"] != "pass" or data.get(
            "self_check", "pass") != "pass":
        return False, ("%s: the image build of %s failed%s; fix it and "
                       "rebuild: %s" % (
                           where, data["finished"],
                           ": hook " + ", ".join(failed) if failed else
                           " (%s)" % (data.get("reason") or "self-check"),
                           command))
    try:
        found = image_target.resolve(record.name, data["os"],
                                     records=[record])
    except exceptions.TroveError as exc:
        return False, "%s: %s" % (where, exc)
    ran = {h["hook"]: h["sha256"] for h in data["hooks"]}
    stale = []
    for phase in image_target.PHASES:
        for name, body in found.elements.hooks.get(phase, ()):
            hook = "%s/%s" % (phase, name)
            if hook not in ran:
                stale.append("%s did not run" % hook)
            elif ran[hook] != sha256_hex(body):
                stale.append("%s changed since" % hook)
    if stale:
        return False, ("stale image record %s (built %s): %s; rebuild: %s"
                       % (where, data["finished"], "; ".join(stale),
                          command))
    prov = data.get("provenance") or {}
    origin = ("local build" if prov.get("source") != "gate" else
              "%s gate at %s" % (prov.get("ci") or "CI",
                                 (prov.get("commit") or "?")[:12]))
    return True, ("%s: %s %s on %s ran %s (sha256 match the plugin's "
                  "hooks), finished %s, %s" % (
                      where, data["plugin_distribution"],
                      data["plugin_version"], data["os"],
                      ", ".join(h["hook"] for h in data["hooks"]),
                      data["finished"], origin))


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


def _check_gate(report, stale):
    if report is None or stale:
        return False, "no current conformance report"
    if report.gate:
        return True, report.origin()
    where = report.provenance
    if where["source"] == "gate":
        return False, ("%s: this datastore's suites do not vote there "
                       "(scripts/test.sh lists the voting ones in "
                       "TROVE_VOTING_SUITES)" % report.origin())
    return False, ("a local run proves at most technical-preview; stable "
                   "needs the report of the project's CI gate, where the "
                   "datastore's suites vote (scripts/test.sh with CI=true "
                   "writes it)")


#: the kit's hostile-input cases (``trove_guest_base.conformance.hostile``
#: ``CASES``; a unit test keeps both lists equal).
HOSTILE_CASES = ("test_backup_hostile_round_trip",
                 "test_backup_storage_collisions",
                 "test_backup_tenant_lock_bounded",
                 "test_bounded_replies_and_logs",
                 "test_secrets_not_at_rest")


def _check_hostile(report, stale):
    if report is None or stale:
        return False, "no current conformance report"
    results = {}
    for entry in report.capabilities.values():
        for test, outcome in (entry.get("tests") or {}).items():
            results.setdefault(test.split("[")[0], []).append(
                outcome.get("status"))
    missing = [case for case in HOSTILE_CASES if case not in results]
    failed = [case for case in HOSTILE_CASES
              if "fail" in results.get(case, ())]
    if missing or failed:
        return False, "; ".join(filter(None, (
            "failing: %s" % ", ".join(failed) if failed else "",
            "not in the report (rerun the kit of this core): %s"
            % ", ".join(missing) if missing else "")))
    return True, "none failing: %s" % ", ".join(HOSTILE_CASES)


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
    elif not (own.get("live") and report.live):
        live = False, "the report is not live"
    elif not report.gate:
        live = False, ("%s: stable needs the voting suite of the project's "
                       "CI gate" % report.origin())
    else:
        live = True, "live, %s" % report.origin()
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
    reqs.append(_req("hostile", *_check_hostile(report, stale)))
    if os_ids:
        reqs.append(_req("image", *_check_image(record, directory)))
    else:
        reqs.append(_req("image", False, "no supported OS declared"))
    if report is None or stale:
        live = False, "no current conformance report"
    elif report.live:
        live = True, "live run started %s" % report.data.get("started", "?")
    else:
        live = False, ("the report is not live; run the kit against a real "
                       "server")
    reqs.append(_req("live", *live))
    reqs.append(_req("gate", *_check_gate(report, stale)))
    strategies = tuple(_evaluate_strategy(st, report, stale, load_manager,
                                          desc)
                       for st in desc.strategies)
    image_ok = next(r.passed for r in reqs if r.id == "image")
    command = "" if image_ok or not os_ids else build_command(
        record.name, os_ids[0], directory)
    return Evaluation(record.name, desc.tier, tuple(reqs), report, stale,
                      strategies, command)
