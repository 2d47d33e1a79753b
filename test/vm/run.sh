#!/usr/bin/env bash
# Run tsbox's tests on a real cgroup v2 kernel: a small qemu guest (`npm run test:v2`).
#
#   test/vm/run.sh [CMD...]
#
# Boots Debian 12's generic kernel (pure cgroup v2: cgroup_no_v1=all) under qemu with
# software emulation, with the host's / shared read-only over virtio-9p under a tmpfs
# overlay as the guest's root, and this project shared read-write at the same path.
# CMD runs there as root, in the project directory, with the host's Node 24 first on PATH;
# the script exits with CMD's exit code. Default CMD: the cgroup v2 suite
#   npx vitest run test/cgroupfs.kernel.test.ts test/smoke/run.smoke.test.ts \
#     test/run.isolation.test.ts test/run.lifecycle.test.ts test/run.resources.test.ts test/run.accounting.test.ts \
#     test/exec.test.ts test/runc.lifecycle.test.ts test/runc.userns.test.ts test/network.test.ts \
#     test/mem.balance.test.ts test/mem.balloon.test.ts
# (with a wrapper config, see TSBOX_VM_VITEST_YIELD).
# The guest's console is printed live; a copy is kept in $TSBOX_VM_CACHE/last-run.log.
# See test/vm/README.md (how it works, costs, pitfalls).
#
# Needs root (apt, and 9p passthrough of root-owned files). Installs qemu-system-x86, cpio
# and busybox-static if missing; downloads the kernel package with `apt-get download` and
# unpacks it with `dpkg -x` into the cache (nothing of it is installed on the host).
#
# Environment:
#   TSBOX_VM_CACHE     cache dir (default $XDG_CACHE_HOME/tsbox-vm, else /var/cache/tsbox-vm)
#   TSBOX_VM_REFRESH=1 re-download the newest kernel package and rebuild the initramfs
#   TSBOX_VM_KERNEL_PKG kernel package to use (default: what linux-image-amd64 depends on,
#                      linux-image-6.1.0-N-amd64; never -cloud-: it has no 9p)
#   TSBOX_VM_TIMEOUT   seconds before the guest is killed (default 1500), exit code 124
#   TSBOX_VM_MEM       guest memory in MiB (default 2048)
#   TSBOX_VM_CPUS      guest vCPUs (default 2)
#   TSBOX_VM_NODE_DIR  directory holding Node 24's `node` (default: /opt/node24/bin, or
#                      the `node` on PATH if it is Node 24)
#   TSBOX_VM_BUILD=0   skip `npm run build` on the host before booting (default: build,
#                      as `npm test` does; it is ~15x faster on the host than in the guest)
#   TSBOX_VM_STATEFS   filesystem of the guest's /tmp, /var/tmp and /var/lib/tsbox: ext4 (default;
#                      a fresh sparse disk per run, made on the host) or tmpfs (no user.*
#                      xattrs on the 6.1 kernel's tmpfs: two image.import tests fail)
#   TSBOX_VM_PROJECT_CACHE  9p cache mode of the project share (default mmap: coherent with
#                      edits made on the host during the run; loose is faster, and is not)
#   TSBOX_VM_CGROUP    run CMD in this cgroup (e.g. /system.slice/ci.service) instead of the
#                      root cgroup, as systemd would; created, not given any controller
#   TSBOX_VM_VITEST_YIELD=0  run the default suite with the project's vitest config as is (see
#                      "vitest's 60 s worker RPC timeout" in README.md; custom commands can
#                      use `--config "$TSBOX_VM_VITEST_CONFIG"` for the same wrapper)
#   TSBOX_VM_DEBUG=1   show the guest kernel's messages (drops `quiet`)
# Exit codes: CMD's; 124 timeout; 125 the VM failed (setup error, crash, no exit code).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/../.." && pwd -P)"

cache="${TSBOX_VM_CACHE:-}"
if [[ -z "$cache" ]]; then
  if [[ -n "${XDG_CACHE_HOME:-}" ]]; then cache="$XDG_CACHE_HOME/tsbox-vm"; else cache=/var/cache/tsbox-vm; fi
