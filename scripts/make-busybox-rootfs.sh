#!/usr/bin/env bash
# Build a minimal busybox root filesystem tarball, offline, from Debian's busybox-static.
#
#   scripts/make-busybox-rootfs.sh OUT.tar [--gzip]     (OUT "-" writes the tar to stdout)
#
# Contents: /bin/busybox plus a symlink to it for every applet (`busybox --list-full`),
# /etc/passwd (root, app 1000, nobody 65534), /etc/group (root, tty, app, nogroup) and
# the usual empty directories. Everything is owned by 0:0 except /home/app (1000:1000),
# independent of who runs the script (no root needed).
# Environment: BUSYBOX=/path/to/static/busybox (default: /bin/busybox, then PATH).
set -euo pipefail

usage() { echo "usage: $0 OUT.tar [--gzip]" >&2; exit 2; }

out="" gzip=0
for arg in "$@"; do
  case "$arg" in
    --gzip) gzip=1 ;;
    -h|--help) usage ;;
    -) [[ -z "$out" ]] || usage; out="-" ;;
    -*) echo "unknown option: $arg" >&2; usage ;;
    *) [[ -z "$out" ]] || usage; out="$arg" ;;
  esac
done
[[ -n "$out" ]] || usage

bb="${BUSYBOX:-}"
if [[ -z "$bb" ]]; then
  if [[ -x /bin/busybox ]]; then bb=/bin/busybox; else bb="$(command -v busybox || true)"; fi
fi
if [[ -z "$bb" || ! -x "$bb" ]]; then
  echo "busybox not found: apt-get install busybox-static (or set BUSYBOX=...)" >&2
  exit 1
fi
# The rootfs has no libc, so the binary must be static (Debian's `busybox` package is not).
if ldd "$bb" >/dev/null 2>&1; then
  echo "$bb is dynamically linked; install Debian's busybox-static (or set BUSYBOX=...)" >&2
  exit 1
fi

umask 022
stage="$(mktemp -d "${TMPDIR:-/tmp}/tsbox-busybox.XXXXXX")"
tmp_out=""
cleanup() { rm -rf "$stage"; [[ -z "$tmp_out" ]] || rm -f "$tmp_out"; }
trap cleanup EXIT

r="$stage/rootfs"
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home/app,proc,sys,dev,var}
chmod 0700 "$r/root"
chmod 1777 "$r/tmp"
cp "$bb" "$r/bin/busybox"
chmod 0755 "$r/bin/busybox"

mapfile -t applets < <("$bb" --list-full)
for applet in "${applets[@]}"; do
  applet="${applet#/}"
  [[ -n "$applet" && "$applet" != bin/busybox ]] || continue
  [[ "$applet" != */* || -d "$r/${applet%/*}" ]] || mkdir -p "$r/${applet%/*}"
  ln -sfn /bin/busybox "$r/$applet"
done

cat > "$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$r/etc/group" <<'EOF'
root:x:0:
tty:x:5:
app:x:1000:
nogroup:x:65534:
EOF
chmod 0644 "$r/etc/passwd" "$r/etc/group"

# Deterministic output: sorted names, one mtime (SOURCE_DATE_EPOCH or busybox's own).
mtime="@${SOURCE_DATE_EPOCH:-$(stat -c %Y "$bb")}"
common=(--format=gnu --numeric-owner --sort=name --mtime="$mtime" -C "$r")

tar_path="$stage/rootfs.tar"
# Everything but /home/app as 0:0, then append /home/app itself as 1000:1000.
tar -cf "$tar_path" "${common[@]}" --owner=0 --group=0 --exclude=./home/app .
tar -rf "$tar_path" "${common[@]}" --owner=1000 --group=1000 --no-recursion ./home/app

if (( gzip )); then
  gzip -n -6 "$tar_path"
  tar_path="$tar_path.gz"
fi
if [[ "$out" == "-" ]]; then
  cat "$tar_path"
else
  # Write next to OUT, then rename: a reader never sees a partial tarball.
  tmp_out="$(mktemp "$(dirname -- "$out")/.tsbox-rootfs.XXXXXX")"
  cat "$tar_path" > "$tmp_out"
  chmod 0644 "$tmp_out"
  mv -f -- "$tmp_out" "$out"
  tmp_out=""
  echo "wrote $out (${#applets[@]} applets)" >&2
fi
