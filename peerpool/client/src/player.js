// swarmtx player: hls.js set up for swarmtx's LL-HLS, with live statistics.
// The bundle (dist/player.js) is self-contained: it includes hls.js.
//
//   <video id="v" muted playsinline></video>
//   <script src="https://HOST:8880/_swarmtx/player.js"></script>
//   <script>const p = swarmtx.play(document.getElementById('v'), 'https://HOST:8880/live/show/index.m3u8');</script>
//
// p.stats() returns what the built-in page shows; p.hls is the hls.js instance.
import Hls from 'hls.js';

// hlsConfig is the hls.js configuration swarmtx's playlists are made for.
export function hlsConfig(overrides) {
  return Object.assign({
    lowLatencyMode: true,
    // Catch up after startup or a stall instead of staying behind for good.
    maxLiveSyncPlaybackRate: 1.5,
    backBufferLength: 30,
  }, overrides || {});
}

export function play(video, src, options) {
  const opts = options || {};
  const stats = { stalls: 0, stallMs: 0, startupMs: -1, errors: [] };
  const t0 = performance.now();
  let playing = false;
  let stallStart = null;
  video.addEventListener('playing', () => {
    if (!playing) { stats.startupMs = performance.now() - t0; playing = true; }
    if (stallStart !== null) { stats.stallMs += performance.now() - stallStart; stallStart = null; }
  });
  video.addEventListener('waiting', () => {
    if (playing && stallStart === null) { stats.stalls++; stallStart = performance.now(); }
  });

  let hls = null;
  if (Hls.isSupported()) {
    hls = new Hls(hlsConfig(opts.hls));
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (d.fatal) stats.errors.push(d.type + '/' + d.details);
    });
    hls.loadSource(src);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = src; // Safari plays LL-HLS natively
  } else {
    stats.errors.push('this browser can play neither MSE nor HLS');
  }
  video.play().catch(() => { /* autoplay refused: the user presses play */ });

  return {
    hls,
    stats() {
      const level = hls && hls.levels[hls.currentLevel];
      const date = hls && hls.playingDate;
      return {
        rendition: level ? (level.name || level.height + 'p') : '',
        height: video.videoHeight,
        currentTime: video.currentTime,
        buffered: video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : 0,
        latency: hls && isFinite(hls.latency) ? hls.latency : -1,
        lagMs: date ? Date.now() - date.getTime() : -1,
        startupMs: stats.startupMs,
        stalls: stats.stalls,
        stallMs: stats.stallMs + (stallStart !== null ? performance.now() - stallStart : 0),
        errors: stats.errors.slice(),
      };
    },
    destroy() { if (hls) hls.destroy(); },
  };
}

// page runs the built-in player page at /{path}/.
export function page() {
  const video = document.getElementById('video');
  const info = document.getElementById('info');
  const levels = document.getElementById('levels');
  const p = play(video, 'index.m3u8');
  window.swarmtxPlayer = p;
  if (p.hls) {
    p.hls.on(Hls.Events.MANIFEST_PARSED, () => {
      levels.replaceChildren(new Option('auto', '-1'),
        ...p.hls.levels.map((l, i) => new Option(l.name || l.height + 'p', String(i))));
    });
    levels.addEventListener('change', () => { p.hls.currentLevel = Number(levels.value); });
  }
  setInterval(() => {
    const s = p.stats();
    info.textContent = [
      s.rendition && 'rendition ' + s.rendition,
      s.lagMs >= 0 && 'lag ' + (s.lagMs / 1000).toFixed(1) + ' s',
      'buffer ' + s.buffered.toFixed(1) + ' s',
      'stalls ' + s.stalls,
      s.errors.length && 'error ' + s.errors[s.errors.length - 1],
    ].filter(Boolean).join(' · ');
  }, 500);
}
