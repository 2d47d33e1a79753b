#!/usr/bin/env bash
# Build the local base image for Dockerfile.test without Docker Hub:
#   debootstrap --variant=minbase bookworm DIR MIRROR  |  tar -C DIR -c . | docker import
# Skipped when the image already exists (`docker image inspect`). Needs root, debootstrap
# and a reachable Docker daemon.
#
# Environment:
#   TSBOX_TEST_BASE        image name              (default tsbox-test-base:bookworm)
#   TSBOX_DEBIAN_MIRROR    Debian mirror URL       (default: the one this machine's apt uses,
#                                                   else http://deb.debian.org/debian)
#   TSBOX_REBUILD_BASE=1   rebuild even if the image exists
set -euo pipefail

image="${TSBOX_TEST_BASE:-tsbox-test-base:bookworm}"
suite=bookworm

if [[ "${TSBOX_REBUILD_BASE:-0}" != 1 ]] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image exists; skipping debootstrap (TSBOX_REBUILD_BASE=1 forces a rebuild)"
  exit 0
fi

tarball="$(mktemp /var/tmp/tsbox-debian.XXXXXX.tar)"
trap 'rm -f "$tarball" "$tarball.tmp"' EXIT
bash "$(dirname "$0")/make-debian-rootfs.sh" "$tarball"
t1=$SECONDS
docker import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --message "debootstrap --variant=minbase $suite" \
  "$tarball" "$image" >/dev/null
echo "imported $image in $((SECONDS - t1))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%d MB", $1 / 1e6 }'))"
