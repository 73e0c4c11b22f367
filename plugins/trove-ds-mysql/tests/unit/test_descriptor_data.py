"""The descriptor data this plugin ships (plugin.descriptor.json)."""

from trove_core import descriptordata


class TestDescriptorData:
    def test_shipped_data_is_current(self):
        """The data listings read equals plugin.DESCRIPTOR; regenerate it
        with python -m trove_core.descriptordata
        trove_ds_mysql.plugin:DESCRIPTOR after changing plugin.py."""
        assert descriptordata.check_shipped("mysql") == [
            ("trove_ds_mysql.plugin:DESCRIPTOR", "")]
