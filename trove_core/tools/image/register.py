"""Registering a guest bundle with a Trove control plane.

A Trove control plane knows a datastore version from two rows of its
database: the datastore (with its default version) and the version
(manager, image id or image tags, packages, active). Trove's own tool
writes them: ``trove-manage datastore_update`` and ``trove-manage
datastore_version_update``, run with the operator's ``trove.conf``. This
module drives that tool (never a shell: an argument vector, every user
value after ``--`` and validated first) and reads back, with Trove's own
models in Trove's interpreter, what Trove's API serves afterwards; the
exit status of ``trove-manage`` is not proof (it prints "cannot be
found" and exits 0).

Trove 26's ``datastore_update NAME ""`` *clears* the default version of
an existing datastore, so it is run only to create a missing datastore.
"""

import json
import logging
import os
import pathlib
import re
import shlex
import shutil
import subprocess

from trove_core.tools.image import errors

__all__ = ["RegistrationError", "Trove", "activate", "check_bundle",
           "deactivate", "register", "upload_image"]

LOG = logging.getLogger(__name__)

#: Seconds any one call of trove-manage or of Trove's interpreter may take.
TIMEOUT = 300
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_IMAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+:~_=-]{0,127}$")
#: trove-manage's words for a failure it reports with exit status 0.
_FAILED = ("cannot be found", "Command failed", "Possible wrong number",
           "is inactive", "No unique match")


class RegistrationError(errors.ImageBuildError):
    """A bundle could not be registered with, or activated in, Trove."""

    msg_fmt = "Trove datastore %(datastore)r: %(reason)s"


def _check(what, value, pattern, datastore):
    if not isinstance(value, str) or not pattern.match(value):
        raise RegistrationError(
            datastore=datastore, reason="invalid %s %r: use letters, "
            "digits and %s, starting with a letter or digit" % (
                what, value, "'.', '_', '+', '-'" if pattern is not
                _IMAGE_ID else "'-'"))
    return value


def validate_list(what, values, datastore, pattern=_NAME):
    """Validate a list of names (tags, packages); returns it."""
    return [_check(what, v, pattern, datastore) for v in values]


# -- Trove's side ---------------------------------------------------------

_READER = r"""
import json
import sys

conf, name, manager = sys.argv[1], sys.argv[2], sys.argv[3]
out = {"datastore": None, "versions": [], "default": None,
       "manager_known": None}
try:
    from trove.common import cfg
    CONF = cfg.CONF
    CONF(args=["--config-file", conf], project="trove",
         default_config_files=[])
    CONF.set_override("max_retries", 1, group="database")
    CONF.set_override("retry_interval", 1, group="database")
    try:
        CONF.get(manager)
        out["manager_known"] = True
    except Exception:
        out["manager_known"] = False
    url = CONF.database.connection or ""
    if not url:
        raise ValueError("no [database] connection is set")
    if url.startswith("sqlite:///"):
        import os.path
        path = url[len("sqlite:///"):].split("?", 1)[0]
        if path and not os.path.isfile(path):
            raise ValueError("the sqlite database %s does not exist"
                             % path)
    from trove.common import exception
    from trove.db import get_db_api
    get_db_api().configure_db()
    from trove.configuration import models as cmodels
    from trove.datastore import models
    try:
        ds = models.Datastore.load(name)
    except exception.DatastoreNotFound:
        ds = None
    if ds is not None:
        out["datastore"] = {"id": ds.id, "name": ds.name,
                            "default_version_id": ds.default_version_id}
        for v in models.DatastoreVersions.load(ds.id, only_active=False):
            out["versions"].append({
                "id": v.id, "name": v.name, "version": v.version,
                "manager": v.manager, "image_id": v.image_id,
                "image_tags": v.image_tags, "packages": v.packages,
                "active": bool(v.active), "registry_ext": v.registry_ext,
                "repl_strategy": v.repl_strategy,
                "parameters": sorted(
                    p.name for p in cmodels.DatastoreConfigurationParameters
                    .load_parameters(v.id))})
        out["active_versions"] = sorted(
            v.name for v in models.DatastoreVersions.load(ds.id))
        try:
            _ds, dv = models.get_datastore_version(type=name)
            out["default"] = {"id": dv.id, "name": dv.name,
                              "version": dv.version}
        except exception.TroveError as exc:
            out["default_error"] = str(exc)
except Exception as exc:
    print(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}))
    sys.exit(3)
print(json.dumps(out))
"""


def _shebang_python(script):
    try:
        with open(script, "rb") as handle:
            first = handle.readline(4096).decode("utf-8", "replace")
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    return words[0] if words and os.path.isabs(words[0]) else None


