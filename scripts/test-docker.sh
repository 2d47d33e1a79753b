#!/usr/bin/env bash
# Smoke-test tsbox inside a privileged Docker container (`npm run test:docker`):
#   1. make sure a Docker daemon answers (start dockerd in the background if not; stopped again at exit)
#   2. build the base image tsbox-test-base:bookworm if missing (scripts/build-test-base.sh)
#   3. stage Node 24 + npm 11 from the npm registry into .tmp/docker-node/ (cached), plus the
#      host's local CAs (/usr/local/share/ca-certificates) so npm in the image trusts the same
#   4. docker build -f Dockerfile.test -t tsbox-test .
#   5. docker run --rm --privileged -v tsbox-test-state:/var/lib/tsbox \
#        -v tsbox-test-tmp:/tmp -v tsbox-test-vartmp:/var/tmp tsbox-test [CMD...]
#      (default CMD: npx vitest run test/smoke), then remove the volumes. If root on this
#      machine lacks some capability, --privileged cannot work (runc: "unable to apply caps"),
#      so it is emulated with --cap-add ALL minus those, unconfined seccomp/AppArmor/system
#      paths, all devices allowed and the host's /sys/fs/cgroup bound read-write.
# Extra arguments replace the container's command, e.g.
#   npm run test:docker -- npx vitest run test/smoke/<file>.test.ts     (or the whole suite: npx vitest run)
# Environment: TSBOX_TEST_IMAGE (default tsbox-test), TSBOX_TEST_VOLUMES (volume name prefix,
#              default tsbox-test),
#              TSBOX_DOCKER_HOST_CAS=0 (do not copy the host's local CAs into the image),
#              TSBOX_DOCKER_PRIVILEGED=auto|1|0 (auto: --privileged unless caps are missing).
set -euo pipefail

cd "$(dirname "$0")/.."
here="$PWD"
image="${TSBOX_TEST_IMAGE:-tsbox-test}"
volume_prefix="${TSBOX_TEST_VOLUMES:-tsbox-test}"
volumes=("$volume_prefix-state" "$volume_prefix-tmp" "$volume_prefix-vartmp")

# shellcheck source=scripts/lib/dockerd.sh
source "$here/scripts/lib/dockerd.sh"

volume_created=0
cleanup() {
  local rc=$?
  if (( volume_created )); then
    docker volume rm -f "${volumes[@]}" >/dev/null 2>&1 || echo "warning: could not remove volumes ${volumes[*]}" >&2
  fi
  stop_dockerd
  exit "$rc"
}
trap cleanup EXIT

step() { printf '\n--- test-docker: %s\n' "$*"; }

step "docker daemon"
ensure_dockerd

step "base image"
bash "$here/scripts/build-test-base.sh"

step "stage Node 24 + npm 11 for the image (.tmp/docker-node)"
# --own: always the portable official build, never a distro node linked against distro libs.
node_bin_dir="$(bash "$here/scripts/provision-node.sh" --own)"
stage="$here/.tmp/docker-node"
mkdir -p "$stage"
if ! cmp -s "$node_bin_dir/node" "$stage/node"; then
  cp "$node_bin_dir/node" "$stage/node.new"
  mv -f "$stage/node.new" "$stage/node"
fi
if [[ ! -s "$stage/npm.tgz" ]]; then
  rm -rf "$stage/npm-pack"
  mkdir -p "$stage/npm-pack"
  (cd "$stage/npm-pack" && npm pack npm@11 --silent --pack-destination . </dev/null >/dev/null)
  mv "$stage"/npm-pack/npm-*.tgz "$stage/npm.tgz.new"
  mv -f "$stage/npm.tgz.new" "$stage/npm.tgz"
  rm -rf "$stage/npm-pack"
fi
# Locally added CAs (e.g. of a TLS-inspecting proxy), so npm in the image trusts what the
# host trusts. TSBOX_DOCKER_HOST_CAS=0 leaves them out.
rm -rf "$stage/ca-certificates"
mkdir -p "$stage/ca-certificates"
if [[ "${TSBOX_DOCKER_HOST_CAS:-1}" != 0 && -d /usr/local/share/ca-certificates ]]; then
  find /usr/local/share/ca-certificates -name '*.crt' -type f -exec cp -t "$stage/ca-certificates" {} +
fi
echo "node $("$stage/node" -v), $(tar -xzOf "$stage/npm.tgz" package/package.json | "$stage/node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log("npm "+JSON.parse(s).version))')"

step "docker build -f Dockerfile.test -t $image ."
t0=$SECONDS
# Host networking for RUN steps: apt and npm reach their mirrors the way the host does,
# with no dependence on the bridge's NAT rules.
old_id="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
docker build --network host -f Dockerfile.test -t "$image" .
echo "docker build took $((SECONDS - t0))s"
# Drop the previous build (now untagged) and the untagged "src" stage images (a copy of the
# build context each), so repeated runs do not pile up images. Costs ~2 s of COPY next time.
if [[ -n "$old_id" && "$old_id" != "$(docker image inspect -f '{{.Id}}' "$image")" ]]; then
  docker rmi "$old_id" >/dev/null 2>&1 || true
fi
docker image prune -f --filter label=tsbox.stage=src >/dev/null || true

# --privileged, unless this machine's root lacks capabilities: then runc cannot grant "all"
# capabilities (`unable to apply caps: operation not permitted`), and the privileged set-up is
# rebuilt by hand minus the missing capabilities. TSBOX_DOCKER_PRIVILEGED=1 forces --privileged,
# =0 forces the emulation.
cap_names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
  LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
  SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
  SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
  WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE)
capbnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
last_cap=$(cat /proc/sys/kernel/cap_last_cap)
missing_caps=()
for ((i = 0; i < ${#cap_names[@]} && i <= last_cap; i++)); do
  (( (capbnd >> i) & 1 )) || missing_caps+=("${cap_names[i]}")
done
mode="${TSBOX_DOCKER_PRIVILEGED:-auto}"
if [[ "$mode" == auto ]]; then
  if (( ${#missing_caps[@]} )); then mode=0; else mode=1; fi
fi
if [[ "$mode" == 1 ]]; then
  run_opts=(--privileged)
else
  echo "note: root's bounding set lacks: ${missing_caps[*]:-nothing}; emulating --privileged without them" >&2
  run_opts=(--cap-add ALL
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    --security-opt systempaths=unconfined
    --device-cgroup-rule 'a *:* rwm'
    --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw)
  for cap in "${missing_caps[@]}"; do run_opts+=(--cap-drop "$cap"); done
fi
# The state directory and the tests' scratch dirs (/tmp, /var/tmp: state roots, rootfs trees,
# overlay upper dirs, whiteout device nodes) all need a real filesystem, not the container's
# overlay root: named volumes live on the host's disk (a new volume takes the image dir's 1777).
run_opts+=(-v "$volume_prefix-state:/var/lib/tsbox" -v "$volume_prefix-tmp:/tmp" -v "$volume_prefix-vartmp:/var/tmp")

shown=""
for arg in "${run_opts[@]}" "$image" "$@"; do
  if [[ "$arg" =~ ^[][A-Za-z0-9_./:=,@+-]+$ ]]; then shown+=" $arg"; else shown+=" '$arg'"; fi
done
step "smoke tests: docker run --rm$shown"
volume_created=1
for v in "${volumes[@]}"; do
  docker volume rm -f "$v" >/dev/null 2>&1 || true
  docker volume create "$v" >/dev/null
done
t0=$SECONDS
docker run --rm "${run_opts[@]}" "$image" "$@"
echo "smoke run took $((SECONDS - t0))s"
