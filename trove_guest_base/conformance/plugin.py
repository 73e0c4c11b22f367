"""pytest plugin of the conformance kit (registered through ``pytest11``).

pytest loads it in every run of every project that has trove-core
installed, so it imports nothing but pytest at module level and does
nothing unless kit tests run. It adds ``--trove-report PATH``, records the
outcome of every kit test by capability, and writes the reports at the
end of the session (see :mod:`trove_guest_base.conformance.report`).
"""

import pytest

#: set by the kit on each test item: the datastore it exercises.
DATASTORE_KEY = pytest.StashKey()
#: set by the kit on a test item that exercises one strategy:
#: ``(kind, name)``.
STRATEGY_KEY = pytest.StashKey()
_COLLECTOR_KEY = pytest.StashKey()
_WRITTEN_KEY = pytest.StashKey()


def pytest_addoption(parser):
    """Add ``--trove-report``."""
    group = parser.getgroup("trove", "trove-core conformance kit")
    group.addoption(
        "--trove-report", metavar="PATH", default=None,
        help="write the conformance report (JSON, schema 1) here; "
             "'{datastore}' in PATH is replaced by the datastore name. "
             "$TROVE_EVIDENCE_DIR, when set, also receives "
             "<datastore>.json.")


def _capability(item):
    return getattr(getattr(item, "function", None), "trove_capability",
                   None)


def collector(config):
    """Return the session's report collector, creating it on first use."""
    found = config.stash.get(_COLLECTOR_KEY, None)
    if found is None:
        from trove_guest_base.conformance import report

        found = config.stash[_COLLECTOR_KEY] = report.ReportCollector()
    return found


def pytest_deselected(items):
    """A report missing deselected kit tests is marked partial."""
    for item in items:
        if _capability(item):
            collector(item.config).partial = True
            return


def _datastore(item):
    name = item.stash.get(DATASTORE_KEY, None)
    if name:
        return name
    return getattr(getattr(item, "cls", None), "datastore", None) or \
        "unknown"


def _reason(report, call):
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if call.excinfo is not None:
        exc = call.excinfo.value
        return ("%s: %s" % (type(exc).__name__, exc))[:500]
    return str(report.longrepr)[:500]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each kit test's outcome under its capability."""
    report = yield
    capability = _capability(item)
    if capability is None:
        return report
    if report.when == "call" or not report.passed:
        if report.passed:
            status = "pass"
        elif report.skipped:
            status = "skip"
        else:
            status = "fail"
        found = collector(item.config)
        name = _datastore(item)
        run = found.run(name)
        if not run.meta and name != "unknown":
            # the instance never came up (the spawn fixture skipped or
            # failed): what the datastore declares comes from its plugin
            found.describe(name)
        reason = "" if status == "pass" else _reason(report, call)
        run.note(capability, item.name, status, reason)
        strategy = _strategy(item)
        if strategy is not None:
            run.note_strategy(strategy[0], strategy[1], status, reason)
    return report


def _strategy(item):
    """``(kind, name)`` of the strategy ``item`` exercises, or ``None``."""
    found = item.stash.get(STRATEGY_KEY, None)
    if found is not None:
        return found if found[1] else None
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("trove_strategy") if callspec else None
    if not name:
        return None
    return (_strategy_kind(item.function, item.cls), name)


def _strategy_kind(function, cls):
    """The strategy kind a test exercises: its own
    ``trove_strategy_kind``, else its class's, else ``backup`` (a suite
    class mixes tests of several kinds)."""
    return (getattr(function, "trove_strategy_kind", None)
            or getattr(cls, "trove_strategy_kind", "backup"))


def pytest_sessionfinish(session, exitstatus):
    """Write the reports of the datastores this session exercised."""
    found = session.config.stash.get(_COLLECTOR_KEY, None)
    if found is None or not found.runs:
        return
    if session.shouldstop or session.shouldfail:
        found.partial = True
    paths = found.write(session.config.getoption("trove_report"))
    session.config.stash[_WRITTEN_KEY] = paths


def pytest_terminal_summary(terminalreporter, config):
    """Say where the reports went."""
    for path in config.stash.get(_WRITTEN_KEY, ()):
        terminalreporter.write_line("trove conformance report: %s" % path)
