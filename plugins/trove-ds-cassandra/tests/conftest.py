"""Fixtures of the Cassandra plugin's live tests."""

import pytest

from trove_ds_cassandra import testing


@pytest.fixture(scope="session")
def cassandra_target():
    """``("binary", path)`` or ``("address", {...})`` from
    TROVE_TEST_CASSANDRA; skips, saying so, when it is unset."""
    try:
        target = testing.live_target()
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    if target is None:
        pytest.skip("%s is not set: set it to a cassandra launcher path or "
                    "[user:password@]host:port to run the live Cassandra "
                    "tests" % testing.ENV_VAR)
    return target


@pytest.fixture(scope="session")
def cassandra_binary(cassandra_target):
    """The launcher of TROVE_TEST_CASSANDRA; skips for an address."""
    kind, value = cassandra_target
    if kind != "binary":
        pytest.skip("%s is an address; this test starts its own nodes and "
                    "needs a cassandra launcher path" % testing.ENV_VAR)
    return value
