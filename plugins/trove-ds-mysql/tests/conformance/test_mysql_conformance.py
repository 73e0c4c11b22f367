"""The MySQL plugin against the conformance kit, live: real MariaDB
servers started through the plugin's own prepare."""

import pytest

from trove_guest_base import testing
from trove_ds_mysql import testing as mysql_testing
from trove_guest_base import conformance

pytestmark = pytest.mark.mariadb

_MISSING = mysql_testing.missing_binaries()
if _MISSING:
    pytest.skip("MariaDB programs not installed: %s; the MySQL conformance "
                "kit starts its own servers" % _MISSING,
                allow_module_level=True)


class TestMySQLConformance(conformance.DatastoreSuite):
    """Real MariaDB servers started through the plugin's prepare."""

    datastore = "mysql"

    @pytest.fixture(scope="class")
    @classmethod
    def trove_spawn(cls, tmp_path_factory):
        """New servers on free ports sharing one backup storage."""
        with testing.Spawner("mysql", tmp_path_factory.mktemp("mysql"),
                             mysql_testing.MySQLProbe,
                             options=mysql_testing.spawner_options) as spawn:
            yield spawn

    @pytest.fixture(scope="class")
    @classmethod
    def trove_override(cls):
        """Dynamic overrides of the plugin's schema."""
        return {"max_connections": 321, "wait_timeout": 1234}