class Trove:
    """A Trove control plane reached through its ``trove-manage``.

    :param config_file: the operator's ``trove.conf``.
    :param trove_manage: the ``trove-manage`` program (default: on
        ``PATH``).
    :param trove_python: the interpreter Trove is installed in (default:
        the one in ``trove-manage``'s ``#!`` line); it reads the
        database back with Trove's own models.
    :param timeout: seconds any call may take.
    :raises RegistrationError: a program or the file is missing.
    """

    def __init__(self, config_file, trove_manage=None, trove_python=None,
                 timeout=TIMEOUT, datastore="", dry_run=False):
        self.datastore = datastore
        self.config_file = pathlib.Path(config_file).resolve()
        self.timeout = timeout
        if dry_run:
            # only printing commands: nothing needs to exist here
            self.trove_manage = trove_manage or "trove-manage"
            self.trove_python = trove_python
            return
        if not self.config_file.is_file():
            self._fail("the Trove configuration %s is not a readable file; "
                       "pass the control plane's trove.conf with "
                       "--config-file" % self.config_file)
        manage = trove_manage or shutil.which("trove-manage")
        if not manage or not os.access(manage, os.X_OK):
            self._fail("trove-manage %s is not an executable; install "
                       "Trove (pip install trove) or pass --trove-manage "
                       "PATH" % (repr(manage) if manage else "(not on PATH)"))
        self.trove_manage = str(manage)
        python = trove_python or _shebang_python(self.trove_manage)
        if not python or not os.access(python, os.X_OK):
            self._fail("cannot find the Python Trove is installed in (from "
                       "%s's first line); pass --trove-python PATH"
                       % self.trove_manage)
        self.trove_python = str(python)

    def _fail(self, reason):
        raise RegistrationError(datastore=self.datastore, reason=reason)

    def argv(self, command, options=(), positionals=()):
        """The argument vector of one ``trove-manage`` command: options
        (``--name=value``) before ``--``, user values after it."""
        return ([self.trove_manage, "--config-file", str(self.config_file),
                 command] + list(options) + ["--"] + list(positionals))

    def run(self, argv):
        """Run one ``trove-manage`` command; raise unless it succeeded."""
        LOG.debug("running %s", argv)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=self.timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self._fail("%s did not finish within %d s; check that %s "
                       "reaches Trove's database" % (
                           shlex.join(argv[3:4]), self.timeout,
                           self.config_file))
        said = [line for line in proc.stdout.splitlines()
                if line.strip()]
        failed = [line for line in said if any(w in line for w in _FAILED)]
        if proc.returncode != 0 or failed:
            tail = "\n".join((failed or said or
                              proc.stderr.strip().splitlines())[-8:])
            self._fail("%s failed (exit %d):\n%s" % (
                shlex.join(argv), proc.returncode, tail))
        return said

    def read(self, manager=None):
        """What Trove serves for the datastore, read with Trove's models.

        :returns: ``{"datastore": {...} or None, "versions": [...],
            "default": {...} or None, "active_versions": [...],
            "manager_known": bool}``.
        :raises RegistrationError: the configuration does not reach a
            Trove database.
        """
        argv = [self.trove_python, "-I", "-c", _READER,
                str(self.config_file), self.datastore,
                manager or self.datastore]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=self.timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self._fail("reading Trove's database with %s did not finish "
                       "within %d s" % (self.config_file, self.timeout))
        lines = proc.stdout.strip().splitlines()
        try:
            state = json.loads(lines[-1]) if lines else None
        except ValueError:
            state = None
        if proc.returncode != 0 or not isinstance(state, dict) \
                or "error" in state:
            why = (state or {}).get("error") or \
                proc.stderr.strip()[-600:] or "no output"
            self._fail("%s does not reach a Trove database (%s); check "
                       "[database] connection in it and that trove-manage "
                       "db_sync has run" % (self.config_file, why))
        return state


def _find(state, name, number, datastore):
    rows = [v for v in state["versions"] if v["name"] == name and
            (number is None or v["version"] == number)]
    if not rows:
        known = sorted("%s (%s)" % (v["name"], v["version"])
                       for v in state["versions"])
        raise RegistrationError(
            datastore=datastore, reason="Trove has no version %r%s of it; "
            "registered: %s (register it first with trove-guest-image "
            "register)" % (name, "" if number is None else " (%s)" % number,
                           known or "none"))
    if len(rows) > 1:
        raise RegistrationError(
            datastore=datastore, reason="%d versions are named %r (%s); "
            "choose one with --version" % (
                len(rows), name, sorted(v["version"] for v in rows)))
    return rows[0]


