#!/usr/bin/env bash
# containerd with the runtime under test, as a Kubernetes node would use it (CRI with a
# RuntimeClass handler) and as `ctr run --runc-binary` does:
#
#   test/oci/cri-runtime.sh [RUNTIME]      (default: this repo's bin/tsbox-runc.js)
#
# Starts a containerd of its own (own config, root, state, sockets; Debian's containerd 1.6 has
# the CRI plugin built in) whose CRI config has a runtime handler "tsbox": runtime_type
# io.containerd.runc.v2 with options BinaryName=<runtime> (what a RuntimeClass `handler: tsbox`
# selects). Images (busybox, and a pause image for the pod sandbox) are built locally as an OCI
# layout from Debian's busybox-static and imported with ctr: no registry is needed. Pods use the
# host network, so no CNI is involved. Then:
#   ctr run --runc-binary RUNTIME  (echo, exit code)
#   test/oci/cri-checks.ts         (pod sandbox, containers, exec, logs, stop, remove via CRI)
# Output is TAP, then `ctr: ...` and `cri: N passed, N failed`. Exit 1 when a check failed; when
# RUNTIME does not exist everything is skipped with the reason (exit 0).
#
# Environment: TSBOX_OCI_CONTAINERD_LOG (default .tmp/oci/<label>/containerd.log),
#              TSBOX_OCI_KEEP=1 keeps the scratch directory.
# Single-quoted commands are expanded by the shell inside the container:
# shellcheck disable=SC2016
set -euo pipefail
exec </dev/null

