"""TLS with a certificate the control plane sends (ssl_show,
ssl_action, ssl_rollback), against a live server."""

import pymysql
import pytest

from trove_core import exceptions
from trove_core.status import ServiceStatus
from trove_guest_base.testing import certs

pytestmark = pytest.mark.mariadb


@pytest.fixture(scope="module")
def server(make_manager):
    """A server of its own: these tests restart it."""
    manager = make_manager("tls")
    manager.prepare(memory_mb=None, packages=[], databases=[], users=[])
    manager.enable_root_with_password("Tls-root-pw-1")
    return manager


def _cipher(manager, tmp_path, container):
    ca = tmp_path / "ca.pem"
    ca.write_text(container["ca"])
    conn = pymysql.connect(host="127.0.0.1", port=manager.options.port,
                           user="root", password="Tls-root-pw-1",
                           ssl_ca=str(ca), ssl_verify_cert=True,
                           ssl_verify_identity=False, connect_timeout=10)
    with conn, conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        return cur.fetchone()[1]


class TestTLS:
    """Enable, show, refuse plain clients, roll back."""

    def test_off_at_first(self, server):
        """A new server shows TLS off."""
        assert server.ssl_show() == {"status": "off"}

    def test_enable_enforced_then_rollback(self, server, tmp_path):
        """The sent certificate serves verified TLS after the restart,
        plain clients are refused in 'enforced' mode, ssl_show gives
        Trove's details, and a rollback turns it off again."""
        container = certs.make_container("db.test")
        assert server.ssl_action(mode="enforced", container=container,
                                 enable=True) == {"restart_required": True}
        assert server.status is ServiceStatus.RESTART_REQUIRED
        server.restart()
        assert server.status is ServiceStatus.HEALTHY
        assert _cipher(server, tmp_path, container)
        with server.server.admin() as cur:
            cur.execute("SELECT @@require_secure_transport")
            assert cur.fetchone() == (1,)
        # MariaDB answers a plain login then with 1045 or 4151
        with pytest.raises(pymysql.err.OperationalError,
                           match="1045|4151|insecure"):
            pymysql.connect(host="127.0.0.1", port=server.options.port,
                            user="root", password="Tls-root-pw-1",
                            ssl_disabled=True, connect_timeout=10)
        shown = server.ssl_show()
        assert shown["status"] == "on" and shown["mode"] == "enforced"
        assert shown["certificate"]["cn"] == "db.test"
        assert shown["certificate"]["payload"] == container["certificate"]
        assert "DNS:db.test" in shown["certificate"]["san"]
        result = server.ssl_rollback()
        assert result["restart_required"] and result["status"] == "off"
        server.restart()
        assert server.ssl_show() == {"status": "off"}

    @pytest.mark.parametrize("kwargs, match", [
        pytest.param({"mode": "basic", "enable": True, "container": {
            "certificate": "nonsense", "private_key": "x"}},
            "PEM data", id="not-pem"),
        pytest.param({"mode": "basic", "enable": True, "container": {}},
                     "lacks", id="empty"),
        pytest.param({"mode": "mtls", "enable": True, "container": None},
                     "'mtls' is not supported", id="mtls"),
        pytest.param({"mode": "basic", "enable": True, "disable": True,
                      "container": None}, "exactly one", id="both"),
    ])
    def test_bad_requests_change_nothing(self, server, kwargs, match):
        """A bad container, mode or switch is refused; the server keeps
        running as it was."""
        with pytest.raises(exceptions.BadRequest, match=match):
            server.ssl_action(**kwargs)
        assert server.refresh_status() is ServiceStatus.HEALTHY

    def test_key_of_another_certificate(self, server):
        """A private key that does not match is refused."""
        one, other = certs.make_container(), certs.make_container()
        with pytest.raises(exceptions.BadRequest, match="does not belong"):
            server.ssl_action(mode="basic", enable=True, container=dict(
                one, private_key=other["private_key"]))
