#!/usr/bin/env bash
# deps.sh — install and cache everything the integration tests need.
#
# Idempotent: system packages are only installed when a tool is missing, and the
# pinned MediaMTX binary and hls.js are built/fetched once into a cache outside the
# repository's tracked files:
#   ${SWARMTX_CACHE:-$HOME/.cache/swarmtx}/mediamtx-v1.15.3/mediamtx
#   ${SWARMTX_CACHE:-$HOME/.cache/swarmtx}/hls.js-1.6.13/hls.min.js
#   ${SWARMTX_CACHE:-$HOME/.cache/swarmtx}/p2pml/node_modules (integration/tools/p2pml)
# The Go harness (integration/harness) reads the same paths.
set -euo pipefail

MEDIAMTX_VERSION=v1.15.3
HLSJS_VERSION=1.6.13

CACHE="${SWARMTX_CACHE:-${HOME:-/root}/.cache/swarmtx}"
MTX_DIR="$CACHE/mediamtx-$MEDIAMTX_VERSION"
MTX_BIN="$MTX_DIR/mediamtx"
HLSJS_DIR="$CACHE/hls.js-$HLSJS_VERSION"
HLSJS="$HLSJS_DIR/hls.min.js"

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: ERROR: %s\n' "$*" >&2; exit 1; }

have() { command -v "$1" >/dev/null 2>&1; }
# PATH alone decides, so that what this script finds is what the tests find.
have_chromium() { have chromium || have chromium-browser; }
present() { if [ "$1" = chromium ]; then have_chromium; else have "$1"; fi; }
joined() { local out= s; for s in "$@"; do out+="${out:+; }$s"; done; printf '%s' "$out"; }

# ---- system packages -------------------------------------------------------
# Only what is missing is asked of apt, and only what apt can provide without
# harm: on a machine whose Node.js comes from NodeSource (or anywhere but
# Debian's nodejs), apt's npm conflicts with that nodejs or brings a second
# Node.js, and one such package fails the whole install line.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
tools=()    # missing tools apt is to provide
missing=()  # the same, each with its package, for messages
pkgs=()     # Debian packages to install, each once
manual=()   # what must be installed by hand, and how
need() {
  tools+=("$1")
  missing+=("$1 (Debian package $2${3:+; $3})")
  [[ " ${pkgs[*]} " == *" $2 "* ]] || pkgs+=("$2")
}

# node_owner prints the dpkg package node belongs to; it fails when dpkg does
# not know node. Both the PATH name and the resolved file are asked because
# on merged-/usr systems dpkg may have recorded either.
node_owner() {
  have dpkg-query || return 1
  local p out
  for p in "$(command -v node)" "$(readlink -f "$(command -v node)")"; do
    out="$(dpkg-query -S "$p" 2>/dev/null | sed -n '/^diversion /d;p;q')" || continue
    [ -n "$out" ] || continue
    out="${out%%: *}"
    printf '%s\n' "${out%%:*}"
    return 0
  done
  return 1
}

have ffmpeg || need ffmpeg ffmpeg "built with libx264, aac and SRT"
have ffprobe || need ffprobe ffmpeg
have_chromium || need chromium chromium
have ip || need ip iproute2
have unshare || need unshare util-linux
have nft || need nft nftables
have nginx || need nginx nginx-light "the reverse proxy of README's HTTPS set-up"
if ! have node; then
  need node nodejs
  have npm || need npm npm
elif ! have npm; then
  node_path="$(command -v node)"
  owner="$(node_owner || true)"
  version=""
  [ -z "$owner" ] || version="$(dpkg-query -W -f='${Version}' "$owner" 2>/dev/null || true)"
  if [ "$owner" = nodejs ] && [[ "$version" != *nodesource* ]]; then
    need npm npm
  elif [[ "$version" == *nodesource* ]]; then
    manual+=("npm: node ($node_path) is NodeSource's ($owner $version), whose package ships npm, and apt's npm conflicts with it; reinstall that package from NodeSource's repository (apt-get install --reinstall $owner)")
  elif [ -n "$owner" ]; then
    manual+=("npm: node ($node_path) comes from package $owner $version, not Debian's nodejs, and apt's npm would conflict with it or bring a second Node.js; install the npm that goes with $owner")
  else
    manual+=("npm: node ($node_path) is not from a Debian package, and apt's npm would bring a second Node.js; install the npm of that Node.js the way it was installed (its installer or version manager)")
  fi
fi
have go || manual+=("go: Go is a prerequisite (the version go.mod names); install it from https://go.dev/dl/ and put it in PATH")
ca_missing=
if [ ! -s "$CA_BUNDLE" ]; then
  ca_missing=1
  missing+=("the CA bundle $CA_BUNDLE (Debian package ca-certificates)")
  pkgs+=(ca-certificates)
fi

