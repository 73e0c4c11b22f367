"""The fixtures a plugin provides, and the ones the kit derives from them.

A plugin's conformance file subclasses
:class:`~trove_guest_base.conformance.suite.DatastoreSuite` (or single
capability classes) and overrides:

``trove_spawn`` (required, class scope)
    A callable; each call returns a new, *unprepared*
    :class:`~trove_guest_base.conformance.probe.Instance` (the plugin's
    own manager and a probe of the same datastore) in its own directory,
    on its own port. All instances of one class must share backup
    storage, so that one restores another's backup. The fixture stops
    them all at teardown.
``trove_override`` (required for ``configuration``)
    A dict of *dynamic* configuration overrides the kit applies and
    reads back through the probe.
``trove_prepare_kwargs`` (optional)
    The keyword arguments of ``prepare`` for spawned instances.

The kit builds ``trove_instance`` (one spawned, prepared instance shared
by the class), ``trove_manager`` and ``trove_probe`` from them; a plugin
may override those too (to reuse a server started elsewhere, say).
"""

import logging
import os

import pytest

from trove_guest_base.conformance import corpus
from trove_guest_base.conformance import plugin

__all__ = ["ConformanceBase", "Sentinel", "all_pages", "tests_of"]

LOG = logging.getLogger(__name__)


def tests_of(capability, when="declared"):
    """Class decorator: tag every ``test_*`` method with ``capability``.

    :param when: ``declared`` (run only when the manager declares the
        capability) or ``undeclared`` (run only when it does not).
    """
    def decorate(cls):
        for name, value in list(vars(cls).items()):
            if name.startswith("test_") and callable(value):
                value.trove_capability = capability
                value.trove_when = when
        return cls
    return decorate


def all_pages(list_operation, **kwargs):
    """Follow ``next_marker`` through every page of a list operation."""
    items, marker = list_operation(**kwargs)
    items = list(items)
    seen = 0
    while marker is not None:
        seen += 1
        if seen > 10000:
            raise AssertionError("pagination does not end")
        page, marker = list_operation(marker=marker, **kwargs)
        items.extend(page)
    return items


class Sentinel:
    """A database, user and marker hostile names try to destroy.

    :param instance: the instance they live on.
    :param capabilities: the declared capabilities (decides what exists).
    """

    PASSWORD = "Sentinel-pass-1"  # noqa: S105 (a test account)

    def __init__(self, manager, probe, capabilities):
        from trove_core import models

        self.manager, self.probe = manager, probe
        self.capabilities = set(capabilities)
        self.marker = None
        if os.path.exists(corpus.CANARY):
            os.unlink(corpus.CANARY)
        if "databases" in self.capabilities:
            manager.create_database([models.Database(
                corpus.SENTINEL_DATABASE)])
        if "users" in self.capabilities:
            dbs = ((models.Database(corpus.SENTINEL_DATABASE),)
                   if {"access", "databases"} <= self.capabilities
                   else ())
            manager.create_user([models.User(
                corpus.SENTINEL_USER, host="%", password=self.PASSWORD,
                databases=dbs)])
        try:
            probe.write_marker("trove_sentinel_marker", "intact")
            self.marker = "intact"
        except NotImplementedError:
            LOG.info("the probe cannot write markers; the sentinel has "
                     "no marker")

    def check(self):
        """Assert that nothing hostile had an effect."""
        assert not os.path.exists(corpus.CANARY), (
            "a hostile name was executed by a shell: %s was created"
            % corpus.CANARY)
        if "databases" in self.capabilities:
            assert self.probe.database_exists(corpus.SENTINEL_DATABASE), (
                "the sentinel database %r is gone: a hostile name was "
                "executed" % corpus.SENTINEL_DATABASE)
        if "users" in self.capabilities:
            assert self.probe.can_login(corpus.SENTINEL_USER,
                                        self.PASSWORD, host="%"), (
                "the sentinel user %r cannot log in any more"
                % corpus.SENTINEL_USER)
        if self.marker is not None:
            assert self.probe.read_marker("trove_sentinel_marker") == \
                self.marker, "the sentinel marker changed"


