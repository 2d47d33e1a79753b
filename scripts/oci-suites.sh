#!/usr/bin/env bash
# Provision the OCI conformance suites that judge an OCI runtime (runc, tsbox-runc), offline,
# from Debian's packages only, into a cache directory outside the repository; print that
# directory on stdout:
#
#     cache="$(scripts/oci-suites.sh validation)"
#
# Suites (default: validation):
#   validation  opencontainers/runtime-tools: the TAP programs validation/*/*.go, built to
#               $cache/validation/<version>/bin/NAME.t, plus runtimetest (static) and the
#               busybox rootfs-amd64.tar.gz that every program unpacks as its bundle's rootfs.
#               Source: Debian's source package golang-github-opencontainers-runtime-tools
#               (its upstream tarball has validation/, cmd/runtimetest and the rootfs tarballs;
#               Debian's -dev binary package has neither). Dependencies: Debian's golang-*-dev
#               packages (GOPATH build, nothing from the network but apt), except the tiny TAP
#               writer the suite imports as github.com/mndrix/tap-go, which Debian lacks:
#               test/oci/tapgo/ is tsbox's own implementation of the calls the suite makes.
#               Go: Debian's golang-1.23-go (from bookworm-backports on Debian 12).
#   bats        runc's own integration tests (tests/integration/*.bats) from Debian's source
#               package of the installed runc, unpacked to $cache/runc-tests/<version>/ with the
#               helper programs they use (recvtty, seccompagent) built and a local busybox
#               image in testdata/; run with Debian's bats.
#
# Everything is reused when present (a stamp file records what it was built from), so a
# second run costs a few hundred milliseconds. Needs root (apt-get).
#
# Environment:
#   TSBOX_OCI_CACHE       cache directory (default /var/cache/tsbox-oci as root,
#                         else ${XDG_CACHE_HOME:-~/.cache}/tsbox-oci)
#   TSBOX_OCI_RT_SUITE    Debian release whose runtime-tools source to use (default trixie:
#                         0.9.0.109.ge931285, 109 commits past v0.9.0; bookworm's is older)
#   TSBOX_OCI_RT_VERSION  exact Debian version of that source package (default: the one pinned
#                         below, so a new upload cannot change the baseline silently)
#   TSBOX_OCI_GO          go binary to use (default: Debian's golang-1.23-go, installed if missing)
#   TSBOX_OCI_REFRESH=1   rebuild even if the cache looks complete
# All diagnostics go to stderr; stdout carries only the cache directory.
# The builds export Go settings inside subshells on purpose:
# shellcheck disable=SC2030,SC2031
set -euo pipefail
exec </dev/null

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
log() { echo "oci-suites: $*" >&2; }
die() { log "$*"; exit 1; }

suites=()
for arg in "$@"; do
  case "$arg" in
    validation|bats) suites+=("$arg") ;;
    all) suites+=(validation bats) ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown suite: $arg (validation, bats, all)" ;;
  esac
