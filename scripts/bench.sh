#!/usr/bin/env bash
# Runs a benchmark with the peers it compares against available: starts dockerd
# when none answers (and stops it again), then runs `tsx bench/<name>.ts`.
#   scripts/bench.sh start [--iterations N]
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: scripts/bench.sh NAME [ARGS...]}"; shift
# shellcheck source=scripts/lib/dockerd.sh
source scripts/lib/dockerd.sh
# bench/oci.ts compares `docker run --runtime tsbox` with `--runtime runc`: a
# daemon started here knows tsbox-runc (one already running may not).
if [[ "$name" == oci ]]; then export TSBOX_DOCKERD_ARGS="--add-runtime tsbox=$PWD/bin/tsbox-runc.js"; fi
trap stop_dockerd EXIT
ensure_dockerd || echo "bench: no Docker engine; its columns will be skipped" >&2
npx tsx "bench/$name.ts" "$@"