# -- the bundle -----------------------------------------------------------

def check_bundle(bundle, full=True, progress=None):
    """Check a bundle before it is registered.

    Always: ``bundle.json`` is readable and every wheel it lists is in
    ``wheelhouse/`` with a sha256 the lock file pins. With ``full``, also
    :func:`~trove_core.tools.image.verify.verify` (offline install and
    self-check in a clean virtualenv).

    :returns: the manifest.
    :raises VerificationFailed: the bundle fails either check.
    """
    import hashlib

    bundle = pathlib.Path(bundle)
    try:
        manifest = json.loads((bundle / "bundle.json").read_text())
        lock = (bundle / "requirements.lock").read_text()
    except (OSError, ValueError) as exc:
        raise errors.VerificationFailed(
            bundle=str(bundle), reason="no readable bundle.json and "
            "requirements.lock (%s); build it with trove-guest-image build"
            % exc) from None
    pinned = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", lock))
    bad = []
    for name in manifest.get("wheels", ()):
        path = bundle / "wheelhouse" / name
        if not path.is_file():
            bad.append("%s is missing" % name)
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() not in pinned:
            bad.append("%s does not match requirements.lock" % name)
    if bad or not manifest.get("wheels"):
        raise errors.VerificationFailed(
            bundle=str(bundle), reason="%s; rebuild it with "
            "trove-guest-image build --force" % (
                "; ".join(bad) or "it lists no wheels"))
    if full:
        from trove_core.tools.image import verify

        verify.verify(bundle, progress=progress)
    return manifest


def upload_image(disk_image, name, tags, cloud=None, datastore=""):
    """Upload a disk image to the image store; returns its id.

    Needs the optional ``image-upload`` extra (openstacksdk) and a cloud
    configured for it (``clouds.yaml`` or ``OS_*`` variables).

    :raises RegistrationError: the extra is not installed, the file is
        missing or the upload failed.
    """
    try:
        import openstack
    except ImportError:
        raise RegistrationError(
            datastore=datastore, reason="uploading %s needs openstacksdk: "
            "pip install 'trove-core[image-upload]' (and a clouds.yaml or "
            "OS_* variables), or upload it yourself and pass --image-id ID "
            "or --image-tags TAGS" % disk_image) from None
    path = pathlib.Path(disk_image)
    if not path.is_file():
        raise RegistrationError(
            datastore=datastore, reason="disk image %s does not exist; "
            "build it with disk-image-create (see docs/image-builder.rst)"
            % path)
    fmt = "qcow2" if path.suffix == ".qcow2" else "raw"
    try:
        conn = openstack.connect(cloud=cloud)
        image = conn.image.create_image(
            name=name, filename=str(path), disk_format=fmt,
            container_format="bare", visibility="private", tags=list(tags),
            wait=True, timeout=TIMEOUT)
    except Exception as exc:  # openstacksdk raises many unrelated types
        raise RegistrationError(
            datastore=datastore, reason="uploading %s failed: %s; check "
            "the cloud configuration (--cloud, clouds.yaml, OS_*)"
            % (path, exc)) from exc
    return image.id


def parameter_rules(bundle, manifest):
    """The plugin's configuration parameters in Trove's format.

    The plugin's wheel in the bundle carries ``data/validation-rules.json``
    (trove-core's schema, see :mod:`trove_core.configuration`); Trove's
    ``db_load_datastore_config_parameters`` reads ``name``, ``type``,
    ``restart_required`` (the schema's ``not dynamic``), ``min`` and
    ``max`` of each. ``choices`` and ``pattern`` have no place there: the
    guest still enforces them.

    :returns: ``{"configuration-parameters": [...]}`` or ``None`` when
        the plugin has no schema.
    """
    import zipfile

    from trove_core.tools.image import wheels

    name = manifest["distribution"]
    package = name.replace("-", "_")
    found = [w for w in wheels.wheel_files(pathlib.Path(bundle) /
                                           "wheelhouse")
             if wheels.project_of(w)[0] == name.lower()]
    if not found:
        return None
    member = "%s/data/validation-rules.json" % package
    with zipfile.ZipFile(found[0]) as archive:
        if member not in archive.namelist():
            return None
        schema = json.loads(archive.read(member))
    params = []
    for entry in schema.get("configuration-parameters", ()):
        rule = {"name": entry["name"], "type": entry["type"],
                "restart_required": not entry.get("dynamic", False)}
        for bound in ("min", "max"):
            if entry.get(bound) is not None:
                rule[bound] = entry[bound]
        params.append(rule)
    return {"configuration-parameters": params}


