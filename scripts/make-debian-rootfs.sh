#!/usr/bin/env bash
# A Debian root filesystem as a tarball, without Docker Hub:
#   debootstrap --variant=minbase bookworm DIR MIRROR  |  tar -C DIR -c .  >  OUT
# Used by scripts/build-test-base.sh (the base of Dockerfile.test) and by the tests that run
# ordinary Debian programs in a container (test/helpers.ts debianTarball). Needs root and debootstrap.
#
# Usage: scripts/make-debian-rootfs.sh OUT.tar
# Environment:
#   TSBOX_DEBIAN_MIRROR    Debian mirror URL       (default: the one this machine's apt uses,
#                                                   else http://deb.debian.org/debian)
set -euo pipefail
out="${1:?usage: make-debian-rootfs.sh OUT.tar}"
suite=bookworm
if [[ "$(id -u)" != 0 ]]; then
  echo "debootstrap needs root" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "debootstrap not found (Debian: apt-get install debootstrap)" >&2
  exit 1
fi
# The Debian archive this machine's apt already uses (deb822 *.sources or one-line *.list),
# so CI behind a local mirror does not need deb.debian.org. Security/ports archives are skipped.
detect_mirror() {
  local f uri
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    while read -r uri; do
      if [[ "$uri" =~ ^https?://[^[:space:]]+/debian/?$ ]]; then echo "${uri%/}"; return 0; fi
    done < <(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f")
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    # deb [options] URI suite components
    while read -r uri; do
      if [[ "$uri" =~ ^https?://[^[:space:]]+/debian/?$ ]]; then echo "${uri%/}"; return 0; fi
    done < <(sed -n -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f")
  done
  echo http://deb.debian.org/debian
}
mirror="${TSBOX_DEBIAN_MIRROR:-$(detect_mirror)}"

# Honour an apt proxy (Acquire::http::Proxy) if the machine has one; debootstrap reads http_proxy.
if [[ -z "${http_proxy:-}" ]] && command -v apt-config >/dev/null 2>&1; then
  eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
  [[ -z "${http_proxy:-}" ]] || export http_proxy
fi

root="$(mktemp -d /var/tmp/tsbox-debootstrap.XXXXXX)"
cleanup() {
  # debootstrap mounts proc/sys inside the target; never rm -rf across a live mount.
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v r="$root" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "debootstrap --variant=minbase $suite from $mirror"
t0=$SECONDS
if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1; then
  echo "debootstrap failed; last lines of its log ($root.log):" >&2
  tail -n 40 "$root.log" >&2
  [[ ! -f "$root/debootstrap/debootstrap.log" ]] || tail -n 20 "$root/debootstrap/debootstrap.log" >&2
  exit 1
fi
rm -f "$root.log"
t1=$SECONDS
echo "debootstrap took $((t1 - t0))s"

# Slim it down: no downloaded .debs or package lists in the image.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

tar --numeric-owner -C "$root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out: debootstrap --variant=minbase $suite $mirror"