class ConformanceBase:
    """Abstract fixtures and the capability gate shared by every kit
    class. See the module docstring for what a plugin overrides.

    :cvar datastore: the datastore name; optional, used to label results
        when the instance cannot even start.
    :cvar supports_hosts: whether users have a host part that is stored
        and read back (MySQL); ``False`` skips the hostile host checks.
    """

    datastore = None
    supports_hosts = True

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls):
        """Abstract: the plugin returns a callable giving new unprepared
        instances."""
        raise NotImplementedError(
            "%s must override the 'trove_spawn' fixture: a class-scoped "
            "fixture returning a callable that gives a new, unprepared "
            "trove_guest_base.conformance.Instance(manager, probe)"
            % cls.__name__)

    @pytest.fixture(scope="class")
    @classmethod
    def trove_override(cls):
        """Abstract for ``configuration``: dynamic overrides to apply."""
        raise NotImplementedError(
            "%s declares 'configuration' and must override the "
            "'trove_override' fixture with a dict of dynamic overrides, "
            "e.g. {'max_connections': 321}" % cls.__name__)

    @pytest.fixture(scope="class")
    @classmethod
    def trove_prepare_kwargs(cls):
        """The keyword arguments of ``prepare`` for spawned instances."""
        return {"memory_mb": 512, "packages": [], "databases": [],
                "users": []}

    @pytest.fixture(scope="class")
    @classmethod
    def trove_instance(cls, trove_spawn, trove_prepare_kwargs):
        """One spawned and prepared instance shared by the class."""
        instance = trove_spawn()
        instance.manager.prepare(**trove_prepare_kwargs)
        return instance

    @pytest.fixture(scope="class")
    @classmethod
    def trove_manager(cls, trove_instance):
        """The prepared manager under test."""
        return trove_instance.manager

    @pytest.fixture(scope="class")
    @classmethod
    def trove_probe(cls, trove_instance):
        """The probe of :func:`trove_manager`'s datastore."""
        return trove_instance.probe

    @pytest.fixture(scope="class")
    @classmethod
    def trove_sentinel(cls, trove_manager, trove_probe):
        """What hostile names must not destroy."""
        return Sentinel(trove_manager, trove_probe,
                        trove_manager.capabilities())

    def pytest_generate_tests(self, metafunc):
        """Parametrize ``trove_strategy`` over the declared strategies of
        the test's (or its class's) ``trove_strategy_kind`` (see
        :mod:`.strategies`)."""
        if "trove_strategy" not in metafunc.fixturenames:
            return
        from trove_guest_base.conformance import strategies

        kind = plugin._strategy_kind(metafunc.function, metafunc.cls)
        metafunc.parametrize("trove_strategy",
                             strategies.params(metafunc.cls, kind))

    @pytest.fixture(autouse=True)
    def _trove_gate(self, request):
        """Run a kit test only when its capability is (un)declared.

        When the instance cannot be had (the plugin's spawn fixture
        skipped: no server here), pytest skips the test before this runs,
        with that reason; the report takes what the datastore declares
        from its plugin then (:mod:`.plugin`).
        """
        capability = getattr(request.function, "trove_capability", None)
        if capability is None:
            return
        manager = request.getfixturevalue("trove_manager")
        probe = request.getfixturevalue("trove_probe")
        name = getattr(manager, "name", None) or self.datastore
        request.node.stash[plugin.DATASTORE_KEY] = name
        plugin.collector(request.config).describe(name, manager, probe)
        declared = capability in manager.capabilities()
        when = getattr(request.function, "trove_when", "declared")
        if when == "declared" and not declared:
            pytest.skip("not declared")
        if when == "undeclared" and declared:
            pytest.skip("declared; its own tests cover it")