if [ ${#manual[@]} -gt 0 ]; then
  msg="install by hand and re-run: $(joined "${manual[@]}")"
  [ ${#missing[@]} -eq 0 ] || msg+=". Also missing: $(joined "${missing[@]}")"
  die "$msg"
fi

if [ ${#pkgs[@]} -gt 0 ]; then
  why=
  [ -r /etc/debian_version ] || why="this is not a Debian-like system"
  [ -n "$why" ] || [ "$(id -u)" = 0 ] || why="not running as root"
  [ -n "$why" ] || have apt-get || why="apt-get is not in PATH"
  if [ -n "$why" ]; then
    die "missing: $(joined "${missing[@]}"). Install them and re-run; apt-get is not used because $why (as root on Debian: apt-get install ${pkgs[*]})"
  fi
  log "missing: $(joined "${missing[@]}")"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${pkgs[@]}"
  hash -r
  still=()
  for t in ${tools[@]+"${tools[@]}"}; do present "$t" || still+=("$t"); done
  [ -z "$ca_missing" ] || [ -s "$CA_BUNDLE" ] || still+=("$CA_BUNDLE")
  [ ${#still[@]} -eq 0 ] || die "still missing after apt-get install ${pkgs[*]}: ${still[*]}"
fi

mkdir -p "$CACHE"
tmp="$(mktemp -d)"
trap 'chmod -R u+w "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# ---- hls.js (for MediaMTX's embedded player and the browser tests) ---------
if [ ! -s "$HLSJS" ]; then
  log "fetching hls.js@$HLSJS_VERSION with npm pack"
  (cd "$tmp" && npm pack --silent "hls.js@$HLSJS_VERSION" >/dev/null)
  tar -xzf "$tmp/hls.js-$HLSJS_VERSION.tgz" -C "$tmp" package/dist/hls.min.js
  mkdir -p "$HLSJS_DIR"
  cp "$tmp/package/dist/hls.min.js" "$HLSJS.tmp"
  mv "$HLSJS.tmp" "$HLSJS"
fi

# ---- MediaMTX, built from its Go module ------------------------------------
if [ ! -x "$MTX_BIN" ]; then
  log "building MediaMTX $MEDIAMTX_VERSION (about a minute)"
  # A throwaway module so `go mod download` does not touch the repo's go.mod/go.sum.
  mkdir -p "$tmp/mod"
  (cd "$tmp/mod" && go mod init swarmtx-deps-tmp >/dev/null 2>&1)
  dir="$(cd "$tmp/mod" && GOFLAGS=-mod=mod go mod download -json "github.com/bluenviron/mediamtx@$MEDIAMTX_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "go mod download did not give a module directory for mediamtx@$MEDIAMTX_VERSION"
  src="$tmp/mediamtx"
  cp -R "$dir" "$src"
  chmod -R u+w "$src"
  # These two files are produced by MediaMTX's `go generate`, which downloads them;
  # we provide them ourselves from pinned sources.
  printf '%s' "$MEDIAMTX_VERSION" > "$src/internal/core/VERSION"
  want="$(cat "$src/internal/servers/hls/hlsjsdownloader/VERSION" 2>/dev/null || true)"
  want="${want#v}"; want="$(printf '%s' "$want" | tr -d '[:space:]')"
  [ -z "$want" ] || [ "$want" = "$HLSJS_VERSION" ] || log "warning: MediaMTX expects hls.js $want, using $HLSJS_VERSION"
  cp "$HLSJS" "$src/internal/servers/hls/hls.min.js"
  mkdir -p "$MTX_DIR"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$MTX_BIN.tmp" .)
  mv "$MTX_BIN.tmp" "$MTX_BIN"
fi

# ---- the browser client's sources (hls.js), for go generate and its test ----
client="$(cd "$(dirname "$0")/../../peerpool/client" && pwd)"
if ! cmp -s "$client/package-lock.json" "$client/node_modules/.swarmtx-installed-lock" 2>/dev/null; then
  log "installing the browser client's npm packages in $client"
  (cd "$client" && npm ci --no-audit --no-fund >/dev/null) || die "npm ci in $client failed"
  cp "$client/package-lock.json" "$client/node_modules/.swarmtx-installed-lock"
fi

# ---- p2p-media-loader and its tracker, for the comparison benchmark --------
# Installed in the cache from the committed lockfile; the benchmark bundles the
# page from integration/tools/p2pml against these node_modules. Install
# scripts stay off: a tracker client dependency would download a binary.
p2pml_src="$(cd "$(dirname "$0")/p2pml" && pwd)"
P2PML_DIR="$CACHE/p2pml"
if ! cmp -s "$p2pml_src/package-lock.json" "$P2PML_DIR/node_modules/.swarmtx-installed-lock" 2>/dev/null; then
  log "installing p2p-media-loader and bittorrent-tracker in $P2PML_DIR"
  rm -rf "$P2PML_DIR.tmp"
  mkdir -p "$P2PML_DIR.tmp"
  cp "$p2pml_src/package.json" "$p2pml_src/package-lock.json" "$P2PML_DIR.tmp/"
  (cd "$P2PML_DIR.tmp" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) || die "npm ci in $P2PML_DIR.tmp failed"
  cp "$p2pml_src/package-lock.json" "$P2PML_DIR.tmp/node_modules/.swarmtx-installed-lock"
  rm -rf "$P2PML_DIR"
  mv "$P2PML_DIR.tmp" "$P2PML_DIR"
fi

"$MTX_BIN" --help >/dev/null 2>&1 || true
log "mediamtx:  $MTX_BIN"
log "hls.js:    $HLSJS"
log "p2pml:     $P2PML_DIR"
log "ffmpeg:    $(command -v ffmpeg) ($(ffmpeg -version | head -1 | cut -d' ' -f3))"
log "chromium:  $(command -v chromium || command -v chromium-browser)"
log "ip:        $(command -v ip); unshare: $(command -v unshare); nft: $(command -v nft); nginx: $(command -v nginx)"
