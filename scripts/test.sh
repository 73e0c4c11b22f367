#!/usr/bin/env bash
# The test command: prepare the machine, then run every suite (core,
# plugins, conformance, integration against real MariaDB, Redis and
# RabbitMQ, packaging). Conformance reports land in out/evidence and the
# tier check reads them at the end.
#
# The gate: with TROVE_TEST_CHANGED_FROM=<git revision> (and no pytest
# arguments) only the suites the change needs run (scripts/gate.py: a
# plugin change runs that plugin's suites and the core contract tests; a
# core or runtime change runs everything). CI=true on main (no
# TROVE_TEST_CHANGED_FROM) runs everything. In CI the datastores whose
# suites ran are the voting ones (TROVE_VOTING_SUITES) and the commit is
# recorded (TROVE_GATE_COMMIT): the conformance reports then carry that
# provenance, the only evidence 'trove-datastores check' takes for
# stable. A run on a developer's machine proves at most
# technical-preview.
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
TROVE_SELECTED_SUITES=""
TROVE_VOTING_SUITES="mysql redis mongodb cassandra fake"
if [ $# -eq 0 ] && [ -n "${TROVE_TEST_CHANGED_FROM:-}" ]; then
    eval "$(python3 scripts/gate.py --since "$TROVE_TEST_CHANGED_FROM" \
        --format sh)"
    echo "[test] $TROVE_SELECTION_REASON"
elif [ $# -ne 0 ]; then
    # hand-picked tests: no suite is known to have run whole
    TROVE_VOTING_SUITES=""
fi
if [ "${CI:-}" = "true" ]; then
    export TROVE_VOTING_SUITES
    if [ -z "${TROVE_GATE_COMMIT:-}" ]; then
        TROVE_GATE_COMMIT="$(git rev-parse HEAD 2>/dev/null || true)"
    fi
    export TROVE_GATE_COMMIT
    echo "[test] CI gate run at ${TROVE_GATE_COMMIT:-unknown commit};" \
        "voting suites: ${TROVE_VOTING_SUITES:-none}"
else
    # a developer's run: its reports say 'local' whatever is set here
    unset TROVE_VOTING_SUITES
fi
status=0
# shellcheck disable=SC2086  # the selection is a list of paths
.venv/bin/pytest "$@" $TROVE_SELECTED_SUITES || status=$?
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
