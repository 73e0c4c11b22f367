"""What each command shows, built from discovery records.

These functions read descriptors and evidence and return
:class:`~trove_core.tools.cli.output.Result` objects; they never print. Only
:func:`check` imports managers, and only through
:func:`trove_core.tools.evidence.evaluate`.
"""

import logging
import os

from trove_core import tiers
from trove_core.tools.cli import output

__all__ = ["check", "list_plugins", "matrix", "show"]

LOG = logging.getLogger(__name__)

UNVERIFIED = "unverified"


def _label(tier):
    return tier.label if tier is not None else UNVERIFIED


def _strategies(desc, policy):
    if desc is None:
        return []
    allowed = policy.allowed  # Tier members: no parsing per strategy
    return [{"name": s.name, "kind": s.kind, "tier": s.tier.label,
             "allowed": s.tier in allowed, "summary": s.summary}
            for s in desc.strategies]


def _topologies(desc, policy):
    """``single`` (every datastore) then its cluster topologies."""
    if desc is None:
        return []
    items = [{"name": "single", "tier": desc.tier.label,
              "allowed": policy.allows(desc.tier) if policy else True,
              "summary": "one instance (every datastore)"}]
    for s in desc.topologies:
        items.append({"name": s.name, "tier": s.tier.label,
                      "allowed": policy.allows(s.tier) if policy else True,
                      "summary": s.summary})
    return items


def _topology_cell(desc):
    names = ["single"] + ["%s (%s)" % (s.name, s.tier.label)
                          for s in desc.topologies]
    return ", ".join(names)


def _strategy_line(strategy):
    return "%s (%s, %s%s)" % (
        strategy["name"], strategy["kind"], strategy["tier"],
        "" if strategy["allowed"] else ", not allowed")


def _reports(evidence_dir):
    """The file names in the evidence directory (one listing instead of
    a ``stat`` per plugin)."""
    try:
        return frozenset(os.listdir(evidence_dir))
    except OSError:
        return frozenset()


def _evidence():
    from trove_core.tools import evidence

    return evidence


def _verified(record, evidence_dir, load_manager=False, reports=None):
    """``(evidence, verified tier label)`` of a record; a plugin without
    a report costs no more than a set lookup when ``reports`` (the
    directory's file names) is given."""
    if not record.ok:
        return None, None
    if reports is None:
        reports = _reports(_evidence().evidence_dir(evidence_dir))
    if record.name + ".json" not in reports:  # nothing above 'unverified'
        return None, UNVERIFIED
    ev = _evidence().evaluate(record, evidence_dir, load_manager=load_manager)
    return ev, _label(ev.verified)


LIST_COLUMNS = ("name", "distribution", "version", "declared tier",
                "verified tier", "allowed", "health", "capabilities",
                "strategies")


def list_plugins(records, policy, evidence_dir=None):
    """The ``list`` view: every plugin, healthy or not.

    What a plugin shows is read with
    :meth:`~trove_core.discovery.PluginRecord.listing`, which leaves a
    descriptor the listing index holds packed as it is; the table and
    CSV rows are built only if one of those formats is asked for.

    :param records: :class:`~trove_core.discovery.PluginRecord` objects.
    :param policy: the :class:`~trove_core.tiers.TierPolicy` in force.
    :param evidence_dir: where conformance reports are read.
    :returns: a :class:`~trove_core.tools.cli.output.Result`.
    """
    from trove_core.tools import evidence

    evidence_dir = evidence.evidence_dir(evidence_dir)
    reports = _reports(evidence_dir)
    allowed = frozenset(t.label for t in policy.allowed)
    data = []
    for rec in records:
        _ev, verified = _verified(rec, evidence_dir, reports=reports)
        shown = rec.listing()
        if shown is not None:
            tier, capabilities, strategies = shown
            strategies = [{"name": name, "kind": kind, "tier": label,
                           "allowed": label in allowed, "summary": summary}
                          for name, kind, label, summary in strategies]
        else:
            tier, capabilities, strategies = None, [], []
        data.append({
            "name": rec.name,
            "distribution": rec.distribution,
            "version": rec.version,
            "declared_tier": tier,
            "verified_tier": verified,
            "allowed": tier in allowed,
            "health": rec.health.value,
            "reason": rec.reason,
            "capabilities": list(capabilities),
            "strategies": strategies,
        })
    title = "allowed tiers: %s" % ", ".join(
        t.label for t in sorted(policy.allowed, reverse=True))
    return output.Result(data, LIST_COLUMNS, lambda: _list_rows(data), title)