here="$(cd "$(dirname "$0")/../.." && pwd -P)"
runtime="${1:-$here/bin/tsbox-runc.js}"
if [[ "$runtime" != */* ]]; then runtime="$(command -v "$runtime" || true)"; fi
if [[ -z "$runtime" || ! -x "$runtime" ]]; then
  echo "cri: SKIP: the runtime ${1:-bin/tsbox-runc.js} does not exist (yet) or is not executable"
  exit 0
fi
[[ "$(id -u)" == 0 ]] || { echo "cri: needs root (it starts a containerd)" >&2; exit 1; }
for tool in containerd ctr; do
  command -v "$tool" >/dev/null || { echo "cri: $tool is not installed (Debian: apt-get install containerd)" >&2; exit 1; }
done
export PATH="$here/node_modules/.bin:$PATH"
label="$(basename "$runtime")"; label="${label%.js}"
mkdir -p "$here/.tmp/oci/$label"
log="${TSBOX_OCI_CONTAINERD_LOG:-$here/.tmp/oci/$label/containerd.log}"

# Short: the sockets live here (a unix socket path has 108 bytes).
dir="$(mktemp -d /tmp/tsbox-oci-ctrd.XXXXXX)"
chmod 0755 "$dir"
sock="$dir/containerd.sock"
cgroup_parent=/tsbox-oci-cri
pid=""

cleanup() {
  local rc=$? i m d
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    # Pods left by a failed check: stop and remove them through CRI's own namespace first.
    for d in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n k8s.io tasks kill -s KILL "$d" >/dev/null 2>&1 || true
    done
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  # Shims outlive containerd by design; each wrote its pid into our state directory.
  for d in "$dir"/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
    if [[ -f "$d" ]]; then kill -KILL "$(cat "$d")" 2>/dev/null || true; fi
  done
  # Processes still rooted in our directories (containers a runtime left), then mounts under it.
  for d in $(find /proc -mindepth 2 -maxdepth 2 -name root -lname "$dir/*" 2>/dev/null | cut -d/ -f3 | sort -un); do
    kill -KILL "$d" 2>/dev/null || true
  done
  while IFS= read -r m; do
    [[ -n "$m" ]] && { umount -l "$m" 2>/dev/null || echo "warning: could not detach $m" >&2; }
  done < <(awk -v d="$dir" '{ p = $5; gsub(/\\040/, " ", p); if (index(p, d "/") == 1) print length(p) "\t" p }' /proc/self/mountinfo | sort -rn | cut -f2-)
  for d in /sys/fs/cgroup/*"$cgroup_parent" /sys/fs/cgroup"$cgroup_parent"; do
    [[ -d "$d" ]] || continue
    find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
    rmdir "$d" 2>/dev/null || echo "warning: could not remove cgroup $d" >&2
  done
  if [[ "${TSBOX_OCI_KEEP:-0}" == 1 ]]; then echo "kept $dir" >&2
  else rm -rf --one-file-system "$dir" 2>/dev/null || echo "warning: could not remove all of $dir" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- images: an OCI layout with busybox and a pause image, from busybox-static ---------------------
blob() { # blob FILE -> prints "sha256:<hex> <size>", stores it under $dir/oci/blobs
  local h
  h="$(sha256sum "$1" | cut -d' ' -f1)"
  mkdir -p "$dir/oci/blobs/sha256"
  cp "$1" "$dir/oci/blobs/sha256/$h"
  echo "sha256:$h $(stat -c %s "$1")"
}
bash "$here/scripts/make-busybox-rootfs.sh" "$dir/layer.tar" 2>/dev/null
read -r layer_digest layer_size < <(blob "$dir/layer.tar")
manifests=()
add_image() { # add_image NAME CONFIG_JSON_FRAGMENT
  local name="$1" cfg="$2" cd cs md ms
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],%s},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$cfg" "$layer_digest" > "$dir/config.json"
  read -r cd cs < <(blob "$dir/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$cd" "$cs" "$layer_digest" "$layer_size" > "$dir/manifest.json"
  read -r md ms < <(blob "$dir/manifest.json")
  manifests+=("$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"local"}}' "$md" "$ms" "$name")")
}
image=docker.io/tsbox-oci/busybox:local
pause=docker.io/tsbox-oci/pause:local
add_image "$image" '"Cmd":["sh"]'
# The pod's pause process: waits until it is told to stop.
add_image "$pause" '"Entrypoint":["/bin/sh","-c","trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]'
(IFS=,; printf '{"schemaVersion":2,"manifests":[%s]}' "${manifests[*]}") > "$dir/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci/oci-layout"
tar -cf "$dir/images.tar" -C "$dir/oci" .

# --- containerd --------------------------------------------------------------------------------------
mkdir -p "$dir/root" "$dir/state" "$dir/cni" "$dir/logs" "$dir/runtime-root"
cat > "$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # Root here may lack CAP_SYS_RESOURCE: the pause container's oom_score_adj of -998 could not be
  # set. This keeps every container's at or above containerd's own (as for rootless nodes).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    # What a Kubernetes RuntimeClass with handler "tsbox" selects (see docs/oci-conformance.md).
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsbox]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsbox.options]
        BinaryName = "$runtime"
        Root = "$dir/runtime-root"
EOF
echo "# starting containerd ($dir, log $log)"
# PATH goes on to the shims, which run the runtime (a #!/usr/bin/env node script needs node).
containerd --config "$dir/config.toml" --log-level info >"$log" 2>&1 </dev/null &
pid=$!
for ((i = 0; i < 120; i++)); do
  ctr -a "$sock" version >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "containerd exited; last lines of $log:" >&2; tail -n 20 "$log" >&2; exit 1; }
  sleep 0.25
done
ctr -a "$sock" version >/dev/null
for ns in k8s.io tsbox-oci; do
  ctr -a "$sock" -n "$ns" images import --all-platforms "$dir/images.tar" >/dev/null
done

n=0 passed=0 failed=0
expect() { # expect DESCRIPTION COMMAND...
  n=$((n + 1))
  if "${@:2}"; then passed=$((passed + 1)); echo "ok $n - $1"; else failed=$((failed + 1)); echo "not ok $n - $1"; fi
}
eq() { [[ "$1" == "$2" ]]; }

echo "TAP version 13"
t0=$SECONDS
# --- ctr run --runc-binary -----------------------------------------------------------------------------
out="$(timeout 60 ctr -a "$sock" -n tsbox-oci run --rm --runc-binary "$runtime" --runc-root "$dir/runtime-root" --cgroup "$cgroup_parent/ctr1" "$image" tsbox-oci-ctr1 echo hello from ctr 2>&1)" || true
expect "ctr run --runc-binary: output" eq "$out" "hello from ctr"
code=0
timeout 60 ctr -a "$sock" -n tsbox-oci run --rm --runc-binary "$runtime" --runc-root "$dir/runtime-root" --cgroup "$cgroup_parent/ctr2" "$image" tsbox-oci-ctr2 sh -c 'exit 7' >/dev/null 2>&1 || code=$?
expect "ctr run --runc-binary: exit code 7" eq "$code" 7
left="$(ctr -a "$sock" -n tsbox-oci containers ls -q)"
expect "ctr run --rm leaves no container" eq "$left" ""
echo "# ctr checks took $((SECONDS - t0))s"

# --- CRI -------------------------------------------------------------------------------------------------
t0=$SECONDS
crirc=0
tsx "$here/test/oci/cri-checks.ts" --socket "$sock" --handler tsbox --image "$image" \
  --logdir "$dir/logs" --cgroup-parent "$cgroup_parent" > "$dir/cri.tap" || crirc=$?
# Renumber the CRI points after the ctr ones, so the output is one TAP stream.
while IFS= read -r line; do
  if [[ "$line" =~ ^(not\ )?ok\ [0-9]+\ -\ (.*)$ ]]; then
    n=$((n + 1))
    if [[ -n "${BASH_REMATCH[1]}" ]]; then failed=$((failed + 1)); echo "not ok $n - cri: ${BASH_REMATCH[2]}"
    else passed=$((passed + 1)); echo "ok $n - cri: ${BASH_REMATCH[2]}"; fi
  elif [[ "$line" =~ ^1\.\. || "$line" =~ ^cri: ]]; then
    :
  else
    echo "$line"
  fi
done < "$dir/cri.tap"
(( crirc == 0 || failed > 0 )) || { failed=$((failed + 1)); n=$((n + 1)); echo "not ok $n - cri: the checks ran to the end (exit $crirc)"; }
left="$(find "$dir/runtime-root" -mindepth 2 -maxdepth 2 2>/dev/null)"
expect "no runtime state is left under the handler's root" eq "$left" ""
echo "# CRI checks took $((SECONDS - t0))s"
echo "1..$n"
echo "cri: $passed passed, $failed failed"
(( failed == 0 ))