def write_rules(rules, directory):
    """Write Trove-format rules into ``directory``; returns the path."""
    path = pathlib.Path(directory) / "validation-rules.json"
    path.write_text(json.dumps(rules, indent=1) + "\n")
    return path


# -- the commands ---------------------------------------------------------

def plan_register(trove, datastore, version_name, manager, image_id,
                  image_tags, packages, active, version=None,
                  registry_ext=None, create_datastore=True,
                  make_default=False, rules_file=None):
    """The ``trove-manage`` argument vectors registering a version."""
    plan = []
    if create_datastore:
        plan.append(trove.argv("datastore_update", (),
                               (datastore, "")))
    options = ["--registry-ext=%s" % (registry_ext or
                                      "trove-core:%s" % manager)]
    if version:
        options.append("--version=%s" % version)
    if image_tags:
        options.append("--image-tags=%s" % ",".join(image_tags))
    plan.append(trove.argv("datastore_version_update", options, (
        datastore, version_name, manager, image_id or "",
        ",".join(packages), "1" if active else "0")))
    if rules_file:
        plan.append(trove.argv(
            "db_load_datastore_config_parameters",
            ["--version=%s" % (version or version_name)],
            (datastore, version_name, str(rules_file))))
    if make_default:
        plan.append(trove.argv("datastore_update", (),
                               (datastore, version_name)))
    return plan


def register(trove, bundle_manifest, version_name, image_id=None,
             image_tags=(), version=None, manager=None, packages=None,
             active=True, make_default=False, registry_ext=None,
             dry_run=False, out=print, rules=None):
    """Register a built guest with Trove as a datastore version.

    Creates the datastore if Trove lacks it (never clearing the default
    version of an existing one), creates or updates the version
    (``trove-manage`` finds it by datastore, name and version number, so
    registering again updates the same row), optionally makes it the
    default, then reads back what Trove serves and checks it.

    :param trove: a :class:`Trove`.
    :param bundle_manifest: the bundle's manifest (checked already).
    :param dry_run: print the commands instead of running them (the
        parameter rules are written to a directory that is kept, so the
        printed commands run as they are).
    :param out: where lines are printed.
    :param rules: the configuration parameter rules in Trove's format
        (:func:`parameter_rules`), loaded into Trove for the version so
        that configuration groups can be made for it.
    :returns: Trove's state after registering (``None`` on a dry run).
    :raises RegistrationError: bad input, or Trove did not end up
        serving what was asked.
    """
    datastore = bundle_manifest["datastore"]
    manager = manager or datastore
    _check("version name", version_name, _NAME, datastore)
    _check("manager", manager, _NAME, datastore)
    if version is not None:
        _check("version number", version, _NAME, datastore)
    if registry_ext is not None:
        _check("registry extension", registry_ext,
               re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$"), datastore)
    if image_id:
        _check("image id", image_id, _IMAGE_ID, datastore)
    image_tags = validate_list("image tag", list(image_tags), datastore)
    if not image_id and not image_tags:
        raise RegistrationError(
            datastore=datastore, reason="no image: pass --image-id ID, "
            "--image-tags TAG[,TAG] or --upload DISK_IMAGE")
    packages = validate_list(
        "package", bundle_manifest.get("packages", []) if packages is None
        else list(packages), datastore, _PACKAGE)
    if dry_run:
        rules_file = None
        if rules:
            import tempfile

            rules_file = write_rules(rules, tempfile.mkdtemp(
                prefix="trove-rules-%s-" % datastore))
            out("# configuration parameter rules (Trove's format) written "
                "to %s" % rules_file)
        plan = plan_register(trove, datastore, version_name, manager,
                             image_id, image_tags, packages, active,
                             version, registry_ext, True, make_default,
                             rules_file)
        out("# only when Trove has no datastore %r yet (with an empty "
            "default it clears an existing one's):" % datastore)
        out(shlex.join(plan[0]))
        for argv in plan[1:]:
            out(shlex.join(argv))
        return None
    before = trove.read(manager)
    if not before["manager_known"]:
        raise RegistrationError(
            datastore=datastore, reason="this Trove has no [%s] options, so"
            " its control plane cannot run instances of manager %r; use a "
            "manager Trove knows (--manager) or a Trove that has it"
            % (manager, manager))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="trove-rules-") as tmp:
        plan = plan_register(
            trove, datastore, version_name, manager, image_id, image_tags,
            packages, active, version, registry_ext,
            before["datastore"] is None, False,
            write_rules(rules, tmp) if rules else None)
        for argv in plan:
            for line in trove.run(argv):
                out(line)
    state = trove.read(manager)
    row = _find(state, version_name, version or version_name, datastore)
    expected = {"manager": manager, "image_id": image_id or "",
                "image_tags": ",".join(image_tags) or None,
                "packages": ",".join(packages), "active": bool(active)}
    wrong = {k: (row[k], v) for k, v in expected.items()
             if (row[k] or None) != (v or None)}
    if rules:
        asked = sorted(r["name"] for r in rules["configuration-parameters"])
        missing = sorted(set(asked) - set(row["parameters"]))
        if missing:
            wrong["parameters"] = ("lacks %s" % missing, asked)
    if wrong:
        raise RegistrationError(
            datastore=datastore, reason="Trove serves %s (got, asked) after "
            "registering; check the trove-manage output above" % wrong)
    if make_default:
        state = activate(trove, datastore, version_name,
                         version or version_name, out=out)
    return state


