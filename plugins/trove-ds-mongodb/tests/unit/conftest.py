"""Fixtures of the MongoDB plugin's unit tests."""

import getpass
import os

import pytest


@pytest.fixture
def mongo_manager(tmp_path):
    """An unprepared MongoDB manager living in ``tmp_path`` (child runner,
    every path inside the temporary directory)."""
    from trove_guest_base.testing import helpers

    return helpers.make_manager(
        "mongodb", tmp_path, runner="child",
        mount_point=os.fspath(tmp_path / "data"),
        config_file=os.fspath(tmp_path / "etc" / "mongod.conf"),
        log_file=os.fspath(tmp_path / "log" / "mongod.log"),
        backup_storage_root=os.fspath(tmp_path / "backups"),
        port=27999, service_user=getpass.getuser())


@pytest.fixture
def mock_manager(mongo_manager):
    """The manager wired to one mongomock client, with an admin password
    stored as if ``prepare`` had run."""
    import mongomock

    client = mongomock.MongoClient()
    mongo_manager.client_factory = lambda **_kwargs: client
    mongo_manager.store_secret("admin_password", "s3cret-admin-pw")
    return mongo_manager