def _list_rows(data):
    """The table and CSV rows of the ``list`` view's items."""
    rows = []
    for item in data:
        health = item["health"]
        if item["reason"]:
            health = "%s: %s" % (health, item["reason"])
        rows.append((
            item["name"], item["distribution"], item["version"],
            item["declared_tier"], item["verified_tier"], item["allowed"],
            health, "\n".join(item["capabilities"]) or None,
            "\n".join(_strategy_line(s) for s in item["strategies"])
            or None))
    return rows


def _opts(name, side):
    from trove_core import exceptions
    from trove_core import options

    try:
        groups = options.load_side(name, side)
    except exceptions.PluginError as exc:
        return [], str(exc)
    result = []
    for group, opts in groups:
        gname = getattr(group, "name", group) or "DEFAULT"
        for opt in opts:
            default = opt.default
            if opt.secret and default is not None:
                default = "****"
            result.append({"group": gname, "name": opt.name,
                           "type": type(opt).__name__,
                           "default": default, "secret": bool(opt.secret),
                           "help": opt.help or ""})
    return result, ""


def show(record, policy, evidence_dir=None):
    """The ``show`` view: everything known about one plugin.

    :param record: its :class:`~trove_core.discovery.PluginRecord`.
    :param policy: the :class:`~trove_core.tiers.TierPolicy` in force.
    :param evidence_dir: where conformance reports are read.
    :returns: a :class:`~trove_core.tools.cli.output.Result` with ``field`` and
        ``value`` columns.
    """
    from trove_core import discovery

    desc = record.descriptor
    data = {"name": record.name, "distribution": record.distribution,
            "version": record.version, "entry_point": record.target,
            "health": record.health.value, "reason": record.reason}
    if desc is not None:
        _ev, verified = _verified(record, evidence_dir)
        data.update({
            "summary": desc.summary,
            "declared_tier": desc.tier.label,
            "verified_tier": verified,
            "allowed": policy.allows(desc.tier),
            "plugin_api": desc.plugin_api,
            "capabilities": sorted(desc.capabilities),
            "engine_versions": list(desc.engine_versions),
            "strategies": _strategies(desc, policy),
            "cluster_families": list(desc.cluster_families),
            "topologies": _topologies(desc, policy),
            "supported_os": [{"id": e.id, "packages": list(e.packages)}
                             for e in desc.image.supported_os],
            "service_user": desc.image.service_user,
            "data_dirs": list(desc.image.data_dirs),
            "image_elements": desc.image.elements,
            "driver_modules": list(desc.driver_modules),
            "install_guest": discovery.install_command(record.distribution),
        })
        for side in ("server", "guest"):
            opts, problem = _opts(record.name, side)
            data["%s_options" % side] = opts
            if problem:
                data["%s_options_error" % side] = problem
    rows = []
    for key, value in data.items():
        if key in ("strategies",):
            value = "\n".join("%s: %s" % (_strategy_line(s), s["summary"])
                              for s in value) or None
        elif key == "topologies":
            value = "\n".join("%s (%s%s): %s" % (
                t["name"], t["tier"], "" if t["allowed"] else
                ", not allowed", t["summary"]) for t in value) or None
        elif key == "supported_os":
            value = "\n".join("%s: %s" % (e["id"], ", ".join(e["packages"]))
                              for e in value) or None
        elif key.endswith("_options"):
            value = "\n".join("[%s] %s (%s) = %s%s" % (
                o["group"], o["name"], o["type"], output.flat(o["default"]),
                " (secret)" if o["secret"] else "") for o in value) or None
        elif isinstance(value, list):
            value = "\n".join(str(v) for v in value) or None
        rows.append((key, value))
    return output.Result(data, ("field", "value"), rows)


