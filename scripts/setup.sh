#!/usr/bin/env bash
# Prepare a Debian 12 machine (as root, Python 3.11) for trove-core's demo
# and tests: Debian packages, a virtualenv in .venv with the core, the four
# plugins and the test plugins, and a running RabbitMQ. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have mariadbd || need+=(mariadb-server)
have mariadb-dump || need+=(mariadb-client)
have mariabackup || need+=(mariadb-backup)
[ -e /usr/lib/galera/libgalera_smm.so ] || [ -e /usr/lib/libgalera_smm.so ] || need+=(galera-4)
have rsync || need+=(rsync)
have redis-server || need+=(redis-server)
have rabbitmq-server || need+=(rabbitmq-server)
have git || need+=(git)
# a real Swift (one replica, tempauth) for the swift backup storage tests
have swift-proxy-server || need+=(swift swift-proxy swift-account \
    swift-container swift-object)
have memcached || need+=(memcached)
# trove-guest-image build --rootfs (and its slow test)
have debootstrap || need+=(debootstrap)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "[setup] missing Debian packages ${need[*]}; run as root" >&2
        exit 1
    fi
    log "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 5672; then
    log "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 1 90); do port_open 5672 && break; sleep 1; done
    port_open 5672 || { echo "[setup] RabbitMQ did not start" >&2; exit 1; }
fi
rabbitmqctl await_startup >/dev/null 2>&1 || true

if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/pip install -q --upgrade pip setuptools wheel
log "installing trove-core, the plugins and the test plugins into .venv"
.venv/bin/pip install -q -r requirements.txt -r test-requirements.txt
plugins=()
for dir in plugins/trove-ds-*/; do plugins+=(-e "${dir%/}[guest]"); done
tests=()
for dir in tests/plugins/*/; do tests+=(-e "${dir%/}"); done
.venv/bin/pip install -q -e . "${plugins[@]}" "${tests[@]}"
log "ready"
