"""Which strategies a kit test exercises, and how the outcome is tied to
each strategy in the report.

The backup round trip is parametrized over the backup strategies the
datastore's descriptor declares (``trove_strategy``; ``default`` when it
declares none or the kit cannot tell which datastore it runs); the
replication test exercises the configured ``replication_strategy``. A
test calls :func:`exercise` first: it names the strategy on the test item
for the report (:mod:`.plugin`) and skips, with the reason, a strategy
that cannot run here (refused by the tier policy, or its tool is not
installed: :meth:`~trove_guest_base.backup.BackupStrategy.unavailable`).
"""

import logging

import pytest

from trove_guest_base.conformance import plugin

__all__ = ["declared", "exercise", "params"]

LOG = logging.getLogger(__name__)

_OPTIONS = {"backup": "backup_strategy",
            "replication": "replication_strategy"}


def declared(datastore, kind):
    """The names of ``kind`` strategies ``datastore`` declares, in
    descriptor order; empty when the plugin cannot be found.

    :param datastore: the datastore name, or ``None``.
    :param kind: ``backup`` or ``replication``.
    """
    if not datastore:
        return []
    from trove_core import discovery
    from trove_core import exceptions

    try:
        desc = discovery.find(datastore).descriptor
    except exceptions.TroveError as exc:
        LOG.warning("cannot list the strategies of %s: %s", datastore, exc)
        return []
    return [s.name for s in desc.strategies if s.kind == kind]


def params(cls, kind):
    """``pytest.param`` objects for ``trove_strategy``: one per declared
    strategy of ``kind``, or one ``default`` (``None``)."""
    names = declared(getattr(cls, "datastore", None), kind)
    if not names:
        return [pytest.param(None, id="default")]
    return [pytest.param(name, id=name) for name in names]


def exercise(request, manager, kind, name=None):
    """Name the strategy this test exercises; skip it if it cannot run.

    :param request: the test's ``request``.
    :param manager: the manager under test.
    :param kind: ``backup`` or ``replication``.
    :param name: the strategy, or ``None`` for the configured one.
    :returns: the strategy's name, or ``None`` when unknown.
    """
    from oslo_config import cfg

    from trove_core import exceptions

    if name is None:
        try:
            name = getattr(manager.options, _OPTIONS[kind], None)
        except (AttributeError, LookupError, cfg.Error):
            name = None  # a manager without that option: nothing to name
    request.node.stash[plugin.STRATEGY_KEY] = (kind, name)
    loader = getattr(type(manager), "backup_strategy", None)
    if kind == "backup" and name and callable(loader):
        try:
            strategy = manager.backup_strategy(name)
        except exceptions.TierNotAllowed as exc:
            pytest.skip("cannot run here: %s" % exc)
        reason = strategy.unavailable()
        if reason:
            pytest.skip("cannot run here: %s" % reason)
    return name