def matrix(records):
    """The ``matrix`` view: usable datastores by every capability, and
    the topologies each serves.

    :param records: :class:`~trove_core.discovery.PluginRecord` objects;
        unusable ones are left out.
    :returns: a :class:`~trove_core.tools.cli.output.Result`; ``data`` maps a
        datastore to ``{capability: bool, ..., "topologies": [...]}``
        (``single`` first, then each cluster topology as ``{"name",
        "tier"}``).
    """
    from trove_core import capabilities

    caps = list(capabilities.CAPABILITIES)
    data, rows = {}, []
    for rec in records:
        if not rec.ok:
            continue
        desc = rec.descriptor
        have = desc.capabilities
        data[rec.name] = {cap: cap in have for cap in caps}
        data[rec.name]["topologies"] = [
            {"name": t["name"], "tier": t["tier"]}
            for t in _topologies(desc, None)]
        rows.append([rec.name, desc.tier.label]
                    + ["yes" if cap in have else "-" for cap in caps]
                    + [_topology_cell(desc)])
    return output.Result(
        data, tuple(["datastore", "tier"] + caps + ["topologies"]), rows)


#: ``required for`` is the tier that asks for the requirement (and
#: every tier above it), not the plugin's tier.
CHECK_COLUMNS = ("datastore", "declared", "verified", "required for",
                 "requirement", "result", "evidence")


def check(records, evidence_dir=None):
    """The ``check`` view: every tier requirement of each plugin.

    :param records: the records to check (their managers are imported).
    :param evidence_dir: where conformance reports are read.
    :returns: ``(result, evaluations)``; a datastore or strategy whose
        declared tier the evidence does not support has ``supported``
        false. Strategy rows are named ``<datastore>/<strategy>``.
    """
    from trove_core.tools import evidence

    evaluations = [evidence.evaluate(rec, evidence_dir, load_manager=True)
                   for rec in records]
    data, rows = [], []
    for ev in evaluations:
        declared = ev.declared.label if ev.declared else None
        data.append({
            "datastore": ev.name, "declared_tier": declared,
            "verified_tier": _label(ev.verified),
            "supported": ev.supported, "stale": ev.stale or None,
            "advice": ev.advice or None,
            "report": str(ev.report.path) if ev.report else None,
            "provenance": ev.report.provenance if ev.report else None,
            "requirements": [r.as_dict() for r in ev.requirements],
            "strategies": [{
                "name": st.name, "kind": st.kind,
                "declared_tier": st.declared.label,
                "verified_tier": _label(st.verified),
                "supported": st.supported,
                "requirements": [r.as_dict() for r in st.requirements]}
                for st in ev.strategies]})
        for req in ev.requirements:
            rows.append((ev.name, declared, _label(ev.verified),
                         "%s and up" % req.tier.label
                         if req.tier < tiers.Tier.STABLE else req.tier.label,
                         req.id,
                         "pass" if req.passed else "FAIL", req.evidence))
        for st in ev.strategies:
            for req in st.requirements:
                rows.append(("%s/%s" % (ev.name, st.name), st.declared.label,
                             _label(st.verified),
                             "%s and up" % req.tier.label
                             if req.tier < tiers.Tier.STABLE
                             else req.tier.label,
                             "%s %s" % (st.kind, req.id),
                             "pass" if req.passed else "FAIL", req.evidence))
    return output.Result(data, CHECK_COLUMNS, rows), evaluations