def _rewrite(trove, datastore, row, active):
    options = ["--registry-ext=%s" % row["registry_ext"],
               "--version=%s" % row["version"]]
    if row["repl_strategy"]:
        options.append("--repl-strategy=%s" % row["repl_strategy"])
    if row["image_tags"]:
        options.append("--image-tags=%s" % row["image_tags"])
    return trove.argv("datastore_version_update", options, (
        datastore, row["name"], row["manager"], row["image_id"] or "",
        row["packages"] or "", "1" if active else "0"))


def _names(datastore, version_name, version):
    _check("datastore", datastore, _NAME, datastore)
    _check("version name", version_name, _NAME, datastore)
    if version is not None:
        _check("version number", version, _NAME, datastore)


def activate(trove, datastore, version_name, version=None, out=print,
             dry_run=False):
    """Make a registered version active and the datastore's default.

    :param dry_run: print the command instead of running it.
    :returns: Trove's state afterwards (``None`` on a dry run).
    :raises RegistrationError: unknown datastore or version, or Trove
        does not serve it as the default afterwards.
    """
    _names(datastore, version_name, version)
    if dry_run:
        out("# an inactive version is first made active with "
            "datastore_version_update (same values, active 1)")
        out(shlex.join(trove.argv("datastore_update", (),
                                  (datastore, version_name))))
        return None
    state = trove.read()
    if state["datastore"] is None:
        raise RegistrationError(
            datastore=datastore, reason="Trove has no such datastore; "
            "register a version of it first (trove-guest-image register)")
    row = _find(state, version_name, version, datastore)
    if not row["active"]:
        for line in trove.run(_rewrite(trove, datastore, row, True)):
            out(line)
    for line in trove.run(trove.argv("datastore_update", (),
                                     (datastore, row["id"]))):
        out(line)
    state = trove.read()
    if (state["default"] or {}).get("id") != row["id"]:
        raise RegistrationError(
            datastore=datastore, reason="Trove's default version is %s, "
            "not %s (%s), after activating it: %s" % (
                state["default"], row["name"], row["version"],
                state.get("default_error", "")))
    return state


def deactivate(trove, datastore, version_name, version=None, out=print,
               dry_run=False):
    """Make a registered version inactive (hidden from users, no new
    instances); if it was the default, the datastore has none after.

    :param dry_run: print the commands instead of running them.
    :returns: Trove's state afterwards (``None`` on a dry run).
    :raises RegistrationError: unknown datastore or version.
    """
    _names(datastore, version_name, version)
    if dry_run:
        out("# only when it is the default version:")
        out(shlex.join(trove.argv("datastore_update", (), (datastore, ""))))
        out("# then the same values as registered, with active 0:")
        out(shlex.join(trove.argv(
            "datastore_version_update", ["--version=%s" % (
                version or version_name), "--registry-ext=..."],
            (datastore, version_name, "MANAGER", "IMAGE_ID", "PACKAGES",
             "0"))))
        return None
    state = trove.read()
    if state["datastore"] is None:
        raise RegistrationError(
            datastore=datastore, reason="Trove has no such datastore")
    row = _find(state, version_name, version, datastore)
    if state["datastore"]["default_version_id"] == row["id"]:
        out("%s (%s) was the default version of %s; it has none now"
            % (row["name"], row["version"], datastore))
        for line in trove.run(trove.argv("datastore_update", (),
                                         (datastore, ""))):
            out(line)
    if row["active"]:
        for line in trove.run(_rewrite(trove, datastore, row, False)):
            out(line)
    state = trove.read()
    again = _find(state, version_name, version, datastore)
    if again["active"]:
        raise RegistrationError(
            datastore=datastore, reason="Trove still serves %s as active"
            % version_name)
    return state
