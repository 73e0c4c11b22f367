"""TLS with a certificate the control plane sends (ssl_show,
ssl_action, ssl_rollback), against a live Redis."""

import pytest

from trove_core import exceptions
from trove_core.status import ServiceStatus
from trove_guest_base.testing import certs

pytestmark = pytest.mark.redis


def _plain_ping(mgr):
    import redis

    client = redis.Redis(host="127.0.0.1", port=mgr.options.port,
                         username="os_admin",
                         password=mgr.load_secret("admin_password"),
                         socket_timeout=5, socket_connect_timeout=5)
    return client.ping()


class TestRedisTLS:
    """Enable, serve, show, refuse plain clients, roll back."""

    def test_enable_show_rollback(self, make, tmp_path):
        """After the restart the port speaks TLS only, verified against
        the sent CA; ssl_show gives Trove's details; a rollback brings
        the plain port back."""
        import redis

        mgr = make("tls")
        mgr.prepare(memory_mb=128, packages=[], databases=[], users=[])
        assert mgr.ssl_show() == {"status": "off"}
        container = certs.make_container("cache.test")
        assert mgr.ssl_action(mode="enforced", container=container,
                              enable=True) == {"restart_required": True}
        assert mgr.refresh_status() is ServiceStatus.RESTART_REQUIRED
        mgr.restart()
        assert mgr.refresh_status() is ServiceStatus.RUNNING
        ca = tmp_path / "ca.pem"
        ca.write_text(container["ca"])
        client = redis.Redis(host="127.0.0.1", port=mgr.options.port,
                             username="os_admin",
                             password=mgr.load_secret("admin_password"),
                             ssl=True, ssl_ca_certs=str(ca),
                             ssl_check_hostname=False, socket_timeout=5)
        assert client.ping()
        with pytest.raises(redis.ConnectionError):
            _plain_ping(mgr)
        client.set("over-tls", "1")
        backup = mgr.create_backup({"id": "tls-backup"})
        meta = mgr.backup_storage().metadata(backup.location)
        assert meta["source"] == "sync"  # the snapshot came over TLS
        shown = mgr.ssl_show()
        assert shown["status"] == "on" and shown["mode"] == "enforced"
        assert shown["certificate"]["cn"] == "cache.test"
        result = mgr.ssl_rollback()
        assert result["status"] == "off" and result["restart_required"]
        mgr.restart()
        assert _plain_ping(mgr)
        assert mgr.ssl_show() == {"status": "off"}

    @pytest.mark.parametrize("kwargs, match", [
        pytest.param({"mode": "basic", "enable": True,
                      "container": "made below"},
                     "'basic' is not supported", id="basic"),
        pytest.param({"mode": "enforced", "enable": True, "container": {
            "certificate": "nonsense", "private_key": "x"}},
            "PEM data", id="not-pem"),
        pytest.param({"mode": "enforced", "enable": False,
                      "container": None}, "exactly one", id="neither"),
    ])
    def test_bad_requests_change_nothing(self, prepared, kwargs, match):
        """A mode Redis cannot serve, a bad container or no switch is
        refused; the server keeps running plain."""
        if kwargs["container"] == "made below":
            kwargs = dict(kwargs, container=certs.make_container())
        with pytest.raises(exceptions.BadRequest, match=match):
            prepared.ssl_action(**kwargs)
        assert prepared.refresh_status() is ServiceStatus.RUNNING
        assert _plain_ping(prepared)

    def test_cluster_member_refused(self, make):
        """A Redis Cluster member refuses TLS (its bus and peers would
        need it too) and keeps serving plain."""
        mgr = make("tls-cluster")
        mgr.prepare(memory_mb=128, packages=[], databases=[], users=[],
                    cluster_config={"id": "c1", "instance_type": "member"})
        with pytest.raises(exceptions.BadRequest, match="Cluster member"):
            mgr.ssl_action(mode="enforced",
                           container=certs.make_container(), enable=True)
        assert mgr.ssl_show() == {"status": "off"}
        assert _plain_ping(mgr)
