# shellcheck shell=bash
# Sourced by test/oci/docker-runtime.sh: a Docker daemon of its own, separate from the machine's,
# with an extra OCI runtime registered (`dockerd --add-runtime NAME=PATH`).
#
#   start_oci_dockerd NAME PATH   start dockerd with its own data root, exec root, socket,
#                                 pidfile, config file, containerd namespace and cgroup parent;
#                                 no bridge, no iptables rules (containers run with --network
#                                 none); export DOCKER_HOST for the `docker` CLI; wait up to
#                                 $TSBOX_OCI_DOCKERD_TIMEOUT seconds (default 60).
#                                 Log: $TSBOX_OCI_DOCKERD_LOG (default <dir>/dockerd.log).
#   stop_oci_dockerd              remove its containers, stop it (TERM, then KILL after 30 s),
#                                 detach what it left mounted and remove its directory.
#
# Its managed containerd lives under the exec root; the containerd namespace (tsbox-oci) keeps
# the shims' runtime state root (/run/containerd/runc/<namespace>) apart from the machine's
# Docker, which uses "moby" even when both have their own containerd.

TSBOX_OCI_DOCKERD_PID=""
TSBOX_OCI_DOCKERD_DIR=""

start_oci_dockerd() {
  local name="$1" path="$2"
  local timeout="${TSBOX_OCI_DOCKERD_TIMEOUT:-60}" dir deadline log
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    echo "dockerd or the docker CLI is not installed (Debian: apt-get install docker.io)" >&2
    return 1
  fi
  # Short: containerd's sockets live under the exec root, and a unix socket path has 108 bytes.
  dir="$(mktemp -d /tmp/tsbox-oci-docker.XXXXXX)"
  chmod 0755 "$dir"
  TSBOX_OCI_DOCKERD_DIR="$dir"
  mkdir -p "$dir/data" "$dir/exec"
  # Its own (empty) configuration: nothing of the machine's /etc/docker/daemon.json applies.
  echo '{}' > "$dir/daemon.json"
  log="${TSBOX_OCI_DOCKERD_LOG:-$dir/dockerd.log}"
  export DOCKER_HOST="unix://$dir/docker.sock"
  echo "starting a separate dockerd (--add-runtime $name=$path; $dir, log $log)" >&2
  # PATH is passed on to containerd and its shims, which run the runtime: a runtime that is a
  # script (#!/usr/bin/env node) finds its interpreter through it.
  # In a network namespace of its own: with --bridge none, dockerd deletes any interface named
  # docker0 at start-up (moby's removeDefaultBridgeInterface), which would be the machine's
  # Docker's bridge. It needs no network: images are loaded, containers run --network none, and
  # its API is a unix socket.
  unshare --net -- dockerd \
    --config-file "$dir/daemon.json" \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" \
    -H "unix://$dir/docker.sock" \
    --containerd-namespace tsbox-oci \
    --containerd-plugins-namespace tsbox-oci-plugins \
    --cgroup-parent tsbox-oci-docker \
    --bridge none --iptables=false --ip-forward=false --ip-masq=false \
    --storage-driver overlay2 \
    --add-runtime "$name=$path" \
    >"$log" 2>&1 </dev/null &
  TSBOX_OCI_DOCKERD_PID=$!
  deadline=$((SECONDS + timeout))
  until docker version >/dev/null 2>&1; do
    if ! kill -0 "$TSBOX_OCI_DOCKERD_PID" 2>/dev/null; then
      echo "dockerd exited during startup; last lines of $log:" >&2
      tail -n 30 "$log" >&2 || true
      TSBOX_OCI_DOCKERD_PID=""
      return 1
    fi
    if (( SECONDS >= deadline )); then
      echo "dockerd did not answer within ${timeout}s; last lines of $log:" >&2
      tail -n 30 "$log" >&2 || true
      stop_oci_dockerd
      return 1
    fi
    sleep 0.3
  done
  echo "dockerd is up (pid $TSBOX_OCI_DOCKERD_PID, DOCKER_HOST=$DOCKER_HOST)" >&2
}

stop_oci_dockerd() {
  local pid="$TSBOX_OCI_DOCKERD_PID" dir="$TSBOX_OCI_DOCKERD_DIR" i m ids
  TSBOX_OCI_DOCKERD_PID=""
  TSBOX_OCI_DOCKERD_DIR=""
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    ids="$(timeout 20 docker ps -aq 2>/dev/null || true)"
    # shellcheck disable=SC2086 # one argument per id
    [[ -z "$ids" ]] || timeout 60 docker rm -f $ids >/dev/null 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "dockerd (pid $pid) did not stop within 30s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  [[ -n "$dir" && -d "$dir" ]] || return 0
  # Its containerd may outlive a killed dockerd: it is found by its pidfile under the exec root.
  if [[ -f "$dir/exec/containerd/containerd.pid" ]]; then
    pid="$(cat "$dir/exec/containerd/containerd.pid")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; sleep 1; fi
  fi
  # Overlay and shm mounts a crashed daemon left, deepest first.
  while IFS= read -r m; do
    [[ -n "$m" ]] && { umount -l "$m" 2>/dev/null || echo "warning: could not detach $m" >&2; }
  done < <(awk -v d="$dir" '{ p = $5; gsub(/\\040/, " ", p); if (index(p, d "/") == 1) print length(p) "\t" p }' /proc/self/mountinfo | sort -rn | cut -f2-)
  if [[ "${TSBOX_OCI_KEEP:-0}" == 1 ]]; then
    echo "kept $dir (TSBOX_OCI_KEEP=1)" >&2
  else
    rm -rf --one-file-system "$dir" 2>/dev/null || echo "warning: could not remove all of $dir" >&2
  fi
  # The cgroups Docker made under its --cgroup-parent, if empty.
  local d
  for d in /sys/fs/cgroup/*/tsbox-oci-docker /sys/fs/cgroup/tsbox-oci-docker; do
    [[ -d "$d" ]] && { rmdir "$d" 2>/dev/null || echo "warning: could not remove cgroup $d" >&2; }
  done
  return 0
}
