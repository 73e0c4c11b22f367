#!/usr/bin/env bash
# The main-job demo: a real MariaDB guest driven end to end over RabbitMQ.
#
# On a fresh Debian 12 (as root) it installs what is missing, then runs
# demo/demo.py in the repository's virtualenv. Re-runnable: installs are
# skipped when done, every run uses a fresh temporary directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${TROVE_DEMO_VENV:-$root/.venv}"

say() { printf '==> %s\n' "$*"; }

need_apt=()
for pair in mariadbd:mariadb-server mariabackup:mariadb-backup \
            redis-server:redis-server rabbitmq-server:rabbitmq-server; do
    binary="${pair%%:*}"; package="${pair#*:}"
    if ! command -v "$binary" >/dev/null 2>&1 \
            && ! [ -x "/usr/sbin/$binary" ]; then
        need_apt+=("$package")
    fi
done
if ! [ -x "$venv/bin/python" ] && ! python3 -c "import ensurepip, venv" \
        >/dev/null 2>&1; then
    need_apt+=(python3-venv)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "demo: missing packages ${need_apt[*]}; run as root or" \
             "install them with apt-get" >&2
        exit 1
    fi
    say "installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Do not let the packages start their own services: the demo starts
    # the datastore itself, in a temporary directory.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get install -y -qq --no-install-recommends \
        "${need_apt[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
else
    say "system packages present (mariadb, mariabackup, redis, rabbitmq)"
fi

if ! [ -x "$venv/bin/trove-guestagent" ] \
        || ! "$venv/bin/python" -c "import trove_ds_mysql, pymysql" \
            >/dev/null 2>&1; then
    say "creating virtualenv $venv with trove-core and trove-ds-mysql[guest]"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -e "$root" \
        -e "$root/plugins/trove-ds-mysql[guest]"
else
    say "virtualenv $venv ready"
fi

port_open() {
    "$venv/bin/python" - "$1" <<'EOF'
import socket, sys
with socket.socket() as s:
    s.settimeout(1)
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

if port_open 5672; then
    say "RabbitMQ is listening on 127.0.0.1:5672"
else
    say "starting RabbitMQ (rabbitmq-server -detached)"
    rabbitmq-server -detached
    for _ in $(seq 1 120); do
        port_open 5672 && break
        sleep 0.5
    done
    port_open 5672 || { echo "demo: RabbitMQ did not start" >&2; exit 1; }
    say "RabbitMQ ready"
fi

exec "$venv/bin/python" "$here/demo.py" "$@"
