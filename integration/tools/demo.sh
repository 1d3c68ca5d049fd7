#!/usr/bin/env bash
# `make demo`: MediaMTX with the example config (swarmtx installed by its hook
# line), an OBS-like publisher over RTMP and one over SRT, and a crowd of Go
# viewers (`swarmtx crowd`, a realistic mix of home uplinks) watching through
# the swarm; prints where to look, then the swarm's figures as it forms.
# Ctrl-C or TERM stops everything it started, the plugin included.
#
#   DEMO_SECONDS=N   stop by itself after N seconds
#   DEMO_VIEWERS=N   the crowd's size (default 30)
#   DEMO_MIX=...     the crowd's upload mix (default: swarmtx crowd's)
#   DEMO_SIZE=WxH    the publishers' picture (default 640x360, which a 2-core
#                    machine encodes twice over, with the ladder, and still
#                    has room for the crowd; 1280x720 wants more cores)
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE="${SWARMTX_CACHE:-${HOME:-/root}/.cache/swarmtx}"
MEDIAMTX="$CACHE/mediamtx-v1.15.3/mediamtx"
[ -x "$MEDIAMTX" ] || { echo "demo: $MEDIAMTX missing: run make deps" >&2; exit 1; }
[ -x bin/swarmtx ] || { echo "demo: bin/swarmtx missing: run make build" >&2; exit 1; }
CONFIG=examples/mediamtx/swarmtx.yml
VIEWERS="${DEMO_VIEWERS:-30}"

for port in 1935 8554 8880 8888; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is already in use; stop whatever listens there (another MediaMTX or swarmtx?)" >&2
    exit 1
  fi
done

state_dir() { if [ -n "${XDG_RUNTIME_DIR:-}" ]; then echo "$XDG_RUNTIME_DIR/swarmtx"; else echo "/tmp/swarmtx-$(id -u)"; fi; }
plugin_pid() { sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$(state_dir)/plugin.json" 2>/dev/null || true; }
if pid=$(plugin_pid) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  echo "demo: a swarmtx plugin (pid $pid) already runs for $(state_dir); stop it first" >&2
  exit 1
fi

LOGS=$(mktemp -d /tmp/swarmtx-demo.XXXXXX)
PIDS=()
SLEEPER=
alive() { local left=(); for p in "$@"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done; echo "${left[@]:-}"; }
stop_all() {
  local sig=$1; shift
  for p in "$@"; do kill "-$sig" "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do [ -z "$(alive "$@")" ] && return; sleep 0.1; done
}
cleanup() {
  trap - EXIT INT TERM
  set +e  # stopping must go on past anything that already stopped
  [ -n "$SLEEPER" ] && kill "$SLEEPER" 2>/dev/null
  echo; echo "demo: stopping"
  local plugin; plugin=$(plugin_pid)
  # MediaMTX stops its hooks itself; the plugin outlives hooks by design,
  # and the demo started it, so the demo stops it.
  stop_all TERM "${PIDS[@]}" ${plugin:+"$plugin"}
  local left; left=$(alive "${PIDS[@]}" ${plugin:+"$plugin"})
  if [ -n "$left" ]; then
    echo "demo: killing what did not stop: $left"
    stop_all KILL $left
  fi
  [ -s "$LOGS/crowd.log" ] && grep 'final' "$LOGS/crowd.log" | tail -1 | sed 's/^/demo: /'
  echo "demo: logs are in $LOGS (MediaMTX, publishers, crowd); plugin log: $(state_dir)/plugin.log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "demo: starting MediaMTX with examples/mediamtx/mediamtx.yml (log $LOGS/mediamtx.log)"
"$MEDIAMTX" examples/mediamtx/mediamtx.yml >"$LOGS/mediamtx.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/1935) 2>/dev/null && break; sleep 0.1; done

# Publishers that look like OBS: x264 with B-frames and 2 s keyframes, AAC 48 kHz stereo.
obs_like=(-hide_banner -loglevel error -re
  -f lavfi -i "testsrc2=size=${DEMO_SIZE:-640x360}:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000"
  -c:v libx264 -pix_fmt yuv420p -preset veryfast -bf 2 -g 60 -keyint_min 60 -sc_threshold 0 -b:v 1000k
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

echo "demo: $VIEWERS viewers join live/show through the swarm (swarmtx crowd, log $LOGS/crowd.log)"
bin/swarmtx crowd --url "$BASE/live/show/" -n "$VIEWERS" ${DEMO_MIX:+--upload-mix "$DEMO_MIX"} \
  >"$LOGS/crowd.log" 2>"$LOGS/crowd.err" &
PIDS+=($!)

cat <<EOT

  swarmtx is serving:
    $BASE/live/show/                  built-in player page: open it in a browser and
                                                    join the swarm yourself
    $BASE/live/show/index.m3u8        multivariant LL-HLS (the source and the ladder below it)
    $BASE/events/keynote/index.m3u8   per-path override: source + 480p, 300 ms parts
  The playlists also play in Safari, VLC, ffplay, or any page using hls.js.
  MediaMTX's own LL-HLS of the same stream: http://127.0.0.1:8888/live/show/
  Below, every 10 s: the origin's view (swarmtx status: viewers, server copies
  per rendition = bytes the server sent / bytes of the rendition, P2P share)
  and the crowd's (playing, P2P, lag, stalls). Plain HTTP would cost one copy
  per viewer.
  Status any time: bin/swarmtx status --config $CONFIG   (-v, --json)
  Ctrl-C stops the demo.

EOT
end=$(( SECONDS + ${DEMO_SECONDS:-31536000} ))
while [ "$SECONDS" -lt "$end" ]; do
  sleep "$(( end - SECONDS < 10 ? end - SECONDS : 10 ))" & SLEEPER=$!
  wait "$SLEEPER" || true
  [ "$SECONDS" -lt "$end" ] || break
  echo "---- $(date +%T)"
  bin/swarmtx status --config "$CONFIG" || true
  tail -1 "$LOGS/crowd.log" 2>/dev/null || true
done