done
(( ${#suites[@]} )) || suites=(validation)

[[ "$(id -u)" == 0 ]] || die "needs root (apt-get; the suites themselves run as root)"
[[ "$(uname -m)" == x86_64 ]] || die "only x86_64 is provisioned (rootfs-amd64.tar.gz)"

if [[ -n "${TSBOX_OCI_CACHE:-}" ]]; then
  cache="$TSBOX_OCI_CACHE"
elif [[ "$(id -u)" == 0 ]]; then
  cache=/var/cache/tsbox-oci
else
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/tsbox-oci"
fi
mkdir -p "$cache"
cache="$(cd "$cache" && pwd -P)"
refresh="${TSBOX_OCI_REFRESH:-0}"

# The Debian source version that the committed runc baseline (test/oci/runc-baseline.txt) was
# measured with. Its source is taken from trixie's archive: bookworm's older snapshot's upstream
# tarball is not on the mirror, and the Debian changes (one patch to skip network unit tests)
# touch nothing that is built here.
rt_suite="${TSBOX_OCI_RT_SUITE:-trixie}"
rt_version="${TSBOX_OCI_RT_VERSION:-0.9.0.109.ge931285-1}"
rt_pkg=golang-github-opencontainers-runtime-tools

# shellcheck source=/dev/null
. /etc/os-release
codename="${VERSION_CODENAME:-}"
[[ -n "$codename" ]] || die "cannot tell the Debian release (no VERSION_CODENAME in /etc/os-release)"

apt_updated=0
apt_update() {
  (( apt_updated )) && return 0
  log "apt-get update"
  apt-get update -qq >&2
  apt_updated=1
}

# installed PKG... -> 0 if all are installed
installed() {
  local p
  for p in "$@"; do
    [[ "$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null)" == installed ]] || return 1
  done
}

apt_install() {
  installed "$@" && return 0
  apt_update
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >&2
}

# The URI of the Debian archive this machine's apt already uses for "$codename/main"; the
# suites' extra sources point at the same mirror.
debian_uri() {
  local uri
  uri="$(apt-cache policy | awk -v s="$codename/main" '$3 == s { print $2; exit }')"
  [[ -n "$uri" ]] || { apt_update; uri="$(apt-cache policy | awk -v s="$codename/main" '$3 == s { print $2; exit }')"; }
  [[ -n "$uri" ]] || die "apt has no source for $codename/main; cannot derive the Debian mirror"
  echo "$uri"
}

# --- Go --------------------------------------------------------------------------------------
go_bin=""
ensure_go() {
  [[ -z "$go_bin" ]] || return 0
  if [[ -n "${TSBOX_OCI_GO:-}" ]]; then
    go_bin="$TSBOX_OCI_GO"
  else
    if [[ ! -x /usr/lib/go-1.23/bin/go ]]; then
      if [[ "$codename" == bookworm ]]; then
        local list=/etc/apt/sources.list.d/tsbox-bookworm-backports.sources
        if ! apt-cache policy | grep -q ' bookworm-backports/main '; then
          log "adding bookworm-backports (for golang-1.23-go) as $list"
          cat > "$list" <<EOF
# Added by tsbox's scripts/oci-suites.sh: Go 1.23 for building the OCI conformance suites.
Types: deb
URIs: $(debian_uri)
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
          apt_updated=0
        fi
        apt_update
        log "apt-get install -t bookworm-backports golang-1.23-go"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends \
          -t bookworm-backports golang-1.23-go >&2
      else
        apt_install golang-1.23-go
      fi
    fi
    go_bin=/usr/lib/go-1.23/bin/go
  fi
  [[ -x "$go_bin" ]] || die "no go at $go_bin"
  export GOTOOLCHAIN=local GOPROXY=off GOFLAGS='' GOSUMDB=off
  export GOCACHE="$cache/gocache"
  log "$("$go_bin" version)"
}

# --- Debian source packages, through a private apt configuration (deb-src lines live in
#     $cache/apt only; the system's sources are left as they are) ------------------------------
apt_src=()
ensure_src_lists() {
  (( ${#apt_src[@]} )) && return 0
  local dir="$cache/apt" uri
  uri="$(debian_uri)"
  mkdir -p "$dir/lists/partial"
  cat > "$dir/sources.list" <<EOF
deb-src $uri $codename main
$( [[ "$rt_suite" == "$codename" ]] || echo "deb-src $uri $rt_suite main" )
EOF
  apt_src=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=-
           -o "Dir::State::Lists=$dir/lists" -o APT::Sandbox::User=root)
  # Refresh the source indexes at most once a day.
  if [[ "$refresh" == 1 || -z "$(find "$dir/lists" -maxdepth 1 -name '*Sources*' -mtime -1 -print -quit)" ]]; then
    log "apt-get update (source indexes, private lists in $dir)"
    apt-get "${apt_src[@]}" update -qq >&2
  fi
}

# fetch_orig PKG VERSION DEST_DIR -> prints the path of the upstream tarball
# apt-get verifies each file against the index before keeping it; only the upstream tarball
# is needed (the Debian changes are not applied), so a .dsc the mirror lacks is not fatal.
fetch_orig() {
  local pkg="$1" ver="$2" dest="$3" upstream orig
  upstream="${ver%-*}"; upstream="${upstream#*:}"
  mkdir -p "$dest"
  orig="$(find "$dest" -maxdepth 1 -name "${pkg}_${upstream}.orig.tar.*" -print -quit)"
  if [[ -z "$orig" ]]; then
    ensure_src_lists
    log "apt-get source --download-only $pkg=$ver"
    (cd "$dest" && apt-get "${apt_src[@]}" source --download-only "$pkg=$ver" >&2) ||
      log "(apt-get source reported an error; checking whether the upstream tarball arrived)"
    orig="$(find "$dest" -maxdepth 1 -name "${pkg}_${upstream}.orig.tar.*" -print -quit)"
    [[ -n "$orig" ]] || die "could not download the upstream tarball of $pkg $ver"
  fi
  echo "$orig"
}

# --- validation: runtime-tools -----------------------------------------------------------------
build_validation() {
  local out="$cache/validation/$rt_version" stamp want
  local deps=(golang-github-blang-semver-dev golang-github-google-uuid-dev
    golang-github-hashicorp-go-multierror-dev golang-github-mrunalp-fileutils-dev
    golang-github-opencontainers-specs-dev golang-github-opencontainers-selinux-dev
    golang-github-sirupsen-logrus-dev golang-gocapability-dev golang-github-urfave-cli-dev
    golang-github-xeipuuv-gojsonschema-dev golang-golang-x-sys-dev)
  want="runtime-tools $rt_version; tap $(sha256sum "$here/test/oci/tapgo/tap.go" | cut -c1-16)"
  stamp="$out/.stamp"
  if [[ "$refresh" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && installed "${deps[@]}"; then
    log "validation: cached in $out"
    return 0
  fi
  apt_install "${deps[@]}" tar xz-utils gzip
  ensure_go
  local orig t0=$SECONDS
  orig="$(fetch_orig "$rt_pkg" "$rt_version" "$cache/src")"

  local work
  work="$(mktemp -d "$cache/.build.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this build's directory
  trap "rm -rf '$work'" EXIT
  local src="$work/gopath/src/github.com/opencontainers/runtime-tools"
  mkdir -p "$src" "$work/gopath/src/github.com/mndrix" "$work/out/bin"
  tar -xf "$orig" -C "$src" --strip-components=1
  [[ -d "$src/validation" && -f "$src/rootfs-amd64.tar.gz" ]] || die "$orig has no validation/ or rootfs-amd64.tar.gz"
  cp -r "$here/test/oci/tapgo" "$work/gopath/src/github.com/mndrix/tap-go"

  log "validation: building runtimetest and $(find "$src/validation" -mindepth 1 -maxdepth 1 -type d ! -name util | wc -l) TAP programs (GOPATH mode, Debian's libraries)"
  # GOPATH mode: imports resolve against this tree, then Debian's /usr/share/gocode. -s -w
  # halves the programs' size (58 of them); nothing here is debugged with a debugger.
  (
    cd "$src"
    export GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode"
    CGO_ENABLED=0 "$go_bin" build -trimpath -tags 'netgo osusergo' \
      -ldflags "-s -w -X main.version=$(cat VERSION) -X main.gitCommit=debian-$rt_version" \
      -o "$work/out/runtimetest" ./cmd/runtimetest
    "$go_bin" build -trimpath -ldflags '-s -w' -o "$work/out/bin/" ./validation/...
  ) >&2
  local p
  for p in "$work"/out/bin/*; do mv "$p" "$p.t"; done
  cp "$src/rootfs-amd64.tar.gz" "$work/out/"
  find "$src/validation" -mindepth 1 -maxdepth 1 -type d ! -name util -printf '%f\n' | sort > "$work/out/programs.txt"
  local built
  built="$(find "$work/out/bin" -name '*.t' | wc -l)"
  [[ "$built" == "$(wc -l < "$work/out/programs.txt")" ]] ||
    die "built $built programs, expected $(wc -l < "$work/out/programs.txt")"
  echo "$want" > "$work/out/.stamp"
  rm -rf "$out"
  mkdir -p "$(dirname "$out")"
  mv "$work/out" "$out"
  rm -rf "$work"
  trap - EXIT
  log "validation: built in $((SECONDS - t0))s into $out"
}

# --- bats: runc's integration tests --------------------------------------------------------------
# tests/integration of the installed runc's Debian source, with what its helpers.bash expects
# next to it: testdata/busybox-amd64.tar.xz (get-images.sh downloads it when absent: here it is
# made from Debian's busybox-static, so nothing is downloaded) and the helper programs recvtty
# and seccompagent built from the same tree (GOPATH mode, Debian's libraries). The Debian 10 image
# that one hooks test asks for is the same busybox tarball (that test needs a libc and fails).
fetch_runc_tests() {
  local ver out orig want
  local deps=(golang-github-containerd-console-dev golang-github-cyphar-filepath-securejoin-dev
    golang-github-seccomp-libseccomp-golang-dev golang-github-urfave-cli-dev golang-golang-x-sys-dev
    golang-github-opencontainers-specs-dev golang-github-sirupsen-logrus-dev libseccomp-dev
    bats runc jq gawk busybox-static xz-utils)
  ver="$(dpkg-query -W -f '${Version}' runc 2>/dev/null || true)"
  [[ -n "$ver" ]] || { apt_install runc; ver="$(dpkg-query -W -f '${Version}' runc)"; }
  out="$cache/runc-tests/$ver"
  want="runc $ver; busybox $(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || echo none); image 2"
  if [[ "$refresh" != 1 && -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$want" ]] && installed "${deps[@]}"; then
    log "bats: runc $ver tests cached in $out"
    return 0
  fi
  apt_install "${deps[@]}"
  want="runc $ver; busybox $(dpkg-query -W -f '${Version}' busybox-static); image 2"
  ensure_go
  orig="$(fetch_orig runc "$ver" "$cache/src")"
  local work t0=$SECONDS
  work="$(mktemp -d "$cache/.build.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this build's directory
  trap "rm -rf '$work'" EXIT
  local src="$work/gopath/src/github.com/opencontainers/runc"
  mkdir -p "$src"
  tar -xf "$orig" -C "$src" --strip-components=1
  [[ -d "$src/tests/integration" ]] || die "$orig has no tests/integration"
  log "bats: building recvtty and seccompagent from runc $ver"
  (
    cd "$src"
    export GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode"
    "$go_bin" build -trimpath -ldflags '-s -w' -o contrib/cmd/recvtty/recvtty ./contrib/cmd/recvtty
    "$go_bin" build -trimpath -ldflags '-s -w' -tags seccomp -o contrib/cmd/seccompagent/seccompagent ./contrib/cmd/seccompagent
  ) >&2
  # The tests expect Docker's busybox image: no user 1000 in /etc/passwd (`id` of 1000:1000 prints
  # "uid=1000 gid=1000"), so the "app" user of the project's test image is left out.
  bash "$here/scripts/make-busybox-rootfs.sh" "$work/busybox.tar" 2>/dev/null
  mkdir "$work/bb"
  tar -xf "$work/busybox.tar" -C "$work/bb"
  sed -i '/^app:/d' "$work/bb/etc/passwd" "$work/bb/etc/group"
  rm -rf "$work/bb/home/app"
  tar -cf - --numeric-owner --owner=0 --group=0 --sort=name -C "$work/bb" . |
    xz -T1 -1 > "$src/tests/integration/testdata/busybox-amd64.tar.xz"
  cp "$src/tests/integration/testdata/busybox-amd64.tar.xz" "$src/tests/integration/testdata/debian-amd64.tar.xz"
  echo "$want" > "$src/.stamp"
  rm -rf "$out"
  mkdir -p "$(dirname "$out")"
  mv "$src" "$out"
  rm -rf "$work"
  trap - EXIT
  log "bats: runc $ver tests ready in $out ($((SECONDS - t0))s)"
}

for s in "${suites[@]}"; do
  case "$s" in
    validation) build_validation ;;
    bats) fetch_runc_tests ;;
  esac
done
echo "$cache"
