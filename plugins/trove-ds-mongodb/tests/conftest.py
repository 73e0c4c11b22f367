"""Fixtures of the MongoDB plugin's live tests."""

import pytest

from trove_ds_mongodb import testing


@pytest.fixture(scope="session")
def mongod_target():
    """``("binary", path)`` or ``("url", url)`` from TROVE_TEST_MONGOD;
    skips, saying so, when it is unset."""
    try:
        target = testing.live_target()
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    if target is None:
        pytest.skip("%s is not set: set it to a mongod binary path or a "
                    "mongodb:// URL to run the live MongoDB tests"
                    % testing.ENV_VAR)
    return target


@pytest.fixture(scope="session")
def mongod_binary(mongod_target):
    """The mongod binary of TROVE_TEST_MONGOD; skips for a URL."""
    kind, value = mongod_target
    if kind != "binary":
        pytest.skip("%s is a URL; this test starts its own servers and "
                    "needs a mongod binary path" % testing.ENV_VAR)
    return value
