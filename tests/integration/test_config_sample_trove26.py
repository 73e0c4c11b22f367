"""Our control-plane sample, loaded by Trove 26's own configuration.

``trove-datastores config-sample --side server mysql redis`` is made
active (every ``#name = value`` line uncommented) and loaded into
trove==26.0.0's ``CONF`` in Trove's interpreter (``TROVE26_PYTHON``):
the file must parse, every option Trove registers must take our value,
and the options Trove 26 does not read are exactly the documented ones
(docs/operator.rst, "Against a Trove 26 control plane").
"""

import json
import os
import re
import subprocess
import sys

import pytest

#: [group] -> options of our server sample that Trove 26 does not
#: register in that group (it ignores them; documented).
NOT_IN_TROVE26 = {"mysql": set(),
                  "redis": {"usage_timeout", "ignore_users", "ignore_dbs",
                            "root_on_create"}}

_LOAD = r"""
import json
import sys

from trove.common import cfg

CONF = cfg.CONF
CONF(args=["--config-file", sys.argv[1]], project="trove",
     default_config_files=[])
wanted = json.loads(sys.argv[2])
out = {}
for group, names in wanted.items():
    for name in names:
        try:
            value = CONF[group][name]
        except cfg.cfg.NoSuchOptError:
            out["%s.%s" % (group, name)] = {"registered": False}
            continue
        out["%s.%s" % (group, name)] = {"registered": True,
                                        "value": value}


def plain(value):
    # Trove parses port lists into ranges: oslo.config makes 3306
    # range(3306, 3305, -1) and 3306-3310 range(3306, 3311)
    if isinstance(value, range):
        ports = list(value)
        return str(ports[0]) if len(ports) == 1 else "%d-%d" % (
            min(ports), max(ports))
    raise TypeError(type(value).__name__)


print(json.dumps(out, default=plain))
"""


@pytest.fixture(scope="module")
def trove26_python():
    python = os.environ.get("TROVE26_PYTHON")
    if not python or not os.access(python, os.X_OK):
        reason = ("set TROVE26_PYTHON to the python of a virtualenv with "
                  "trove==26.0.0 (scripts/test.sh builds .venv-trove26)")
        print("SKIP:", reason)
        pytest.skip(reason)
    return python


def _active_sample():
    proc = subprocess.run(
        [sys.executable, "-m", "trove_core.tools.cli", "config-sample",
         "--side", "server", "mysql", "redis"], capture_output=True, text=True,
        timeout=120, check=True)
    lines, ours, group = [], {}, None
    for line in proc.stdout.splitlines():
        header = re.match(r"^\[(\w+)\]$", line)
        if header:
            group = header.group(1)
        option = re.match(r"^#([a-z_]+) = ?(.*)$", line)
        if option and group != "DEFAULT":
            ours.setdefault(group, {})[option.group(1)] = option.group(2)
            line = line[1:]
        lines.append(line)
    return "\n".join(lines) + "\n", ours


def test_server_sample_is_accepted_by_trove26(trove26_python, tmp_path):
    """Trove 26 parses our [mysql] and [redis] and takes every value of
    the options it has."""
    text, ours = _active_sample()
    assert set(ours) == {"mysql", "redis"}
    assert "mount_point" in ours["mysql"] and "tcp_ports" in ours["redis"]
    conf = tmp_path / "trove.conf"
    conf.write_text(text)
    proc = subprocess.run(
        [trove26_python, "-I", "-c", _LOAD, str(conf),
         json.dumps({g: sorted(o) for g, o in ours.items()})],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])

    missing = {g: {n for n in names if not seen["%s.%s" % (g, n)][
        "registered"]} for g, names in ours.items()}
    assert missing == NOT_IN_TROVE26, "update NOT_IN_TROVE26 and the docs"
    for group, names in ours.items():
        for name, written in names.items():
            got = seen["%s.%s" % (group, name)]
            if not got["registered"]:
                continue
            value = got["value"]
            if isinstance(value, list):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = str(value).lower()
            elif value is None:
                value = ""
            assert str(value) == written, (group, name, value, written)
