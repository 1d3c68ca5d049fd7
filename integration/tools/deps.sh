#!/usr/bin/env bash
# deps.sh — install and cache everything the integration tests need.
#
# Idempotent: system packages are only installed when a tool is missing, and the
# pinned MediaMTX binary and hls.js are built/fetched once into a cache outside the
# repository's tracked files:
#   ${SWARMTX_CACHE:-$HOME/.cache/swarmtx}/mediamtx-v1.15.3/mediamtx
#   ${SWARMTX_CACHE:-$HOME/.cache/swarmtx}/hls.js-1.6.13/hls.min.js
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
have_chromium() { have chromium || [ -x /usr/bin/chromium ]; }

# ---- system packages -------------------------------------------------------
# Tools and the Debian packages that provide them. Only missing packages are
# asked for: on machines whose Node.js comes from Node's own packages, asking
# apt for npm conflicts with that nodejs and fails the whole install line.
missing=()
pkgs=()
need() { missing+=("$1"); [[ " ${pkgs[*]} " == *" $2 "* ]] || pkgs+=("$2"); }
have ffmpeg || need ffmpeg ffmpeg
have ffprobe || need ffprobe ffmpeg
have_chromium || need chromium chromium
have ip || need ip iproute2
have unshare || need unshare util-linux
have npm || need npm npm
have go || die "go is not in PATH (need Go matching go.mod)"

if [ ${#missing[@]} -gt 0 ]; then
  log "missing tools: ${missing[*]}"
  if [ -r /etc/debian_version ] && [ "$(id -u)" = 0 ] && have apt-get; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${pkgs[@]}" ca-certificates
  else
    die "install these and re-run: ffmpeg (with libx264, aac, SRT), chromium, iproute2 (ip), util-linux (unshare), npm. On Debian as root: apt-get install -y ${pkgs[*]}"
  fi
  for t in ffmpeg ffprobe ip unshare npm; do have "$t" || die "$t still missing after apt-get install"; done
  have_chromium || die "chromium still missing after apt-get install"
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

"$MTX_BIN" --help >/dev/null 2>&1 || true
log "mediamtx:  $MTX_BIN"
log "hls.js:    $HLSJS"
log "ffmpeg:    $(command -v ffmpeg) ($(ffmpeg -version | head -1 | cut -d' ' -f3))"
log "chromium:  $(command -v chromium || echo /usr/bin/chromium)"
log "ip:        $(command -v ip); unshare: $(command -v unshare)"
