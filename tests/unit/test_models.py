"""Trove payload shapes, identifier checks and paging."""

import pytest

from trove_core import exceptions
from trove_core import models
from trove_core.models import Database
from trove_core.models import User


class TestDatabase:
    def test_round_trip(self):
        """Trove's dict becomes a model and back, unchanged."""
        wire = {"_name": "db1", "_character_set": "utf8mb4",
                "_collate": "utf8mb4_general_ci"}
        assert Database.from_trove(wire).to_trove() == wire

    def test_plain_name_and_unprefixed_keys(self):
        """A bare name or unprefixed keys are accepted too."""
        assert Database.from_trove("db").name == "db"
        assert Database.from_trove({"name": "db"}).character_set is None

    @pytest.mark.parametrize("payload, match", [
        pytest.param({"_name": 5}, "must be str, got int", id="int-name"),
        pytest.param({}, "missing 'name'", id="no-name"),
        pytest.param(["db"], "must be a mapping", id="list"),
        pytest.param({"_name": "a", "_collate": ["x"]}, "'collate'",
                     id="list-collate"),
    ])
    def test_wrong_types(self, payload, match):
        """Wrong shapes are BadRequest naming the field."""
        with pytest.raises(exceptions.BadRequest, match=match):
            Database.from_trove(payload)


class TestUser:
    def test_round_trip_hides_password(self):
        """A user's password never leaves unless asked for."""
        user = User.from_trove({"_name": "u", "_password": "pw",
                                "_host": "%", "_databases": [{"_name": "d"}],
                                "_is_root": False})
        assert user.databases == (Database("d"),)
        assert user.to_trove()["_password"] is None
        assert user.to_trove(with_password=True)["_password"] == "pw"
        assert "pw" not in repr(user)
        assert user.key == "u@%"

    @pytest.mark.parametrize("payload, match", [
        pytest.param({"_name": "u", "_password": 1}, "'password'",
                     id="int-password"),
        pytest.param({"_name": "u", "_databases": "d"}, "'databases'",
                     id="string-databases"),
        pytest.param({"_name": "u", "_is_root": "yes"}, "'is_root'",
                     id="string-root"),
        pytest.param("u", "must be a mapping", id="bare-string"),
    ])
    def test_wrong_types(self, payload, match):
        """Wrong shapes are BadRequest naming the field."""
        with pytest.raises(exceptions.BadRequest, match=match):
            User.from_trove(payload)


class TestCheckName:
    @pytest.mark.parametrize("value, reason", [
        pytest.param("", "empty", id="empty"),
        pytest.param("a" * 65, "65 characters long", id="too-long"),
        pytest.param("a\x00b", "NUL", id="nul"),
        pytest.param("a\nb", "control", id="newline"),
        pytest.param(7, "expected a string", id="int"),
    ])
    def test_rejected(self, value, reason):
        """Names no datastore accepts are refused with the reason."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match=reason) as info:
            models.check_name("database", value)
        assert info.value.kind == "database"

    @pytest.mark.parametrize("value", ["db", "x'; DROP TABLE t; --",
                                       "ünïcödé", "a`b", "a" * 64])
    def test_accepted_as_given(self, value):
        """Odd but printable names pass the shared checks unchanged."""
        assert models.check_name("database", value) == value


    def test_forbidden_characters_all_named(self):
        """Every forbidden character present is named, with the engine's
        rule."""
        with pytest.raises(exceptions.InvalidIdentifier) as info:
            models.check_name("database", "a.b/c.d", forbidden="/\\.",
                              engine="MySQL")
        assert str(info.value).endswith(
            "it contains '.' '/'; MySQL database names cannot contain "
            "'/' '\\\\' '.'")
        assert models.check_name("database", "a-b", forbidden="/.") == "a-b"


class TestPaginate:
    items = [Database(n) for n in ("c", "a", "d", "b")]

    def test_pages_by_name(self):
        """Items come sorted, with the marker of the last one shown."""
        page, marker = models.paginate(self.items, limit=2)
        assert [i.name for i in page] == ["a", "b"] and marker == "b"
        page, marker = models.paginate(self.items, limit=2, marker=marker)
        assert [i.name for i in page] == ["c", "d"] and marker is None

    def test_include_marker(self):
        """include_marker keeps the item equal to the marker."""
        page, _ = models.paginate(self.items, marker="b",
                                  include_marker=True)
        assert [i.name for i in page] == ["b", "c", "d"]

    @pytest.mark.parametrize("limit", [0, -1, "2", True, 1.5])
    def test_bad_limit(self, limit):
        """A limit that is not a positive integer is BadRequest."""
        with pytest.raises(exceptions.BadRequest, match="limit must be"):
            models.paginate(self.items, limit=limit)


class TestGuestId:
    @pytest.mark.parametrize("value", [
        pytest.param("x_fanout", id="underscore"),
        pytest.param("a.b", id="dot"),
        pytest.param("", id="empty"),
        pytest.param("-lead", id="leading-dash"),
        pytest.param("a" * 129, id="too-long"),
        pytest.param(None, id="none"),
    ])
    def test_rejected(self, value):
        """Ids that would name another guest's topic or queues fail."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="letters, digits or '-'"):
            models.check_guest_id(value)

    def test_uuid_accepted(self):
        """An instance UUID is a guest id, and the RPC and broker layers
        share the rule."""
        from trove_core import rpc
        from trove_core.security import keys

        uuid = "8f14e45f-ceea-467f-a0e6-1a3c2b1f9d2e"
        assert models.check_guest_id(uuid) == uuid
        assert rpc.guest_topic(uuid) == "guestagent." + uuid
        assert keys.check_instance_id(uuid) == uuid
        with pytest.raises(exceptions.InvalidIdentifier):
            rpc.guest_topic("x_fanout")


class TestLazyFacade:
    def test_names_resolve_on_use_only(self):
        """A lazy package imports a submodule only when its name is used."""
        import subprocess
        import sys

        code = ("import sys, trove_core\n"
                "before = 'trove_core.tiers' in sys.modules\n"
                "trove_core.Tier\n"
                "print(before, 'trove_core.tiers' in sys.modules, "
                "'Tier' in dir(trove_core))\n")
        out = subprocess.run([sys.executable, "-c", code], check=True,
                             capture_output=True, text=True).stdout
        assert out.split() == ["False", "True", "True"]

    def test_unknown_name(self):
        """An unknown name is an AttributeError naming the package."""
        import trove_core

        with pytest.raises(AttributeError,
                           match="module 'trove_core' has no attribute"):
            trove_core.no_such_name  # noqa: B018 (lookup is the test)
