"""Fixtures of the Cassandra plugin's unit tests."""

import getpass
import os

import pytest


def _make(directory, **overrides):
    from trove_guest_base.testing import helpers

    directory.mkdir(parents=True, exist_ok=True)
    values = dict(
        runner="child", mount_point=os.fspath(directory / "mnt"),
        config_file=os.fspath(directory / "etc" / "cassandra.yaml"),
        backup_storage_root=os.fspath(directory.parent / "backups"),
        bind_address="127.0.0.1", port=19042, storage_port=17000,
        jmx_port=17199, service_user=getpass.getuser())
    values.update(overrides)
    return helpers.make_manager("cassandra", directory, **values)


@pytest.fixture
def cass_manager(tmp_path):
    """An unprepared Cassandra manager living in ``tmp_path`` (child
    runner, every path inside the temporary directory)."""
    return _make(tmp_path / "node1")


@pytest.fixture
def make_cass_manager(tmp_path):
    """A factory of more managers sharing one backup storage root."""
    return lambda name, **overrides: _make(tmp_path / name, **overrides)
