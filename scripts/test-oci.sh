#!/usr/bin/env bash
# Judge an OCI runtime with suites no one here wrote (`npm run test:oci`):
#
#   scripts/test-oci.sh [SUITE...] [--record-baseline]
#
# Suites (default: validation docker cri bats):
#   validation  the opencontainers/runtime-tools validation programs (built by
#               scripts/oci-suites.sh into its cache), each run as `RUNTIME=<wrapper> NAME.t`;
#               TAP summarized by test/oci/report.ts and gated against test/oci/runc-baseline.txt:
#               every assertion runc passes on this machine must pass (regressions fail the run).
#   docker      ordinary `docker run --runtime X` behaviours (echo, exit codes, 127/126, -e, -w,
#               -u, -h, --read-only, -i, -t, --pids-limit, -m with OOMKilled/137, -d + exec +
#               top + pause/unpause + stop/start, update, kill -s TERM, logs) against a separate
#               dockerd started with `--add-runtime tsbox=<runtime>` (test/oci/docker-runtime.sh).
#   cri         containerd (its own instance) with the runtime: `ctr run --runc-binary`, and the
#               CRI with a RuntimeClass-style handler whose BinaryName is the runtime, driven like
#               a kubelet: pod sandbox, containers, exec, logs, stop, remove (test/oci/cri-runtime.sh).
#   bats        runc's own integration tests (tests/integration/*.bats of the installed runc's
#               Debian source) with RUNC=<runtime>, each file under a pty (`script`: `runc run`
#               with a terminal needs one) and a timeout; gated on test/oci/runc-bats-baseline.txt.
#
# The runtime under test: TSBOX_OCI_RUNTIME, a path or a command name (default: this repo's
# bin/tsbox-runc.js). When it does not exist the suites are skipped with the reason printed
# (exit 0). `TSBOX_OCI_RUNTIME=runc scripts/test-oci.sh validation --record-baseline` rewrites
# the baseline from runc runs.
#
# Isolation: the runtime is called through a wrapper that adds `--root <scratch>/state`, so the
# suites never see or touch containers of anyone else; each program runs with its own TMPDIR
# (where it makes its bundles), no stdin, and a timeout; after each program every container left
# in that state root is killed and force-deleted, processes whose root is still inside the
# scratch directory are killed, mounts under it are detached, and the suite's test cgroups
# (/cgrouptest and <own cgroup>/testdir/cgrouptest/container, in every v1 hierarchy and in v2)
# are removed when empty.
#
# Environment:
#   TSBOX_OCI_RUNTIME          runtime to judge (default bin/tsbox-runc.js)
#   TSBOX_OCI_PROGRAM_TIMEOUT  seconds per validation program (default 90; runc needs 15 at most)
#   TSBOX_OCI_BUDGET           seconds for all programs of one suite run; the rest are reported
#                              "not run" (default 300; runc needs ~80 s and ~115 s)
#   TSBOX_OCI_PROGRAMS         space-separated subset of programs to run (default: all)
#   TSBOX_OCI_RETRY=0          no second run of the programs with regressions (default: one,
#                              when at most 10 programs regressed; what passes then is flaky)
#   TSBOX_OCI_RECORD_RUNS      runs that --record-baseline takes (default 3): assertions that
#                              pass in all are the gate, in some only are marked flaky
#   TSBOX_OCI_BATS             space-separated subset of bats files, without .bats (default: all)
#   TSBOX_OCI_BATS_SKIP        bats files not to run (default: update for a runtime other than runc:
#                              its "minimal transition rules" test leaves its recvtty running, holding
#                              bats's output open, when the runtime refuses the test's device access
#                              "rwa" as tsbox-runc does (runc ignores the "a"), so the file runs into
#                              its timeout)
#   TSBOX_OCI_BATS_TIMEOUT     seconds per bats file (default 90; runc needs 16 at most)
#   TSBOX_OCI_GATE             floor (default): the runtime must keep every assertion of its own
#                              floor (test/oci/floor/, recorded with --record-baseline), and the gap
#                              to runc's passes is reported; runc: runc's passes are the gate
#   TSBOX_OCI_RESULTS          where TAP, stderr and summary.json go (default .tmp/oci/<label>)
#   TSBOX_OCI_CACHE            see scripts/oci-suites.sh
#   TSBOX_OCI_LOCK             lock file serializing runs on one machine (default
#                              /run/lock/tsbox-test-oci.lock; TSBOX_OCI_LOCK_WAIT seconds, 1800)
set -euo pipefail
exec </dev/null

