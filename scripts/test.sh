#!/usr/bin/env bash
# The test command: prepare the machine, then run every suite (core,
# plugins, conformance, integration against real MariaDB, Redis and
# RabbitMQ, packaging). Conformance reports land in out/evidence and the
# tier check reads them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Trove's own guest client (trove==26.0.0) drives our guests in
# tests/integration/test_guest_trove26.py. Trove cannot share a venv with
# trove-core, so it gets its own (about 300 MB, one minute, built once).
if [ -z "${TROVE26_PYTHON:-}" ]; then
    if [ ! -x .venv-trove26/bin/python ] \
        || ! .venv-trove26/bin/python -c 'import trove.guestagent.api' \
            2>/dev/null; then
        echo "[test] building .venv-trove26 (trove==26.0.0) for the Trove" \
            "client compatibility test"
        rm -rf .venv-trove26
        mkdir -p out
        if ! { python3 -m venv .venv-trove26 \
               && PIP_DISABLE_PIP_VERSION_CHECK=1 .venv-trove26/bin/pip \
                  install -q trove==26.0.0; } >out/trove26-install.log 2>&1
        then
            echo "[test] could not install trove==26.0.0 (see" \
                "out/trove26-install.log); the Trove client test will skip"
            rm -rf .venv-trove26
        fi
    fi
    if [ -x .venv-trove26/bin/python ]; then
        export TROVE26_PYTHON="$PWD/.venv-trove26/bin/python"
    fi
fi
export TROVE_EVIDENCE_DIR="$PWD/out/evidence"
rm -rf "$TROVE_EVIDENCE_DIR"
mkdir -p "$TROVE_EVIDENCE_DIR"
status=0
.venv/bin/pytest "$@" || status=$?
if [ -x .venv/bin/trove-datastores ] && [ "$status" = 0 ]; then
    echo
    # The four datastores and the fake; the deliberately broken test
    # plugins would only repeat what the discovery tests already prove.
    echo "== tier evidence from this run (trove-datastores check) =="
    .venv/bin/trove-datastores check mysql redis mongodb cassandra fake \
        --evidence "$TROVE_EVIDENCE_DIR" \
        || echo "(some declared tiers lack evidence here; see above)"
fi
exit "$status"
