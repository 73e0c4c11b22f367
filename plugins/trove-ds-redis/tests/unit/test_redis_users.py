"""Unit tests of the ACL name checks and the user/access mapping."""

import hashlib

import pytest

from trove_core import exceptions
from trove_ds_redis import users

HOSTILE_USER_NAMES = [
    pytest.param(">secret", id="password-rule"),
    pytest.param("<secret", id="remove-password-rule"),
    pytest.param("~*", id="key-pattern"),
    pytest.param("%RW~*", id="key-permission"),
    pytest.param("&*", id="channel-pattern"),
    pytest.param("+@all", id="allow-commands"),
    pytest.param("-@all", id="deny-commands"),
    pytest.param("#abc", id="hash-rule"),
    pytest.param("!abc", id="remove-hash-rule"),
    pytest.param("a b", id="space"),
    pytest.param("a\tb", id="tab"),
    pytest.param("(~* +@all)", id="selector"),
    pytest.param("", id="empty"),
    pytest.param("x" * 65, id="too-long"),
    pytest.param("a*", id="glob"),
]


class TestUserNames:
    """check_user_name keeps ACL rules out of user names."""

    @pytest.mark.parametrize("name", HOSTILE_USER_NAMES)
    def test_refuses_names_acl_could_read_as_rules(self, name):
        """Names with rule prefixes, spaces or globs are refused."""
        with pytest.raises(exceptions.InvalidIdentifier) as info:
            users.check_user_name(name)
        assert info.value.kind == "user"
        assert info.value.value == name

    @pytest.mark.parametrize("name", [
        pytest.param("app_user", id="underscore"),
        pytest.param("svc.reader-1", id="dot-dash"),
        pytest.param("me@example.org", id="at"),
    ])
    def test_accepts_plain_names(self, name):
        """Ordinary names pass unchanged."""
        assert users.check_user_name(name) == name

    def test_refuses_reserved_names(self):
        """The guest's own users cannot be managed as Trove users."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="reserved") as info:
            users.check_user_name("os_admin", reserved={"os_admin"})
        assert info.value.value == "os_admin"


class TestDatabases:
    """Trove databases are key namespaces."""

    @pytest.mark.parametrize("name", [
        pytest.param("*", id="star"), pytest.param("a?", id="question"),
        pytest.param("a[b]", id="bracket"), pytest.param("a:b", id="colon"),
        pytest.param("a b", id="space"), pytest.param("~x", id="tilde"),
    ])
    def test_refuses_glob_and_rule_characters(self, name):
        """A namespace name cannot widen its key pattern."""
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="key namespace") as info:
            users.check_database_name(name)
        assert info.value.kind == "database"

    def test_access_rules_are_key_and_channel_patterns(self):
        """Access to 'app' is ~app:* and &app:*."""
        assert users.access_rules(["app", "b"]) == [
            "~app:*", "&app:*", "~b:*", "&b:*"]

    def test_databases_of_reads_only_namespace_patterns(self):
        """Patterns not set by the guest are not reported as databases."""
        reply = {"keys": "~app:* ~*raw* %R~logs:* ~b.c:*"}
        assert users.databases_of(reply) == ["app", "b.c"]

    def test_user_rules_reset_first(self):
        """A new user's rules start from reset so nothing is inherited."""
        rules = users.user_rules("pw", ["app"])
        assert rules[:3] == ["reset", "on", "#" + hashlib.sha256(
            b"pw").hexdigest()]
        assert not any("pw" == r.lstrip(">") for r in rules)
        assert rules[-2:] == ["~app:*", "&app:*"]


class TestHostsAndPasswords:
    """Hosts and passwords."""

    def test_only_any_host(self):
        """Redis users have no host; only '%' is accepted."""
        assert users.check_host(None) == "%"
        with pytest.raises(exceptions.InvalidIdentifier,
                           match="cannot be limited") as info:
            users.check_host("10.0.0.1")
        assert info.value.kind == "host"

    @pytest.mark.parametrize("password", [
        pytest.param(None, id="missing"), pytest.param("", id="empty"),
        pytest.param("a\nb", id="newline"),
    ])
    def test_refuses_unusable_passwords(self, password):
        """Empty passwords and line breaks are refused."""
        with pytest.raises(exceptions.BadRequest, match="password"):
            users.check_password(password)
