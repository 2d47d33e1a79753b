#!/usr/bin/env bash
# Ordinary `docker run --runtime X` behaviours, checked against a separate dockerd that has the
# runtime under test registered (`--add-runtime tsbox=PATH`; scripts/lib/oci-dockerd.sh):
#
#   test/oci/docker-runtime.sh [RUNTIME]      (default: this repo's bin/tsbox-runc.js)
#
# Every check states what Docker with runc does (run with RUNTIME=runc, all pass on this machine).
# Output is TAP (`ok N - what`), then `docker: N passed, N failed`. Exit status 1 when a check
# failed. When RUNTIME does not exist the whole file is skipped with the reason (exit 0).
# The image is busybox, built locally from Debian's busybox-static (scripts/make-busybox-rootfs.sh)
# and `docker import`ed: no registry is needed. Containers run with --network none.
#
# Environment: TSBOX_OCI_DOCKER_CHECKS  space-separated subset of check names (default: all)
#              TSBOX_OCI_DOCKERD_LOG    the daemon's log (default: kept under .tmp/oci/)
#              TSBOX_OCI_KEEP=1         keep the daemon's directory afterwards
# Single-quoted commands are expanded by the shell inside the container:
# shellcheck disable=SC2016
set -euo pipefail
exec </dev/null

