#!/usr/bin/env bash
# Runs a benchmark with the peers it compares against available: starts dockerd
# when none answers (and stops it again), then runs `tsx bench/<name>.ts`.
#   scripts/bench.sh start [--iterations N]
#   scripts/bench.sh net [--rounds N]      (needs ab: apt-get install apache2-utils)
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: scripts/bench.sh NAME [ARGS...]}"; shift
# shellcheck source=scripts/lib/dockerd.sh
source scripts/lib/dockerd.sh
# bench/oci.ts compares `docker run --runtime tsbox` with `--runtime runc`: a
# daemon started here knows tsbox-runc (one already running may not).
if [[ "$name" == oci ]]; then export TSBOX_DOCKERD_ARGS="--add-runtime tsbox=$PWD/bin/tsbox-runc.js"; fi
# bench/net.ts loads the published ports with ApacheBench; a daemon started here
# has Docker's defaults (docker0, iptables, the userland proxy), as it compares.
if [[ "$name" == net ]] && ! command -v ab >/dev/null 2>&1; then
  echo "bench: ab not found (Debian: apt-get install apache2-utils)" >&2
  exit 1
fi
trap stop_dockerd EXIT
ensure_dockerd || echo "bench: no Docker engine; its columns will be skipped" >&2
npx tsx "bench/$name.ts" "$@"
