"""Registering a built guest with a real Trove 26 control plane.

``trove-guest-image register`` / ``activate`` / ``deactivate`` drive the
real ``trove-manage`` of trove==26.0.0 (the virtualenv named by
``TROVE26_PYTHON``, as in test_guest_trove26.py) against a throwaway
Trove database (sqlite, made by ``trove-manage db_sync`` with a
temporary trove.conf). What Trove's API would then serve is read back
with Trove's own models and views, in Trove's interpreter, by this test
(not by the tool's own reader).
"""

import json
import os
import pathlib
import shlex
import shutil
import sqlite3
import subprocess

import pytest

from trove_core.tools.image import build
from trove_core.tools.image import cli
from trove_core.tools.image import errors
from trove_core.tools.image import register
from trove_core.tools.image import wheels

pytestmark = [pytest.mark.slow]

IMAGE = "3f1e9c52-7a0d-4b8e-9a51-2c6d1e0f4a77"

#: The datastore as Trove's API serves it: its view for a user (active
#: versions only) and for an administrator (every version, with image,
#: packages and active flag), rendered by Trove's own view classes.
_API = r"""
import json
import sys

from trove.common import cfg
from trove.common import wsgi
from trove.common.context import TroveContext

cfg.CONF(args=["--config-file", sys.argv[1]], project="trove",
         default_config_files=[])
from trove.db import get_db_api

get_db_api().configure_db()
from trove.common import exception
from trove.datastore import models
from trove.datastore import views

out = {}
for who, admin in (("user", False), ("admin", True)):
    req = wsgi.Request.blank("http://trove.test:8779/v1.0/t/datastores")
    req.environ[wsgi.CONTEXT_KEY] = TroveContext(is_admin=admin)
    ds = models.Datastore.load(sys.argv[2])
    versions = models.DatastoreVersions.load(ds.id, only_active=not admin)
    out[who] = views.DatastoreView(ds, versions, req).data()["datastore"]
    out[who + "_versions"] = [
        views.DatastoreVersionView(v, req).data()["version"]
        for v in versions]
from trove.configuration import models as cmodels

out["parameters"] = {
    v["name"]: {p.name: [p.data_type, p.restart_required, p.min_size,
                         p.max_size]
                for p in cmodels.DatastoreConfigurationParameters
                .load_parameters(v["id"])}
    for v in out["admin_versions"]}
try:
    _ds, dv = models.get_datastore_version(type=sys.argv[2])
    out["create_uses"] = [dv.name, dv.version]
except exception.TroveError as exc:
    out["create_uses"] = str(exc)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def trove26():
    """``(python, trove-manage)`` of the trove==26.0.0 virtualenv."""
    python = os.environ.get("TROVE26_PYTHON")
    if not python or not os.access(python, os.X_OK):
        reason = ("set TROVE26_PYTHON to the python of a virtualenv with "
                  "trove==26.0.0 (scripts/test.sh builds .venv-trove26) "
                  "to run the trove-manage registration tests")
        print("SKIP:", reason)
        pytest.skip(reason)
    manage = pathlib.Path(python).parent / "trove-manage"
    if not os.access(manage, os.X_OK):
        pytest.skip("%s has no trove-manage next to it" % python)
    return python, str(manage)


@pytest.fixture(scope="module")
def synced_db(trove26, tmp_path_factory):
    """A Trove database made once by ``trove-manage db_sync``."""
    where = tmp_path_factory.mktemp("trove-db")
    conf = _conf(where)
    proc = subprocess.run([trove26[1], "--config-file", str(conf),
                           "db_sync"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (where / "trove.sqlite").is_file()
    return where / "trove.sqlite"


def _conf(where):
    conf = where / "trove.conf"
    conf.write_text("[DEFAULT]\n[database]\nconnection = sqlite:///%s\n"
                    % (where / "trove.sqlite"))
    return conf


@pytest.fixture
def trove_conf(synced_db, tmp_path):
    """A fresh copy of the synced database and its trove.conf."""
    shutil.copy2(synced_db, tmp_path / "trove.sqlite")
    return _conf(tmp_path)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A real Redis guest bundle (built once)."""
    if shutil.which("git") is None:
        pytest.skip("building wheels of this source tree needs git")
    source = wheels.find_source("trove-core")
    if source is None:
        pytest.skip("trove-core is not installed from a source tree")
    scratch = tmp_path_factory.mktemp("register-bundle")
    core = wheels.build_project_wheel(source, scratch / "core",
                                      "trove-core")
    out = scratch / "redis"
    build.build("redis", out, os_id="debian-12", prebuilt=[core],
                progress=build.Progress(6, quiet=True))
    return out