fi
timeout_s="${TSBOX_VM_TIMEOUT:-1500}"
mem_mib="${TSBOX_VM_MEM:-2048}"
cpus="${TSBOX_VM_CPUS:-2}"
guest_cgroup="${TSBOX_VM_CGROUP:-}"
statefs="${TSBOX_VM_STATEFS:-ext4}"
project_cache="${TSBOX_VM_PROJECT_CACHE:-mmap}"
msize=512000

suite=(test/cgroupfs.kernel.test.ts test/smoke/run.smoke.test.ts test/run.isolation.test.ts
  test/run.lifecycle.test.ts test/run.resources.test.ts test/run.accounting.test.ts test/exec.test.ts
  test/runc.lifecycle.test.ts test/runc.userns.test.ts test/network.test.ts test/mem.balance.test.ts
  test/mem.balloon.test.ts)
default=0
if (( $# )); then cmd=("$@"); else cmd=(npx vitest run "${suite[@]}"); default=1; fi

say() { printf 'test-vm: %s\n' "$*" >&2; }
die() { printf 'test-vm: error: %s\n' "$*" >&2; exit 125; }

(( EUID == 0 )) || die "must run as root (apt-get, 9p passthrough of root-owned files, tsbox itself in the guest)"
[[ "$timeout_s" =~ ^[0-9]+$ && "$mem_mib" =~ ^[0-9]+$ && "$cpus" =~ ^[0-9]+$ ]] ||
  die "TSBOX_VM_TIMEOUT, TSBOX_VM_MEM and TSBOX_VM_CPUS must be whole numbers"
[[ "$statefs" == ext4 || "$statefs" == tmpfs ]] || die "TSBOX_VM_STATEFS must be ext4 or tmpfs"
[[ "$project_cache" =~ ^(none|mmap|loose)$ ]] || die "TSBOX_VM_PROJECT_CACHE must be none, mmap or loose"
[[ -z "$guest_cgroup" || "$guest_cgroup" =~ ^(/[A-Za-z0-9_.@:-]+)+$ ]] || die "TSBOX_VM_CGROUP must look like /a/b"
t_start=$SECONDS

# Everything this script starts or creates is undone on exit: the qemu process (killed,
# then waited for) and temporary dirs. Nothing is mounted on the host.
qpid=""
tmp_paths=()
# shellcheck disable=SC2317  # (called from the traps)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$qpid" ]] && kill -0 "$qpid" 2>/dev/null; then
    kill -TERM "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
  fi
  (( ${#tmp_paths[@]} == 0 )) || rm -rf "${tmp_paths[@]}"
  rmdir "$repo/.tmp/vm" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# ---------------------------------------------------------------------------------------
# Host packages
# ---------------------------------------------------------------------------------------
apt_updated=0
apt_update_once() { (( apt_updated )) || { say "apt-get update"; apt-get update -qq; apt_updated=1; }; }

is_static() { [[ -x "$1" ]] && ! ldd "$1" >/dev/null 2>&1; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
is_static /bin/busybox || need+=(busybox-static)
command -v depmod >/dev/null || need+=(kmod)
command -v xz >/dev/null || need+=(xz-utils)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if (( ${#need[@]} )); then
  say "installing ${need[*]}"
  t0=$SECONDS
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  say "installed ${need[*]} in $((SECONDS - t0))s"
fi
is_static /bin/busybox || die "/bin/busybox is not a static binary (install busybox-static)"

# ---------------------------------------------------------------------------------------
# Kernel (cached): $cache/kernel/{vmlinux,config,package,lib/modules/$kver}
# ---------------------------------------------------------------------------------------
mkdir -p "$cache"
kdir="$cache/kernel"

kernel_package() {
  local p="${TSBOX_VM_KERNEL_PKG:-}"
  if [[ -z "$p" ]]; then
    p="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')"
    if [[ -z "$p" ]]; then
      apt_update_once
      p="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')"
    fi
  fi
  [[ -n "$p" ]] || die "cannot find the kernel package (apt-cache depends linux-image-amd64 names none)"
  [[ "$p" =~ ^linux-image-[0-9][^[:space:]]*-amd64$ && "$p" != *-cloud-* && "$p" != *-rt-* ]] ||
    die "kernel package $p: want the generic linux-image-<version>-amd64 (the cloud kernel has no 9p)"
  printf '%s\n' "$p"
}

build_kernel() {
  local pkg tmp deb kver off
  pkg="$(kernel_package)" || exit 125
  say "kernel: downloading $pkg (apt-get download) into $cache"
  tmp="$cache/kernel.new.$$"
  tmp_paths+=("$tmp")
  rm -rf "$tmp"
  mkdir -p "$tmp/root"
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null) || {
    apt_update_once
    (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
  }
  deb="$(ls "$tmp"/*.deb)"
  dpkg -x "$deb" "$tmp/root"
  kver="$(ls "$tmp/root/lib/modules")"
  [[ -n "$kver" && -f "$tmp/root/boot/vmlinuz-$kver" ]] || die "unexpected layout in $deb"
  # Keep the modules a test might load (fs, net, block, virtio, ...); drop hardware-only
  # trees (~240 of ~430 MB). modules.dep is made by the postinst, not shipped: make it.
  (cd "$tmp/root/lib/modules/$kver/kernel" && rm -rf sound net/{mac80211,wireless,bluetooth} \
    drivers/{gpu,media,infiniband,net/wireless,net/ethernet,usb,iio,staging,comedi,hwmon,hid,input,bluetooth,isdn,mtd,thunderbolt,firewire,video,nfc})
  depmod -b "$tmp/root" "$kver"
  # The uncompressed kernel boots much faster under emulation (no decompressor run):
  # vmlinuz is a bzImage whose payload is an xz stream.
  off="$(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$tmp/root/boot/vmlinuz-$kver" | head -n1 | cut -d: -f1)"
  [[ -n "$off" ]] || die "no xz stream in vmlinuz-$kver"
  # (xz stops reading at the end of the stream: tail's SIGPIPE is expected)
  { tail -c "+$((off + 1))" "$tmp/root/boot/vmlinuz-$kver" || true; } | xz -dc --single-stream > "$tmp/vmlinux"
  [[ "$(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' \n')" == 7f454c46 ]] || die "extracted vmlinux is not an ELF file"
  mkdir -p "$tmp/kernel/lib"
  mv "$tmp/root/lib/modules" "$tmp/kernel/lib/modules"
  mv "$tmp/vmlinux" "$tmp/kernel/vmlinux"
  cp "$tmp/root/boot/config-$kver" "$tmp/kernel/config"
  printf '%s %s %s\n' "$pkg" "$(dpkg-deb -f "$deb" Version)" "$kver" > "$tmp/kernel/package"
  rm -rf "$kdir" "$cache/initramfs.cpio" "$cache/initramfs.stamp"
  mv "$tmp/kernel" "$kdir"
  rm -rf "$tmp"
}

# ---------------------------------------------------------------------------------------
# Initramfs (cached; rebuilt when its inputs change): busybox as /init's shell, the
# modules needed for virtio-pci, 9p and overlayfs. Stage 1 mounts the guest's root and
# switch_root()s into it (a chroot would leave `unshare --user` failing with EPERM).
# ---------------------------------------------------------------------------------------
read -r -d '' stage1 <<'STAGE1' || true
#!/bin/busybox sh
# tsbox test VM, stage 1: PID 1 in the initramfs.
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "test-vm init: $*"; echo "test-vm init: dropping to power-off"; poweroff -f; sleep 5; exit 1; }
mkdir -p /proc /sys /dev /lower /rw /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/modules/$m" || fail "insmod $m failed"; done < /modules.load
opts=trans=virtio,version=9p2000.L,msize=@MSIZE@
mount9p() { # tag dir extra-options; the virtio device may appear a moment after insmod
  i=0
  until mount -t 9p -o "$opts$3" "$1" "$2" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 50 ] || { mount -t 9p -o "$opts$3" "$1" "$2"; return 1; }
    sleep 0.1
  done
}
# the host's / (read-only; the host does not change it during a run: cache=loose)
mount9p hostroot /lower ",ro,cache=loose" || fail "cannot mount the hostroot 9p share"
# writable layer on tmpfs (trusted.* xattrs work on tmpfs: overlayfs can use it as upper)
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "overlay root"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
mkdir -p /newroot/run/tsbox-vm
mount9p tsboxctl /newroot/run/tsbox-vm ",cache=none" || fail "cannot mount the tsboxctl 9p share"
[ -f /newroot/run/tsbox-vm/stage2.sh ] || fail "no stage2.sh in the control share"
for d in proc sys dev; do mount --move /$d /newroot/$d || fail "mount --move /$d"; done
exec switch_root /newroot /bin/bash /run/tsbox-vm/stage2.sh
STAGE1
stage1="${stage1//@MSIZE@/$msize}"

initrd_modules=(virtio_pci 9pnet_virtio 9p overlay)

build_initramfs() {
  local kver="$1" stamp="$2" stage line path seen=" " n
  stage="$cache/initramfs.new.$$"
  tmp_paths+=("$stage" "$cache/initramfs.cpio.new")
  rm -rf "$stage"
  mkdir -p "$stage"/{bin,dev,modules}
  cp /bin/busybox "$stage/bin/busybox"
  printf '%s\n' "$stage1" > "$stage/init"
  chmod 0755 "$stage/init"
  mknod -m 0600 "$stage/dev/console" c 5 1
  : > "$stage/modules.load"
  # load order from modprobe (dependencies first); built-in ones are skipped
  while read -r line; do
    [[ "$line" == insmod\ * ]] || continue
    path="$(awk '{ print $2 }' <<< "$line")"
    n="$(basename "$path")"
    [[ "$seen" != *" $n "* ]] || continue
    seen+="$n "
    case "$n" in
      *.ko) cp "$path" "$stage/modules/$n" ;;
      *.ko.xz) n="${n%.xz}"; xz -dc "$path" > "$stage/modules/$n" ;;
      *.ko.zst) n="${n%.zst}"; zstd -qdc "$path" > "$stage/modules/$n" ;;
      *) die "unexpected module file $path" ;;
    esac
    printf '%s\n' "$n" >> "$stage/modules.load"
  done < <(for m in "${initrd_modules[@]}"; do modprobe -d "$kdir" -S "$kver" --show-depends "$m" || exit 1; done)
  [[ -s "$stage/modules.load" ]] || die "modprobe found none of ${initrd_modules[*]} in $kdir"
  # uncompressed: the kernel would otherwise decompress it under emulation
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$cache/initramfs.cpio.new"
  mv -f "$cache/initramfs.cpio.new" "$cache/initramfs.cpio"
  printf '%s\n' "$stamp" > "$cache/initramfs.stamp"
  say "initramfs: $(tr '\n' ' ' < "$stage/modules.load")($(( $(stat -c %s "$cache/initramfs.cpio") / 1024 )) KiB)"
  rm -rf "$stage"
}

t0=$SECONDS
cold=0
exec 9>"$cache/.lock"
flock 9
if [[ "${TSBOX_VM_REFRESH:-0}" == 1 || ! -s "$kdir/vmlinux" || ! -s "$kdir/package" ]]; then
  build_kernel
  cold=1
fi
read -r kpkg kpkgver kver < "$kdir/package"
stamp="$(printf '%s\n%s\n%s\n' "$stage1" "${initrd_modules[*]}" "$kver" | cat - /bin/busybox | sha256sum | cut -c1-16)"
if [[ ! -s "$cache/initramfs.cpio" || "$(cat "$cache/initramfs.stamp" 2>/dev/null)" != "$stamp" ]]; then
  build_initramfs "$kver" "$stamp"
  cold=1
fi
exec 9>&-
if (( cold )); then say "kernel $kpkg $kpkgver and initramfs ready in $((SECONDS - t0))s (cache: $cache)"; fi

# ---------------------------------------------------------------------------------------
# Node 24 and the build
# ---------------------------------------------------------------------------------------
node_major() { "$1/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true; }
node_dir="${TSBOX_VM_NODE_DIR:-}"
if [[ -z "$node_dir" ]]; then
  for d in /opt/node24/bin "$(dirname "$(command -v node 2>/dev/null || echo /nonexistent/node)")"; do
    if [[ "$(node_major "$d")" == 24 ]]; then node_dir="$d"; break; fi
  done
fi
[[ -n "$node_dir" && "$(node_major "$node_dir")" == 24 ]] || die "no Node 24 found (set TSBOX_VM_NODE_DIR)"
node_dir="$(cd "$node_dir" && pwd -P)"
guest_path="$node_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

if [[ "${TSBOX_VM_BUILD:-1}" != 0 ]]; then
  say "npm run build (on the host)"
  t0=$SECONDS
  (cd "$repo" && PATH="$node_dir:$PATH" npm run build --silent) || die "npm run build failed"
  say "built in $((SECONDS - t0))s"
fi

# ---------------------------------------------------------------------------------------
# Stage 2: PID 1 in the final root (the host's / under a tmpfs overlay), written per run
# into the control share. Runs CMD and powers the guest off.
# ---------------------------------------------------------------------------------------
ctl="$(mktemp -d /tmp/tsbox-vm.XXXXXX)"
tmp_paths+=("$ctl")
chmod 0755 "$ctl"

# vitest's worker answers the main process over an RPC with a fixed 60 s timeout, and the
# reply is only read when the worker's event loop turns. A file of synchronous tests that
# runs longer than 60 s in all (run.isolation under emulation: 45-120 s) never lets it turn,
# so a green run exits 1 with `[vitest-worker]: Timeout calling "onTaskUpdate"`. The wrapper
# config adds a setup file whose afterEach yields one macrotask after every test.
[[ "$repo" != *[\\\"\$\`]* ]] || die "the project path $repo has characters the generated config cannot hold"
vmdir="$repo/.tmp/vm/run-$$"
tmp_paths+=("$vmdir")
mkdir -p "$vmdir"
cat > "$vmdir/yield.setup.mjs" <<'EOF'
// Generated by test/vm/run.sh: let the worker's event loop turn after every test, so that
// vitest's RPC replies are read before its fixed 60 s timeout fires (slow emulated CPU).
import { afterEach } from "vitest";
const immediate = globalThis.setImmediate;
afterEach(() => new Promise((resolve) => immediate(resolve)));
EOF
cat > "$vmdir/vitest.config.mjs" <<EOF
// Generated by test/vm/run.sh: the project's vitest config plus yield.setup.mjs.
import base from "$repo/vitest.config.ts";
const test = base.test ?? {};
export default {
  ...base,
  root: "$repo",
  // Emulated CPUs run a test 10-30x slower: four times the project's per-test budget.
  test: { ...test, testTimeout: (test.testTimeout ?? 60000) * 4, setupFiles: [...[test.setupFiles ?? []].flat(), "$vmdir/yield.setup.mjs"] },
};
EOF
if (( default )) && [[ "${TSBOX_VM_VITEST_YIELD:-1}" != 0 ]]; then
  cmd=(npx vitest run --config "$vmdir/vitest.config.mjs" "${suite[@]}")
fi

q() { printf '%q ' "$@"; }
{
  cat <<'EOF'
#!/bin/bash
# tsbox test VM, stage 2: PID 1 in the final root. Generated by test/vm/run.sh.
set -u
ctl=/run/tsbox-vm
finish() { # exit code → the host, then power off (PID 1 exiting would panic; -no-reboot ends qemu then)
  echo "$1" > "$ctl/rc.tmp" && mv -f "$ctl/rc.tmp" "$ctl/rc"
  sync
  /bin/busybox poweroff -f
  exit "$1"
}
fail() { echo "test-vm stage2: $*"; finish 125; }
EOF
  printf 'repo=%s\nkver=%s\nkmods=%s\nguest_cgroup=%s\nstatefs=%s\ncmd=(%s)\n' \
    "$(q "$repo")" "$(q "$kver")" "$(q "$kdir/lib/modules/$kver")" "$(q "$guest_cgroup")" "$statefs" "$(q "${cmd[@]}")"
  printf 'export PATH=%s HOME=/root LANG=C.UTF-8 TERM=dumb TSBOX_VM_VITEST_CONFIG=%s TSBOX_IN_VM=1\n' "$(q "$guest_path")" "$(q "$vmdir/vitest.config.mjs")"
  if [[ -t 1 ]]; then echo 'export FORCE_COLOR=1'; fi
  cat <<'EOF'
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
stty -onlcr 2>/dev/null   # plain \n on the serial console
cd /
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts /dev/pts || fail "devpts"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm || fail "/dev/shm"
ln -sfn /proc/self/fd /dev/fd; ln -sfn fd/0 /dev/stdin; ln -sfn fd/1 /dev/stdout; ln -sfn fd/2 /dev/stderr
# cgroup2 as systemd mounts it; enabling controllers is tsbox's job, not the VM's
mount -t cgroup2 -o nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
  fail "cannot mount cgroup2"
# this kernel's modules for on-demand loading (modprobe is the host's kmod)
mkdir -p "/lib/modules/$kver" && mount --bind "$kmods" "/lib/modules/$kver" && mount -o remount,bind,ro "/lib/modules/$kver" ||
  fail "cannot bind $kmods"
# Scratch and state dirs (state roots, overlay upper dirs, whiteouts): not the overlay root
# (overlayfs refuses an overlay as upper dir), not 9p. ext4 on a fresh disk (vda) by default,
# as on a real host; tmpfs works too but has no user.* xattrs before Linux 6.6.
if [ "$statefs" = ext4 ]; then
  modprobe -a virtio_blk ext4 || fail "modprobe virtio_blk ext4"
  for _ in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
  mkdir -p /run/state && mount -t ext4 -o noinit_itable /dev/vda /run/state || fail "cannot mount the state disk"
  mkdir -p /run/state/tmp /run/state/var-tmp /run/state/var-lib-tsbox
  chmod 1777 /run/state/tmp /run/state/var-tmp && chmod 0711 /run/state/var-lib-tsbox
  mkdir -p /var/lib/tsbox
  for pair in tmp:/tmp var-tmp:/var/tmp var-lib-tsbox:/var/lib/tsbox; do
    mount --bind "/run/state/${pair%%:*}" "${pair#*:}" || fail "bind ${pair#*:}"
  done
else
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp || fail "/tmp"
  mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /var/tmp || fail "/var/tmp"
  mkdir -p /var/lib/tsbox && mount -t tmpfs -o mode=0711 tmpfs /var/lib/tsbox || fail "/var/lib/tsbox"
fi
# the project, read-write, at the host's path
mkdir -p "$repo" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=@MSIZE@,cache=@PCACHE@ project "$repo" ||
  fail "cannot mount the project share at $repo"
# the scratch disk (sda, 8:0): a real block device for device-access and io.max tests
if modprobe -a virtio_scsi sd_mod; then
  for _ in $(seq 50); do [ -b /dev/sda ] && break; sleep 0.1; done
fi
[ -b /dev/sda ] || echo "test-vm: warning: no scratch disk /dev/sda"
ip link set lo up || fail "lo up"
hostname tsbox-v2-vm && echo tsbox-v2-vm > /etc/hostname
if [ -n "$guest_cgroup" ]; then mkdir -p "/sys/fs/cgroup$guest_cgroup" || fail "mkdir cgroup $guest_cgroup"; fi
echo "test-vm: guest up: kernel $(uname -r), $(nproc) vCPU, $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers), $(awk '{ print int($1) }' /proc/uptime)s since boot"
echo "test-vm: running in $repo${guest_cgroup:+ (cgroup $guest_cgroup)}: ${cmd[*]}"
cd "$repo" || fail "cd $repo"
# not a terminal: test reporters print plain lines
(
  if [ -n "$guest_cgroup" ]; then echo "$BASHPID" > "/sys/fs/cgroup$guest_cgroup/cgroup.procs" || exit 125; fi
  exec "${cmd[@]}" </dev/null
) 2>&1 | cat
finish "${PIPESTATUS[0]}"
EOF
} > "$ctl/stage2.sh"
sed -i "s/@MSIZE@/$msize/g; s/@PCACHE@/$project_cache/g" "$ctl/stage2.sh"
truncate -s 64M "$ctl/scratch.img"   # sparse; the guest's /dev/sda
if [[ "$statefs" == ext4 ]]; then     # sparse; the guest's /dev/vda: /tmp, /var/tmp, /var/lib/tsbox
  truncate -s 16G "$ctl/state.img"
  mkfs.ext4 -q -F -L tsbox-state -E lazy_itable_init=1,lazy_journal_init=1 "$ctl/state.img"
fi

# ---------------------------------------------------------------------------------------
# Boot
# ---------------------------------------------------------------------------------------
# no_timer_check: under emulation the boot-time timer IRQ check can fail spuriously
append="console=ttyS0 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 panic=-1 mitigations=off no_timer_check"
[[ "${TSBOX_VM_DEBUG:-0}" == 1 ]] || append="quiet $append"
log="$cache/last-run.log"
: > "$log"
qemu=(qemu-system-x86_64
  -name tsbox-test-vm
  -accel tcg -cpu max -smp "$cpus" -m "$mem_mib"
  -nodefaults -no-user-config -display none -vga none -no-reboot
  -chardev "stdio,id=con,signal=off,logfile=$log"
  -serial chardev:con
  -kernel "$kdir/vmlinux" -initrd "$cache/initramfs.cpio" -append "$append"
  -fsdev "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap"
  -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"
  -fsdev "local,id=project,path=$repo,security_model=passthrough,multidevs=remap"
  -device "virtio-9p-pci,fsdev=project,mount_tag=project"
  -fsdev "local,id=tsboxctl,path=$ctl,security_model=passthrough"
  -device "virtio-9p-pci,fsdev=tsboxctl,mount_tag=tsboxctl"
  -device "virtio-scsi-pci,id=scsi"
  -drive "file=$ctl/scratch.img,format=raw,if=none,id=scratch,cache=unsafe"
  -device "scsi-hd,drive=scratch,bus=scsi.0"
)
if [[ "$statefs" == ext4 ]]; then
  qemu+=(-drive "file=$ctl/state.img,format=raw,if=virtio,cache=unsafe,discard=unmap")
fi

line="========================================================================"
printf '%s\ntest-vm: cgroup v2 guest: %s (%s), %s vCPU, %s MiB, timeout %ss\ntest-vm: command: %s\n%s\n' \
  "$line" "$kpkg" "$kver" "$cpus" "$mem_mib" "$timeout_s" "${cmd[*]}" "$line"
t_boot=$SECONDS
qrc=0
timeout --foreground -k 10 "$timeout_s" "${qemu[@]}" </dev/null &
qpid=$!
wait "$qpid" || qrc=$?
qpid=""

elapsed=$((SECONDS - t_boot))
if [[ -s "$ctl/rc" ]]; then
  rc="$(cat "$ctl/rc")"
  [[ "$rc" =~ ^[0-9]+$ ]] || rc=125
  verdict="exit code $rc"
elif (( qrc == 124 || qrc == 137 )); then
  rc=124
  verdict="TIMEOUT after ${timeout_s}s (guest killed)"
else
  rc=125
  verdict="the guest stopped without an exit code (qemu exit $qrc; see $log)"
fi
printf '%s\ntest-vm: %s; boot + command %ss, total %ss\n%s\n' "$line" "$verdict" "$elapsed" "$((SECONDS - t_start))" "$line"
exit "$rc"
