#!/usr/bin/env bash
# Runs a benchmark with the peers it compares against available: starts dockerd
# when none answers (and stops it again), then runs `tsx bench/<name>.ts`.
#   scripts/bench.sh start [--iterations N]
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: scripts/bench.sh NAME [ARGS...]}"; shift
# shellcheck source=scripts/lib/dockerd.sh
source scripts/lib/dockerd.sh
trap stop_dockerd EXIT
ensure_dockerd || echo "bench: no Docker engine; its columns will be skipped" >&2
npx tsx "bench/$name.ts" "$@"
