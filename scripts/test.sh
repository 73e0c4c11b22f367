#!/usr/bin/env bash
# The test command: prepare the machine, then run every suite (core,
# plugins, conformance, integration against real MariaDB, Redis and
# RabbitMQ, packaging). Conformance reports land in out/evidence and the
# tier check reads them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
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
