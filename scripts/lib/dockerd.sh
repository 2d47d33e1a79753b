# shellcheck shell=bash
# Sourced by .ci/run and scripts/test-docker.sh.
#
#   ensure_dockerd   make `docker info` answer; if no daemon is reachable, start `dockerd`
#                    in the background (log: $TSBOX_DOCKERD_LOG, default /tmp/tsbox-dockerd.log)
#                    and wait up to $TSBOX_DOCKERD_TIMEOUT seconds (default 60); the words of
#                    $TSBOX_DOCKERD_ARGS are added to its command line (e.g. --add-runtime).
#   stop_dockerd     stop the dockerd that ensure_dockerd started (no-op otherwise).

TSBOX_DOCKERD_PID=""

ensure_dockerd() {
  local log="${TSBOX_DOCKERD_LOG:-/tmp/tsbox-dockerd.log}"
  local timeout="${TSBOX_DOCKERD_TIMEOUT:-60}"
  local deadline
  if ! command -v docker >/dev/null 2>&1; then
    echo "docker CLI not found (Debian: apt-get install docker.io)" >&2
    return 1
  fi
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "no Docker daemon reachable and dockerd not installed (Debian: apt-get install docker.io)" >&2
    return 1
  fi
  if [[ "$(id -u)" != 0 ]]; then
    echo "no Docker daemon reachable, and starting dockerd needs root" >&2
    return 1
  fi
  echo "starting dockerd in the background (log: $log)" >&2
  # shellcheck disable=SC2086 # words, on purpose
  dockerd ${TSBOX_DOCKERD_ARGS:-} >"$log" 2>&1 </dev/null &
  TSBOX_DOCKERD_PID=$!
  deadline=$((SECONDS + timeout))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$TSBOX_DOCKERD_PID" 2>/dev/null; then
      echo "dockerd exited during startup; last lines of $log:" >&2
      tail -n 30 "$log" >&2 || true
      TSBOX_DOCKERD_PID=""
      return 1
    fi
    if (( SECONDS >= deadline )); then
      echo "dockerd did not answer within ${timeout}s; last lines of $log:" >&2
      tail -n 30 "$log" >&2 || true
      stop_dockerd
      return 1
    fi
    sleep 0.5
  done
  echo "dockerd is up (pid $TSBOX_DOCKERD_PID)" >&2
}

stop_dockerd() {
  local pid="$TSBOX_DOCKERD_PID" i
  [[ -n "$pid" ]] || return 0
  TSBOX_DOCKERD_PID=""
  kill -0 "$pid" 2>/dev/null || return 0
  echo "stopping dockerd (pid $pid)" >&2
  kill -TERM "$pid" 2>/dev/null || true
  # dockerd stops its own containerd child and running containers; give it 30 s.
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  echo "dockerd (pid $pid) did not stop within 30s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}