here="$(cd "$(dirname "$0")/../.." && pwd -P)"
runtime="${1:-$here/bin/tsbox-runc.js}"
if [[ "$runtime" != */* ]]; then runtime="$(command -v "$runtime" || true)"; fi
if [[ -z "$runtime" || ! -x "$runtime" ]]; then
  echo "docker: SKIP: the runtime ${1:-bin/tsbox-runc.js} does not exist (yet) or is not executable"
  exit 0
fi
[[ "$(id -u)" == 0 ]] || { echo "docker: needs root (it starts a dockerd)" >&2; exit 1; }
label="$(basename "$runtime")"; label="${label%.js}"
mkdir -p "$here/.tmp/oci/$label"
export TSBOX_OCI_DOCKERD_LOG="${TSBOX_OCI_DOCKERD_LOG:-$here/.tmp/oci/$label/dockerd.log}"

# shellcheck source=scripts/lib/oci-dockerd.sh
source "$here/scripts/lib/oci-dockerd.sh"

rt=tsbox
img=tsbox-oci/busybox:local
created=()
cleanup() {
  local rc=$?
  stop_oci_dockerd
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The machine's network interfaces, to check that the separate dockerd leaves them alone
# (with --bridge none, dockerd deletes a docker0 it can see).
host_links="$(ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' ')"
start_oci_dockerd "$rt" "$runtime"
echo "# runtime under test: $runtime as --runtime $rt ($(timeout 10 "$runtime" --version 2>/dev/null | head -n 1 || true))"

tarball="$(mktemp /tmp/tsbox-oci-busybox.XXXXXX.tar)"
bash "$here/scripts/make-busybox-rootfs.sh" "$tarball" 2>/dev/null
docker import --change 'CMD ["sh"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$tarball" "$img" >/dev/null
rm -f "$tarball"

# --- helpers ---------------------------------------------------------------------------------------
n=0 passed=0 failed=0 current=""
OUT="" ERR="" RC=0

# sh_run CMD...: run a docker CLI command with a bound; OUT/ERR (trailing newlines dropped), RC.
sh_run() {
  local o e
  o="$(mktemp)"; e="$(mktemp)"
  RC=0
  timeout -k 5 "${TIMEOUT:-60}" "$@" >"$o" 2>"$e" || RC=$?
  OUT="$(cat "$o")"; ERR="$(cat "$e")"
  rm -f "$o" "$e"
}
# drun ARGS... : docker run --rm --runtime tsbox --network none ARGS (image given by the caller)
drun() { sh_run docker run --rm --runtime "$rt" --network none "$@"; }
# dstart ARGS... : docker run -d ...; sets CID
dstart() {
  sh_run docker run -d --runtime "$rt" --network none "$@"
  CID="$OUT"
  [[ "$RC" == 0 && -n "$CID" ]] && created+=("$CID")
}
state_of() {
  local s
  if s="$(docker inspect -f '{{.State.Status}}' "$1" 2>/dev/null)"; then echo "$s"; else echo gone; fi
}

# expect DESCRIPTION CONDITION...: one TAP point; the condition is a command (e.g. [[ ... ]]).
expect() {
  local what="$1"; shift
  n=$((n + 1))
  if "$@"; then
    passed=$((passed + 1))
    echo "ok $n - $current: $what"
  else
    failed=$((failed + 1))
    echo "not ok $n - $current: $what"
    printf '  ---\n  rc: %s\n  stdout: %q\n  stderr: %q\n  ...\n' "$RC" "${OUT:0:400}" "${ERR:0:400}"
  fi
}
eq() { [[ "$1" == "$2" ]]; }
has() { [[ "$1" == *"$2"* ]]; }
matches() { [[ "$1" =~ $2 ]]; }

# wait_for CONDITION...: poll up to 20 s (a container's state changes asynchronously).
wait_for() {
  local i
  for ((i = 0; i < 100; i++)); do "$@" && return 0; sleep 0.2; done
  return 1
}
state_is() { [[ "$(state_of "$1")" == "$2" ]]; }
logs_have() { docker logs "$1" 2>&1 | grep -q -- "$2"; }

# The cgroup v1 file of the container's own cgroup, or its v2 equivalent.
cg() { echo "cat /sys/fs/cgroup/$1/$2 2>/dev/null || cat /sys/fs/cgroup/$3 2>/dev/null"; }

# --- checks --------------------------------------------------------------------------------------
check_echo() {
  drun "$img" echo hello from busybox
  expect "exits 0" eq "$RC" 0
  expect "prints its output" eq "$OUT" "hello from busybox"
}

check_exit_codes() {
  drun "$img" sh -c 'exit 3'
  expect "exit 3 is the container's exit code" eq "$RC" 3
  drun "$img" sh -c 'exit 255'
  expect "exit 255 too" eq "$RC" 255
}

check_not_found() {
  drun "$img" /no/such/program
  expect "a missing executable exits 127" eq "$RC" 127
  expect "and says what is missing" has "$ERR" "/no/such/program"
  drun "$img" /etc/passwd
  expect "a file that is not executable exits 126" eq "$RC" 126
}

check_env() {
  drun -e FOO=bar -e 'SPACED=a b' "$img" sh -c 'echo "$FOO|$SPACED|$PATH"'
  expect "-e sets variables; the image's PATH stays" eq "$OUT" "bar|a b|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

check_workdir() {
  drun -w /tmp "$img" pwd
  expect "-w /tmp is the working directory" eq "$OUT" /tmp
  drun -w /made/by/docker "$img" pwd
  expect "-w of a missing directory creates it" eq "$OUT" /made/by/docker
}

check_user() {
  drun -u 1000:1000 "$img" sh -c 'id -u; id -g; touch /x 2>/dev/null && echo wrote || echo denied'
  expect "-u 1000:1000 runs as uid/gid 1000 (no write to /)" eq "$OUT" $'1000\n1000\ndenied'
  drun -u nobody "$img" id -un
  expect "-u nobody resolves through the image's /etc/passwd" eq "$OUT" nobody
  drun -u 1000 --group-add 5 "$img" id -G
  expect "--group-add adds a supplementary group" matches "$OUT" '(^| )5( |$)'
}

check_hostname() {
  drun -h tsbox-host "$img" hostname
  expect "-h sets the hostname" eq "$OUT" tsbox-host
}

check_read_only() {
  drun --read-only "$img" sh -c 'touch /x'
  expect "--read-only: writing / fails" eq "$RC" 1
  expect "with EROFS" has "$ERR" "Read-only file system"
  drun --read-only --tmpfs /tmp "$img" sh -c 'touch /tmp/x && echo wrote'
  expect "--read-only --tmpfs /tmp: /tmp is writable" eq "$OUT" wrote
}

check_stdin() {
  sh_run sh -c "printf 'one\\ntwo\\n' | docker run --rm -i --runtime $rt --network none $img cat"
  expect "-i passes stdin through" eq "$OUT" $'one\ntwo'
  sh_run sh -c "printf 'one\\n' | docker run --rm --runtime $rt --network none $img cat"
  expect "without -i the container's stdin is empty" eq "$OUT$RC" 0
}

check_tty() {
  drun -t "$img" sh -c 'tty; [ -t 1 ] && echo stdout-is-a-tty'
  OUT="${OUT//$'\r'/}"
  expect "-t gives the process a pty" matches "$OUT" $'^/dev/pts/[0-9]+\nstdout-is-a-tty$'
  drun "$img" sh -c 'tty'
  expect "without -t there is none" eq "$RC" 1
}

check_pids_limit() {
  drun --pids-limit 12 "$img" sh -c "$(cg pids pids.max pids.max)"
  expect "--pids-limit 12 is the cgroup's pids.max" eq "$OUT" 12
  drun --pids-limit 12 "$img" sh -c 'for i in $(seq 1 30); do sleep 30 & done; echo all-started'
  expect "forking past the limit fails" has "$ERR" "can't fork"
}

check_memory_oom() {
  sh_run docker run --runtime "$rt" --network none -m 32m --memory-swap 32m "$img" \
    dd if=/dev/zero of=/dev/null bs=64M count=1
  local code="$RC" name
  name="$(docker ps -alq)"
  [[ -z "$name" ]] || created+=("$name")
  RC="$code"
  expect "-m 32m: allocating 64 MiB is killed, exit 137" eq "$RC" 137
  OUT="$(docker inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' "$name" 2>&1)"
  expect "docker inspect says OOMKilled" eq "$OUT" "true 137"
  drun -m 32m --memory-swap 32m "$img" sh -c "$(cg memory memory.limit_in_bytes memory.max)"
  expect "the limit is the cgroup's" eq "$OUT" 33554432
}

check_detached() {
  dstart "$img" sleep 600
  expect "-d starts and prints the id" eq "$RC" 0
  local id="$CID"
  expect "the container is running" state_is "$id" running
  sh_run docker exec "$id" echo from exec
  expect "exec runs a process inside" eq "$OUT" "from exec"
  sh_run docker exec "$id" sh -c 'exit 5'
  expect "exec returns the process's exit code" eq "$RC" 5
  sh_run docker exec -u 1000 -w /tmp -e E=v "$id" sh -c 'echo "$(id -u) $(pwd) $E"'
  expect "exec -u -w -e" eq "$OUT" "1000 /tmp v"
  sh_run docker exec -t "$id" tty
  expect "exec -t gives a pty" matches "${OUT//$'\r'/}" '^/dev/pts/[0-9]+$'
  sh_run docker exec "$id" sh -c 'readlink /proc/1/exe; cat /proc/1/cmdline | tr "\0" " "'
  expect "exec joins the container's pid namespace" eq "$OUT" $'/bin/busybox\nsleep 600 '
  sh_run docker top "$id"
  expect "top lists the container's process" has "$OUT" "sleep 600"
  sh_run docker pause "$id"
  expect "pause succeeds" eq "$RC" 0
  expect "and the container is paused" state_is "$id" paused
  sh_run docker exec "$id" true
  expect "exec into a paused container is refused" eq "$((RC != 0))" 1
  sh_run docker unpause "$id"
  expect "unpause succeeds" eq "$RC" 0
  expect "and the container runs again" state_is "$id" running
  sh_run docker exec "$id" echo again
  expect "exec works after unpause" eq "$OUT" again
  sh_run docker stop -t 1 "$id"
  expect "stop succeeds" eq "$RC" 0
  expect "the container has exited" state_is "$id" exited
  OUT="$(docker inspect -f '{{.State.ExitCode}}' "$id")"
  expect "sleep as pid 1 ignores TERM, so stop kills it: 137" eq "$OUT" 137
  sh_run docker start "$id"
  expect "a stopped container starts again" eq "$RC" 0
  expect "and runs" state_is "$id" running
  sh_run docker rm -f "$id"
  expect "rm -f removes a running container" eq "$RC" 0
  expect "which is gone" state_is "$id" gone
}

check_update() {
  dstart -m 64m --memory-swap 64m "$img" sleep 600
  local id="$CID"
  sh_run docker update --memory 96m --memory-swap 96m --cpu-shares 512 --pids-limit 50 "$id"
  expect "update succeeds" eq "$RC" 0
  sh_run docker exec "$id" sh -c "$(cg memory memory.limit_in_bytes memory.max); $(cg cpu cpu.shares cpu.weight); $(cg pids pids.max pids.max)"
  expect "the new memory, cpu-shares and pids limits are in the cgroup" eq "$OUT" $'100663296\n512\n50'
  sh_run docker rm -f "$id"
}

check_kill_term() {
  dstart "$img" sh -c 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done'
  local id="$CID"
  expect "the container announces itself" wait_for logs_have "$id" ready
  sh_run docker kill -s TERM "$id"
  expect "kill -s TERM succeeds" eq "$RC" 0
  sh_run docker wait "$id"
  expect "the trap runs and its exit code is the container's" eq "$OUT" 7
  expect "its output is in the logs" logs_have "$id" got-term
  sh_run docker rm "$id"
}

check_logs() {
  dstart "$img" sh -c 'echo to-stdout; echo to-stderr >&2'
  local id="$CID"
  sh_run docker wait "$id"
  expect "the container exits 0" eq "$OUT" 0
  sh_run docker logs "$id"
  expect "logs has stdout on stdout" eq "$OUT" to-stdout
  expect "and stderr on stderr" eq "$ERR" to-stderr
  sh_run docker rm "$id"
}

check_nothing_left() {
  local id
  for id in "${created[@]}"; do docker rm -f "$id" >/dev/null 2>&1 || true; done
  OUT="$(docker ps -aq)"
  expect "no container is left" eq "$OUT" ""
  # The shims keep the runtime's state under /run/containerd/runc/<containerd namespace>.
  OUT="$(ls -A /run/containerd/runc/tsbox-oci 2>/dev/null || true)"
  expect "no runtime state is left" eq "$OUT" ""
  OUT="$(ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' ')"
  expect "the machine's network interfaces are untouched (docker0 included)" eq "$OUT" "$host_links"
}

all=(echo exit_codes not_found env workdir user hostname read_only stdin tty pids_limit memory_oom
  detached update kill_term logs nothing_left)
if [[ -n "${TSBOX_OCI_DOCKER_CHECKS:-}" ]]; then read -r -a checks <<< "$TSBOX_OCI_DOCKER_CHECKS"; else checks=("${all[@]}"); fi
echo "TAP version 13"
t0=$SECONDS
for c in "${checks[@]}"; do
  declare -F "check_$c" >/dev/null || { echo "docker: no check named $c" >&2; exit 2; }
  current="$c"
  "check_$c"
done
echo "1..$n"
echo "# ${#checks[@]} checks in $((SECONDS - t0))s with --runtime $rt=$runtime"
echo "docker: $passed passed, $failed failed"
(( failed == 0 ))
