#!/usr/bin/env bash
# `make demo`: MediaMTX with the example config (swarmtx installed by its hook
# line), an OBS-like publisher over RTMP and one over SRT, and viewers pulling
# swarmtx's LL-HLS; prints where to look and the plugin's status until Ctrl-C.
# DEMO_SECONDS=N stops it by itself after N seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE="${SWARMTX_CACHE:-${HOME:-/root}/.cache/swarmtx}"
MEDIAMTX="$CACHE/mediamtx-v1.15.3/mediamtx"
[ -x "$MEDIAMTX" ] || { echo "demo: $MEDIAMTX missing: run make deps" >&2; exit 1; }
[ -x bin/swarmtx ] || { echo "demo: bin/swarmtx missing: run make build" >&2; exit 1; }
CONFIG=examples/mediamtx/swarmtx.yml

for port in 1935 8554 8880 8888; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is already in use; stop whatever listens there (another MediaMTX or swarmtx?)" >&2
    exit 1
  fi
done

LOGS=$(mktemp -d /tmp/swarmtx-demo.XXXXXX)
PIDS=()
cleanup() {
  trap - EXIT INT TERM
  echo; echo "demo: stopping"
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  sleep 2
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # The plugin outlives hooks by design; the demo started it, so it stops it.
  plugin_pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$(state_dir)/plugin.json" 2>/dev/null || true)
  [ -n "$plugin_pid" ] && kill -TERM "$plugin_pid" 2>/dev/null || true
  echo "demo: logs are in $LOGS"
}
state_dir() { if [ -n "${XDG_RUNTIME_DIR:-}" ]; then echo "$XDG_RUNTIME_DIR/swarmtx"; else echo "/tmp/swarmtx-$(id -u)"; fi; }
trap cleanup EXIT INT TERM

echo "demo: starting MediaMTX with examples/mediamtx/mediamtx.yml (log $LOGS/mediamtx.log)"
"$MEDIAMTX" examples/mediamtx/mediamtx.yml >"$LOGS/mediamtx.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/1935) 2>/dev/null && break; sleep 0.1; done

# Publishers that look like OBS: x264 with B-frames and 2 s keyframes, AAC 48 kHz stereo.
obs_like=(-hide_banner -loglevel error -re
  -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000"
  -c:v libx264 -pix_fmt yuv420p -preset veryfast -bf 2 -g 60 -keyint_min 60 -sc_threshold 0 -b:v 2500k
  -c:a aac -ar 48000 -ac 2 -b:a 128k)
echo "demo: publishing live/show over RTMP and events/keynote over SRT"
ffmpeg "${obs_like[@]}" -f flv rtmp://127.0.0.1:1935/live/show >"$LOGS/publish-rtmp.log" 2>&1 &
PIDS+=($!)
ffmpeg "${obs_like[@]}" -f mpegts "srt://127.0.0.1:8890?streamid=publish:events/keynote&pkt_size=1316" >"$LOGS/publish-srt.log" 2>&1 &
PIDS+=($!)

BASE=http://127.0.0.1:8880
for path in live/show events/keynote; do
  for _ in $(seq 60); do
    curl -fsS -o /dev/null "$BASE/$path/index.m3u8" 2>/dev/null && break
    sleep 1
  done
  curl -fsS -o /dev/null "$BASE/$path/index.m3u8" || { echo "demo: $path is not served; see $LOGS/mediamtx.log" >&2; tail -20 "$LOGS/mediamtx.log" >&2; exit 1; }
done

echo "demo: two viewers read live/show's ladder, one reads events/keynote"
for url in "$BASE/live/show/index.m3u8" "$BASE/live/show/360p.m3u8" "$BASE/events/keynote/index.m3u8"; do
  ffmpeg -hide_banner -loglevel error -i "$url" -f null - >"$LOGS/viewer-$(echo "$url" | tr -c 'a-z0-9' '_').log" 2>&1 &
  PIDS+=($!)
done

cat <<EOT

  swarmtx is serving:
    $BASE/live/show/                  built-in player page: open it in a browser
    $BASE/live/show/index.m3u8        multivariant LL-HLS (source + 720p + 480p + 360p)
    $BASE/live/show/source.m3u8       one rendition's media playlist
    $BASE/events/keynote/index.m3u8   per-path override: source + 480p, 300 ms parts
  The playlists also play in Safari, VLC, ffplay, or any page using hls.js.
  MediaMTX's own LL-HLS of the same stream: http://127.0.0.1:8888/live/show/
  Status: bin/swarmtx status --config $CONFIG
  Logs:   $LOGS (MediaMTX, publishers, viewers); plugin log: $(state_dir)/plugin.log
  Ctrl-C stops the demo.

EOT
end=$(( SECONDS + ${DEMO_SECONDS:-31536000} ))
while [ "$SECONDS" -lt "$end" ]; do
  bin/swarmtx status --config "$CONFIG" || true
  sleep 10
done