cd "$(dirname "$0")/.."
repo="$PWD"
export PATH="$repo/node_modules/.bin:$PATH"

suites=() record=0
for arg in "$@"; do
  case "$arg" in
    validation|docker|cri|bats) suites+=("$arg") ;;
    --record-baseline) record=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "test-oci: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
(( ${#suites[@]} )) || suites=(validation docker cri bats)

step() { printf '\n--- test-oci: %s\n' "$*"; }

[[ "$(id -u)" == 0 ]] || { echo "test-oci: needs root (the suites create containers)" >&2; exit 1; }

# One run at a time on a machine: the suites use fixed cgroup paths (/cgrouptest,
# runc-cgroups-integration-test) and clean them up after each program.
lock="${TSBOX_OCI_LOCK:-/run/lock/tsbox-test-oci.lock}"
mkdir -p "$(dirname "$lock")"
exec 9>>"$lock"
if ! flock -n 9; then
  echo "test-oci: another run holds $lock; waiting for it (at most ${TSBOX_OCI_LOCK_WAIT:-1800} s)"
  flock -w "${TSBOX_OCI_LOCK_WAIT:-1800}" 9 || { echo "test-oci: gave up waiting for $lock" >&2; exit 1; }
fi

runtime_arg="${TSBOX_OCI_RUNTIME:-bin/tsbox-runc.js}"
if [[ "$runtime_arg" == */* ]]; then
  runtime="$runtime_arg"
  [[ "$runtime" == /* ]] || runtime="$repo/$runtime"
else
  runtime="$(command -v "$runtime_arg" || true)"
fi
if [[ -z "$runtime" || ! -x "$runtime" ]]; then
  echo "test-oci: SKIP all suites: the runtime $runtime_arg does not exist (yet) or is not executable; set TSBOX_OCI_RUNTIME=runc to check the harness itself"
  exit 0
fi
label="$(basename "$runtime")"
label="${label%.js}"
results_root="${TSBOX_OCI_RESULTS:-$repo/.tmp/oci/$label}"
# Two baselines a suite: runc's passes on this machine (the goal: every one must pass) and the
# runtime's own floor (tsbox-runc's passes when last recorded: none may be lost). The gate is the
# floor unless TSBOX_OCI_GATE=runc; the gap to runc is reported either way.
goal_dir="$repo/test/oci"
floor_dir="$repo/test/oci/floor"
gate_on="${TSBOX_OCI_GATE:-floor}"
case "$gate_on" in floor|runc) ;; *) echo "test-oci: TSBOX_OCI_GATE must be floor or runc" >&2; exit 2 ;; esac
baseline="$goal_dir/runc-baseline.txt"
bats_baseline="$goal_dir/runc-bats-baseline.txt"
headers=()
# A runtime that hangs must not hang the run: every call of it outside the suites is bounded.
runtime_version="$(timeout -k 2 10 "$runtime" --version 2>/dev/null </dev/null | head -n 1 || true)"
echo "runtime under test: $runtime (${runtime_version:-no answer to --version})"

scratch="$(mktemp -d /tmp/tsbox-oci.XXXXXX)"
# Traversable by everyone: containers with a user namespace reach their bundle as a mapped,
# unprivileged uid (mktemp's 0700 makes runc's bind of the rootfs fail with EACCES).
chmod 0755 "$scratch"
wrapper="$scratch/bin/oci-runtime"
mkdir -p "$scratch/bin" "$scratch/state"
# The suites call `$RUNTIME create|start|state|kill|delete ...` with no global options; the
# wrapper pins the state root to this run's scratch directory.
cat > "$wrapper" <<EOF
#!/bin/sh
exec "$runtime" --root "$scratch/state" "\$@"
EOF
chmod 0755 "$wrapper"

# --- cleanup -------------------------------------------------------------------------------------

# Mount points at or below DIR, deepest first (mountinfo escapes spaces as \040).
mounts_under() {
  awk -v d="$1" '{ p = $5; gsub(/\\040/, " ", p); if (p == d || index(p, d "/") == 1) print length(p) "\t" p }' /proc/self/mountinfo |
    sort -rn | cut -f2-
}

# Test cgroups the suites ask for (runtime-tools' cgroups.AbsCgroupPath and RelCgroupPath, runc's
# bats tests' runc-cgroups-integration-test/test-cgroup-N: a timed-out or failing test leaves
# them, and a leftover cpu.rt_runtime_us there fails the next run's rt test); only empty
# directories are removed (rmdir), never anything with a process.
remove_test_cgroups() {
  local hier path mnt base d
  while IFS=: read -r _ hier path; do
    if [[ -z "$hier" ]]; then mnt=/sys/fs/cgroup/unified; [[ -d "$mnt" ]] || mnt=/sys/fs/cgroup
    else mnt="/sys/fs/cgroup/${hier#name=}"; fi
    [[ -d "$mnt" ]] || continue
    [[ "$path" == / ]] && path=""
    for base in "$mnt" "$mnt$path"; do
      for d in "$base/testdir/cgrouptest/container" "$base/testdir/cgrouptest" "$base/testdir" "$base/cgrouptest" \
               "$base/runc-cgroups-integration-test"; do
        [[ -d "$d" ]] || continue
        # A leftover child cgroup (any name) goes first, deepest first.
        find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
        rmdir "$d" 2>/dev/null || echo "test-oci: warning: could not remove cgroup $d" >&2
      done
    done
  done < /proc/self/cgroup
}

# Kill and delete every container left in our state root; kill processes still rooted in DIR;
# detach mounts under DIR; remove DIR.
clean_dir() {
  local dir="$1" id pid m
  for id in "$scratch"/state/*; do
    [[ -e "$id" ]] || continue
    id="${id##*/}"
    timeout 10 "$wrapper" kill "$id" KILL >/dev/null 2>&1 || true
    timeout 10 "$wrapper" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf --one-file-system "${scratch:?}/state/$id" 2>/dev/null || true
  done
  # Processes whose root or working directory is inside DIR: containers the runtime left.
  for pid in $(find /proc -mindepth 2 -maxdepth 2 \( -name root -o -name cwd \) -lname "$dir/*" 2>/dev/null |
               cut -d/ -f3 | sort -un); do
    [[ "$pid" != "$$" && "$pid" != "$BASHPID" ]] || continue
    echo "test-oci: killing leftover process $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
  while IFS= read -r m; do
    [[ -n "$m" ]] || continue
    umount -l "$m" 2>/dev/null || echo "test-oci: warning: could not detach $m" >&2
  done < <(mounts_under "$dir")
  remove_test_cgroups
  # --one-file-system: a mount that could not be detached is not walked into.
  rm -rf --one-file-system "$dir" 2>/dev/null || echo "test-oci: warning: could not remove all of $dir" >&2
}

# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
  local rc=$?
  clean_dir "$scratch/tmp"
  clean_dir "$scratch"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# --- running a TAP suite ------------------------------------------------------------------------------
# Each suite is a list of programs (validation: NAME.t; bats: NAME.bats); each program's TAP goes to
# RESULTS/NAME.tap, its exit status (or timeout / not-run) to RESULTS/NAME.rc, stderr to NAME.err.

# run_one_validation VDIR RESULTS NAME (called as "run_one_$kind")
# shellcheck disable=SC2317
run_one_validation() {
  local vdir="$1" results="$2" p="$3" rc=0
  # The programs find runtimetest and the rootfs tarball in their working directory, and copy
  # runtimetest into each bundle (a symlink would be copied as a symlink, dangling inside).
  if [[ ! -f "$scratch/run/runtimetest" ]]; then
    mkdir -p "$scratch/run"
    cp "$vdir/runtimetest" "$vdir/rootfs-amd64.tar.gz" "$scratch/run/"
  fi
  [[ -x "$vdir/bin/$p.t" ]] || { echo "test-oci: no program $p in $vdir" >&2; return 1; }
  (cd "$scratch/run" && TMPDIR="$scratch/tmp/$p" RUNTIME="$wrapper" \
    timeout -k 10 "${TSBOX_OCI_PROGRAM_TIMEOUT:-90}" "$vdir/bin/$p.t" \
    </dev/null >"$results/$p.tap" 2>"$results/$p.err" 9>&-) || rc=$?
  return "$rc"
}

# run_one_bats DIR RESULTS NAME: under a pty (`script`): `runc run` of a spec with a terminal and
# no --console-socket uses the caller's /dev/tty.
# shellcheck disable=SC2317
run_one_bats() {
  local dir="$1" results="$2" name="$3" rc=0
  [[ -f "$dir/$name.bats" ]] || { echo "test-oci: no $name.bats in $dir" >&2; return 1; }
  # helpers.bash's get-images.sh asks `go env GOARCH` (Go is there: the suites were built with it).
  (cd "$dir" && TMPDIR="$scratch/tmp/$name" RUNC="$runtime" PATH="/usr/lib/go-1.23/bin:$PATH" \
    timeout -k 10 "${TSBOX_OCI_BATS_TIMEOUT:-90}" script -qfec "bats --tap $name.bats" /dev/null \
    </dev/null >"$results/$name.raw" 2>"$results/$name.err" 9>&-) || rc=$?
  tr -d '\r' < "$results/$name.raw" > "$results/$name.tap"
  rm -f "$results/$name.raw"
  return "$rc"
}

# run_set KIND SRC RESULTS NAME...: run the programs one by one within $TSBOX_OCI_BUDGET seconds,
# cleaning up after each.
run_set() {
  local kind="$1" src="$2" results="$3"; shift 3
  local budget="${TSBOX_OCI_BUDGET:-300}" t0=$SECONDS ts rc p
  rm -rf "$results"
  mkdir -p "$results"
  printf '%s\n' "$@" > "$results/programs.txt"
  for p in "$@"; do
    if (( SECONDS - t0 >= budget )); then
      echo not-run > "$results/$p.rc"
      continue
    fi
    mkdir -p "$scratch/tmp/$p"
    ts=$SECONDS
    rc=0
    "run_one_$kind" "$src" "$results" "$p" || rc=$?
    if (( rc == 124 || rc == 137 )); then echo timeout > "$results/$p.rc"; else echo "$rc" > "$results/$p.rc"; fi
    clean_dir "$scratch/tmp/$p"
    printf '  %-32s %3ss  exit %s\n' "$p" "$((SECONDS - ts))" "$(cat "$results/$p.rc")"
  done
  echo "$kind: $# programs took $((SECONDS - t0))s"
}

# run_and_gate KIND SRC BASELINE NAME...: run the set (several times when recording a baseline:
# what passes in only some runs is flaky), then gate on the baseline. The suites have races of
# their own (killsig signals a shell that may not have set its trap yet): programs with
# regressions run once more, and what passes then is reported as flaky. $headers: the baseline's.
run_and_gate() {
  local kind="$1" src="$2" base="$3"; shift 3
  local args=(--label "$label" --suite "$kind") runs=1 i results note
  # A bats file exits 1 when any of its tests failed: that says nothing of its other tests.
  [[ "$kind" != bats ]] || args+=(--trust-failed-programs)
  (( record )) && runs="${TSBOX_OCI_RECORD_RUNS:-3}"
  for ((i = 1; i <= runs; i++)); do
    results="$results_root/$kind"
    note=""
    (( runs == 1 )) || { results+="-run$i"; note=", run $i of $runs"; }
    step "$kind: $# programs, runtime $label$note"
    run_set "$kind" "$src" "$results" "$@"
    args+=(--results "$results")
  done
  # Recording writes the runtime's own file: runc's goal, or the floor of any other runtime.
  local floor="$base"
  [[ "$label" == runc ]] || floor="$floor_dir/$kind.txt"
  if (( record )); then
    for i in "${headers[@]}"; do args+=(--header "$i"); done
    mkdir -p "$floor_dir"
    tsx "$repo/test/oci/report.ts" "${args[@]}" --write-baseline "$floor"
    return
  fi
  if [[ "$gate_on" == floor && "$floor" != "$base" ]]; then
    # The gap to runc, reported (not a verdict), then the floor as the gate.
    step "$kind: against runc's passes (the goal; a report, not the gate)"
    tsx "$repo/test/oci/report.ts" "${args[@]}" --baseline "$base" || (( $? == 1 ))
    step "$kind: against $label's floor ($(realpath --relative-to="$repo" "$floor"): the gate)"
    [[ -f "$floor" ]] || { echo "test-oci: no floor $floor: record it with TSBOX_OCI_RUNTIME=$runtime_arg scripts/test-oci.sh $kind --record-baseline" >&2; return 1; }
    base="$floor"
  fi
  args+=(--baseline "$base")
  local gate=0 again=()
  tsx "$repo/test/oci/report.ts" "${args[@]}" || gate=$?
  (( gate == 1 )) || return "$gate"
  mapfile -t again < <(cut -f2 "$results_root/$kind/regressions.txt" | cut -d: -f1 | sort -u)
  if [[ "${TSBOX_OCI_RETRY:-1}" != 1 ]] || (( ${#again[@]} > 10 )); then return 1; fi
  step "$kind: once more, the ${#again[@]} programs with regressions: ${again[*]}"
  run_set "$kind" "$src" "$results_root/$kind-retry" "${again[@]}"
  tsx "$repo/test/oci/report.ts" "${args[@]}" --retry "$results_root/$kind-retry"
}

run_validation() {
  step "runtime-tools validation suite (build or reuse)"
  local cache vdir programs=()
  cache="$(bash "$repo/scripts/oci-suites.sh" validation)"
  vdir="$(find "$cache/validation" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1)"
  [[ -n "$vdir" && -f "$vdir/.stamp" ]] || { echo "test-oci: no built validation suite in $cache" >&2; return 1; }
  if [[ -n "${TSBOX_OCI_PROGRAMS:-}" ]]; then read -r -a programs <<< "$TSBOX_OCI_PROGRAMS"
  else mapfile -t programs < "$vdir/programs.txt"; fi
  headers=(
    "Assertions of the OCI runtime-tools validation programs that $label passes on this machine:"
    "the gate of scripts/test-oci.sh (every one must pass with the runtime under test; for another runtime than runc, its floor)."
    "Recorded with: $runtime_version; runtime-tools $(basename "$vdir") (Debian source)"
    "Regenerate: TSBOX_OCI_RUNTIME=$runtime_arg scripts/test-oci.sh validation --record-baseline")
  run_and_gate validation "$vdir" "$baseline" "${programs[@]}"
}

run_bats() {
  step "runc's integration tests (unpack or reuse)"
  local cache dir files=()
  cache="$(bash "$repo/scripts/oci-suites.sh" bats)"
  dir="$(find "$cache/runc-tests" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1)"
  [[ -f "$dir/tests/integration/helpers.bash" ]] || { echo "test-oci: no runc integration tests in $cache" >&2; return 1; }
  if [[ -n "${TSBOX_OCI_BATS:-}" ]]; then read -r -a files <<< "$TSBOX_OCI_BATS"
  else mapfile -t files < <(find "$dir/tests/integration" -maxdepth 1 -name '*.bats' -printf '%f\n' | sed 's/\.bats$//' | sort); fi
  local skip="${TSBOX_OCI_BATS_SKIP-$([[ "$label" == runc ]] || echo update)}" f kept=()
  for f in "${files[@]}"; do
    if [[ " $skip " == *" $f "* ]]; then echo "bats: skipping $f.bats (TSBOX_OCI_BATS_SKIP)"; else kept+=("$f"); fi
  done
  files=("${kept[@]}")
  headers=(
    "runc's own integration tests (tests/integration/*.bats) that $label passes on this machine:"
    "the gate of scripts/test-oci.sh bats (every one must pass with the runtime under test; for another runtime than runc, its floor)."
    "Recorded with: $runtime_version; the tests of Debian's runc $(basename "$dir")"
    "Regenerate: TSBOX_OCI_RUNTIME=$runtime_arg scripts/test-oci.sh bats --record-baseline")
  run_and_gate bats "$dir/tests/integration" "$bats_baseline" "${files[@]}"
}

# The last line counts the suites whose gate held (each suite's own totals are above it: runc
# itself fails some assertions, so those lines are no verdict).
held=() broke=() t0=$SECONDS
for s in "${suites[@]}"; do
  t=$SECONDS
  ok=1
  case "$s" in
    validation) run_validation || ok=0 ;;
    bats) run_bats || ok=0 ;;
    cri)
      step "cri: containerd with runtime handler tsbox (= $runtime)"
      mkdir -p "$results_root"
      # 9>&-: daemons and shims must not keep the run lock.
      bash "$repo/test/oci/cri-runtime.sh" "$runtime" 9>&- | tee "$results_root/cri.tap" || ok=0
      ;;
    docker)
      step "docker: docker run --runtime tsbox (= $runtime) on a separate dockerd"
      mkdir -p "$results_root"
      bash "$repo/test/oci/docker-runtime.sh" "$runtime" 9>&- | tee "$results_root/docker.tap" || ok=0
      ;;
  esac
  echo "$s took $((SECONDS - t))s"
  if (( ok )); then held+=("$s"); else broke+=("$s"); fi
done
echo
echo "test:oci with $label in $((SECONDS - t0))s: gate held for: ${held[*]:-none}; broken for: ${broke[*]:-none}"
echo "oci: ${#held[@]} passed, ${#broke[@]} failed"
(( ${#broke[@]} == 0 ))
