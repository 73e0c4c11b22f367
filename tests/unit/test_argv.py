"""The one argv builder every plugin and tool uses: user values never
become options."""

import pytest

from trove_core import exceptions
from trove_guest_base import process

#: Names a tenant can create with plain SQL or a datastore's own API.
HOSTILE = ["--help", "--where=0", "--result-file=/tmp/x", "-e", "-",
           "--", "-rf"]


class TestCommand:
    """process.command puts user values after ``--``."""

    @pytest.mark.parametrize("value", HOSTILE)
    def test_operands_after_double_dash(self, value):
        """Each hostile value is an operand after the end of options."""
        argv = process.command("tool", "--opt", operands=[value, "ok"])
        assert argv == ["tool", "--opt", "--", value, "ok"]

    def test_no_operands_no_double_dash(self):
        """A command without user values ends with its options."""
        assert process.command("tool", "-x") == ["tool", "-x"]

    @pytest.mark.parametrize("value", [
        pytest.param(b"db", id="bytes"),
        pytest.param({"name": "db"}, id="dict"),
        pytest.param("a\0b", id="nul"),
    ])
    def test_bad_operand(self, value):
        """A value that is not a plain string is refused."""
        with pytest.raises(exceptions.BadRequest, match="string"):
            process.command("tool", operands=[value])


class TestOptionValue:
    """process.option_value for tools without ``--``."""

    def test_attached(self):
        """A plain value is attached to its option."""
        assert process.option_value("--username", "bob") == "--username=bob"

    @pytest.mark.parametrize("value", HOSTILE + [""])
    def test_dash_refused(self, value):
        """A value beginning with '-' (or empty) is refused, bounded."""
        with pytest.raises(exceptions.BadRequest, match="begin") as info:
            process.option_value("--tag", value)
        assert info.value.kwargs["reason"]

    def test_long_value_bounded(self):
        """A huge hostile value is not echoed whole."""
        with pytest.raises(exceptions.BadRequest) as info:
            process.option_value("--tag", "-" * 1_000_000)
        assert len(str(info.value)) < 1000
