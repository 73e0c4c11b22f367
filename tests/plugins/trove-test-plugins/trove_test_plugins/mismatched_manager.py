"""A manager that declares IUsers but implements it only in part."""

from zope.interface import implementer

from trove_core import capabilities
from trove_test_plugins import good_manager


@implementer(capabilities.IUsers)
class Manager(good_manager.Manager):
    """Has create_user with the wrong arguments and no list_users."""

    def create_user(self, users, extra):
        raise AssertionError("never called")

    def get_user(self, username, hostname):
        return None

    def delete_user(self, user):
        return None

    def change_passwords(self, users):
        return None

    def update_attributes(self, username, hostname, user_attrs):
        return None