def _api(trove26, conf, datastore="redis"):
    proc = subprocess.run([trove26[0], "-I", "-c", _API, str(conf),
                           datastore], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rows(conf):
    db = sqlite3.connect(conf.parent / "trove.sqlite")
    try:
        return {
            "datastores": db.execute(
                "SELECT name, default_version_id FROM datastores "
                "ORDER BY name").fetchall(),
            "versions": db.execute(
                "SELECT name, version, manager, image_id, image_tags, "
                "packages, active FROM datastore_versions "
                "ORDER BY name, version").fetchall(),
            "parameters": db.execute(
                "SELECT COUNT(*) FROM datastore_configuration_parameters"
            ).fetchone()[0]}
    finally:
        db.close()


def _main(capsys, trove26, conf, *argv):
    code = cli.main([*argv, "--config-file", str(conf),
                     "--trove-manage", trove26[1]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_register_and_activate_serve_the_version(trove26, trove_conf,
                                                 bundle, capsys):
    """Register (verified bundle, image tags) and make it the default:
    Trove serves the datastore, the version, its image and packages, and
    a create without a version uses it."""
    code, out, err = _main(capsys, trove26, trove_conf, "register",
                           str(bundle), "--version-name", "7.0",
                           "--version", "7.0.15", "--image-tags",
                           "trove,redis", "--default")
    assert code == 0, err
    assert "OK" not in err and "[4/4]" in err, "the bundle was verified"
    assert "default version: 7.0 (7.0.15)" in out

    api = _api(trove26, trove_conf)
    assert api["user"]["name"] == "redis"
    [version] = api["admin_versions"]
    assert api["user"]["default_version"] == version["id"]
    assert (version["name"], version["version"]) == ("7.0", "7.0.15")
    assert version["active"] is True
    assert version["image_tags"] == ["trove", "redis"]
    assert not version["image"]
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert version["packages"] == ",".join(manifest["packages"])
    assert version["registry_ext"] == "trove-core:redis"
    assert [v["name"] for v in api["user_versions"]] == ["7.0"]
    assert api["create_uses"] == ["7.0", "7.0.15"]
    # configuration groups: the plugin's parameter schema, Trove's format
    rules = register.parameter_rules(bundle, manifest)
    params = api["parameters"]["7.0"]
    assert sorted(params) == sorted(
        r["name"] for r in rules["configuration-parameters"])
    assert params["maxmemory"][:2] == ["integer", False]
    assert params["maxmemory"][2] == "0"
    assert "Loading config parameters" in out


def test_register_dry_run_prints_the_exact_commands(trove26, trove_conf,
                                                    bundle, capsys):
    """--dry-run changes nothing; its lines, run as they are (split, no
    shell), register the version."""
    before = _rows(trove_conf)
    code, out, err = _main(capsys, trove26, trove_conf, "register",
                           str(bundle), "--version-name", "7.2",
                           "--image-id", IMAGE, "--packages",
                           "redis-server", "--dry-run")
    assert code == 0, err
    assert _rows(trove_conf) == before
    commands = [shlex.split(line) for line in out.splitlines()
                if line and not line.startswith("#")]
    assert [c[3] for c in commands] == [
        "datastore_update", "datastore_version_update",
        "db_load_datastore_config_parameters"]
    for argv in commands:
        assert argv[0] == trove26[1]
        assert argv[1:3] == ["--config-file", str(trove_conf.resolve())]
        options = argv[4:argv.index("--")]
        assert all(o.startswith("--") and "=" in o for o in options), argv
        assert argv[argv.index("--") + 1] == "redis"
    assert commands[1][commands[1].index("--") + 1:] == [
        "redis", "7.2", "redis", IMAGE, "redis-server", "1"]
    for argv in commands:
        proc = subprocess.run(argv, capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    api = _api(trove26, trove_conf)
    [version] = api["admin_versions"]
    assert version["image"] == IMAGE
    assert version["packages"] == "redis-server"
    assert len(api["parameters"]["7.2"]) > 10


def test_register_again_is_idempotent(trove26, trove_conf, bundle,
                                      capsys):
    """Registering the same version twice updates its one row and keeps
    the datastore's default."""
    args = ("register", str(bundle), "--no-verify", "--version-name", "7.0",
            "--version", "7.0.15")
    code, _out, err = _main(capsys, trove26, trove_conf, *args,
                            "--image-id", "img-1", "--default")
    assert code == 0, err
    first = _rows(trove_conf)
    code, _out, err = _main(capsys, trove26, trove_conf, *args,
                            "--image-id", "img-2")
    assert code == 0, err
    again = _rows(trove_conf)
    assert len(again["versions"]) == 1
    assert again["parameters"] == first["parameters"] > 10
    assert again["versions"][0][3] == "img-2"
    assert again["datastores"] == first["datastores"]
    assert first["datastores"][0][1], "the default was kept"
    assert _api(trove26, trove_conf)["create_uses"] == ["7.0", "7.0.15"]


def test_register_refuses_bad_input(trove26, trove_conf, bundle, tmp_path,
                                    capsys):
    """A bundle failing verification, bad names, a manager Trove lacks,
    a trove.conf reaching no database, no image: refused, nothing
    written."""
    before = _rows(trove_conf)
    tampered = tmp_path / "tampered"
    shutil.copytree(bundle, tampered)
    victim = next(tampered.glob("wheelhouse/redis-*.whl"))
    with open(victim, "ab") as handle:
        handle.write(b"\0")
    base = ("--version-name", "7.0", "--image-id", "img-1")
    for argv, expected in [
        (("register", str(tampered), "--no-verify", *base),
         "does not match requirements.lock"),
        (("register", str(tampered), *base), "failed verification"),
        (("register", str(tmp_path / "nothing"), *base),
         "no readable bundle.json"),
        (("register", str(bundle), "--no-verify", "--version-name", "-7",
          "--image-id", "img-1"), "invalid version name '-7'"),
        (("register", str(bundle), "--no-verify", "--version-name",
          "7;rm", "--image-id", "img-1"), "invalid version name"),
        (("register", str(bundle), "--no-verify", *base, "--packages",
          "redis-server,--evil"), "invalid package '--evil'"),
        (("register", str(bundle), "--no-verify", *base[:2],
          "--image-tags", ","), "no image"),
        (("register", str(bundle), "--no-verify", *base, "--manager",
          "nosuchdb"), "has no [nosuchdb] options"),
    ]:
        code, _out, err = _main(capsys, trove26, trove_conf, *argv)
        assert code == 1, (argv, err)
        assert expected in err, (argv, err)
    assert _rows(trove_conf) == before

    empty = tmp_path / "empty"
    empty.mkdir()
    for conf, expected in [
        (_conf(empty), "sqlite database %s does not exist"
         % (empty / "trove.sqlite")),
        (tmp_path / "refused.conf", "Connection refused"),
        (tmp_path / "missing.conf", "is not a readable file"),
    ]:
        if conf.name == "refused.conf":
            conf.write_text("[database]\nconnection = "
                            "mysql+pymysql://trove:x@127.0.0.1:1/trove\n")
        code, _out, err = _main(capsys, trove26, conf, "register",
                                str(bundle), "--no-verify", *base)
        assert code == 1, err
        assert expected in err, err
        assert "does not reach a Trove database" in err or \
            "readable" in err
    assert not (empty / "trove.sqlite").exists()


def test_register_upload_without_the_extra_is_refused(trove26, trove_conf,
                                                      bundle, tmp_path,
                                                      capsys):
    """--upload needs openstacksdk; without it the error says how to get
    it or what to pass instead."""
    try:
        import openstack  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("openstacksdk is installed; the refusal needs it absent")
    image = tmp_path / "guest.qcow2"
    image.write_bytes(b"QFI\xfb")
    before = _rows(trove_conf)
    code, _out, err = _main(capsys, trove26, trove_conf, "register",
                            str(bundle), "--no-verify", "--version-name",
                            "7.0", "--upload", str(image))
    assert code == 1
    assert "pip install 'trove-core[image-upload]'" in err
    assert "--image-id" in err
    assert _rows(trove_conf) == before


def test_activate_and_deactivate_switch_the_default(trove26, trove_conf,
                                                    bundle, capsys):
    """activate makes an inactive version active and the default;
    deactivate hides it and clears the default; unknown names are
    refused."""
    for name, extra in (("6.2", ("--inactive",)), ("7.0", ("--default",))):
        code, _out, err = _main(capsys, trove26, trove_conf, "register",
                                str(bundle), "--no-verify", "--version-name",
                                name, "--image-tags", "trove", *extra)
        assert code == 0, err
    api = _api(trove26, trove_conf)
    assert [v["name"] for v in api["user_versions"]] == ["7.0"]

    code, out, err = _main(capsys, trove26, trove_conf, "activate",
                           "--datastore", "redis", "--version-name", "6.2")
    assert code == 0, err
    api = _api(trove26, trove_conf)
    assert api["create_uses"] == ["6.2", "6.2"]
    assert sorted(v["name"] for v in api["user_versions"]) == ["6.2", "7.0"]

    code, out, err = _main(capsys, trove26, trove_conf, "deactivate",
                           "--datastore", "redis", "--version-name", "6.2")
    assert code == 0, err
    assert "it has none now" in out
    api = _api(trove26, trove_conf)
    assert "default_version" not in api["user"]
    assert [v["name"] for v in api["user_versions"]] == ["7.0"]
    assert "default version" in api["create_uses"].lower(), api

    before = _rows(trove_conf)
    for argv, expected in [
        (("activate", "--datastore", "redis", "--version-name", "9.9"),
         "Trove has no version '9.9'"),
        (("activate", "--datastore", "nosuch", "--version-name", "7.0"),
         "Trove has no such datastore"),
        (("deactivate", "--datastore", "nosuch", "--version-name", "7.0"),
         "Trove has no such datastore"),
        (("activate", "--datastore", "redis", "--version-name=--x"),
         "invalid version name"),
    ]:
        code, _out, err = _main(capsys, trove26, trove_conf, *argv)
        assert code == 1, (argv, err)
        assert expected in err, (argv, err)
    assert _rows(trove_conf) == before


def test_activate_dry_run_needs_no_trove(tmp_path, capsys):
    """--dry-run prints the command without trove-manage or a
    database."""
    conf = tmp_path / "trove.conf"
    code = cli.main(["activate", "--datastore", "redis", "--version-name",
                     "7.0", "--config-file", str(conf), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "trove-manage --config-file %s datastore_update -- redis 7.0" \
        % conf.resolve() in out


def test_register_validates_names_without_trove():
    """Values that could pass as options or need a shell are refused."""
    for bad in ("-x", "--x", "a b", "a;b", "", "a/b", "$(x)"):
        with pytest.raises(register.RegistrationError, match="invalid"):
            register.validate_list("image tag", [bad], "redis")
    assert register.validate_list("image tag", ["trove", "redis-7.0"],
                                  "redis") == ["trove", "redis-7.0"]
    assert issubclass(register.RegistrationError, errors.ImageBuildError)
