// swarmtx player: hls.js set up for swarmtx's LL-HLS, with live statistics.
// The bundle (dist/player.js) is self-contained: it includes hls.js.
//
//   <video id="v" muted playsinline></video>
//   <script src="https://HOST:8880/_swarmtx/player.js"></script>
//   <script>const p = swarmtx.play(document.getElementById('v'), 'https://HOST:8880/live/show/index.m3u8');</script>
//
// p.stats() returns what the built-in page shows; p.hls is the hls.js instance.
//
// Options: {swarm: true|false (default: on when the stream is on the origin
// that served this bundle, i.e. a swarmtx origin with a swarm at
// <stream>/swarm), upload: {enabled, capBps}, turnOnly, saveData,
// liveSync (fixes hls.js liveSyncDuration with the swarm on; default: the
// playlist's PART-HOLD-BACK + 0.1 s, at least 1 s), jwt (a token for a
// protected stream: sent as a bearer token with every request and in the
// swarm's URL), hls: {...}}.
// With the swarm on, LL-HLS parts come from other viewers over WebRTC when
// they can and over HTTP otherwise; p.stats() then includes bytes by source.
import Hls from 'hls.js';
import { Swarm } from './swarm.js';
import { makeSwarmLoader } from './loader.js';

// bundleOrigin is the origin this bundle was loaded from (swarmtx serves it).
const bundleOrigin = (() => {
  try { return new URL(document.currentScript.src).origin; } catch (_) { return ''; }
})();

function servedBySwarmtx(src) {
  try { return new URL(src, location.href).origin === (bundleOrigin || location.origin); } catch (_) { return false; }
}

// With the swarm on, the player holds SWARM_EXTRA_S further behind live
// than plain LL-HLS (the playlist's PART-HOLD-BACK, three parts), and at
// least SWARM_MIN_S: a part needs about that long from its cut to cross a
// few swarm hops and still leave time for HTTP. hls.js's liveSyncDuration
// is set from the playlist as soon as it is loaded (followHoldBack); until
// then it is SWARM_LIVE_SYNC_S.
// The loader never waits longer than the buffer allows, so a slow swarm
// costs HTTP bytes, not stalls. options.liveSync (seconds) fixes the target.
const SWARM_EXTRA_S = 0.1;
const SWARM_MIN_S = 1.0;
const SWARM_LIVE_SYNC_S = 1.6;

// hlsConfigWithSwarm returns hlsConfig(overrides) plus a fragment loader that
// takes parts from the swarm of the stream at src. The Swarm is
// config.fLoader.swarm; call swarm.close() when done.
export function hlsConfigWithSwarm(src, options, overrides) {
  const opts = options || {};
  const swarm = new Swarm({
    url: new URL(src, location.href).href,
    upload: opts.upload, saveData: opts.saveData, turnOnly: opts.turnOnly, log: opts.log, jwt: opts.jwt,
  });
  const Loader = makeSwarmLoader(Hls.DefaultConfig.loader, swarm, { deadline: opts.deadline });
  Loader.swarm = swarm;
  Loader.followHoldBack = !opts.liveSync;
  const c = { fLoader: Loader, liveSyncDuration: opts.liveSync || SWARM_LIVE_SYNC_S };
  return withToken(hlsConfig(Object.assign(c, overrides || {})), opts.jwt);
}

// withToken makes every request hls.js sends carry jwt as a bearer token
// (after the config's own xhrSetup, if any).
function withToken(config, jwt) {
  if (!jwt) return config;
  const own = config.xhrSetup;
  config.xhrSetup = (xhr, url) => {
    if (own) own(xhr, url);
    if (xhr.readyState === 0) xhr.open('GET', url, true);
    xhr.setRequestHeader('Authorization', 'Bearer ' + jwt);
  };
  return config;
}

// watchPlayer feeds a swarm the player's stalls and live lag (for its
// reports to the server) and returns a function reading them. For a player
// made with hlsConfigWithSwarm it also keeps the target latency at
// PART-HOLD-BACK + SWARM_EXTRA_S (at least SWARM_MIN_S).
export function watchPlayer(swarm, hls, video) {
  const L = hls && hls.config.fLoader;
  if (L && L.followHoldBack) followHoldBack(hls);
  const st = { stalls: 0, stallMs: 0, playing: false, stallStart: null };
  video.addEventListener('playing', () => {
    st.playing = true;
    if (st.stallStart !== null) { st.stallMs += performance.now() - st.stallStart; st.stallStart = null; }
  });
  video.addEventListener('waiting', () => {
    if (st.playing && st.stallStart === null) { st.stalls++; st.stallStart = performance.now(); }
  });
  const read = () => {
    const date = hls && hls.playingDate;
    return {
      stalls: st.stalls,
      stallMs: st.stallMs + (st.stallStart !== null ? performance.now() - st.stallStart : 0),
      lagMs: date ? Date.now() - date.getTime() : -1,
      bufferMs: st.playing ? bufferedAheadMs(video) : -1,
    };
  };
  if (swarm) swarm.attachPlayer(read);
  return read;
}

// followHoldBack sets hls.js's liveSyncDuration from each loaded playlist's
// PART-HOLD-BACK; hls.js reads it whenever it computes the live position.
// The loader waits for its first parts from the swarm for half of it.
function followHoldBack(hls) {
  hls.on(Hls.Events.LEVEL_UPDATED, (_, d) => {
    const hb = d && d.details && d.details.partHoldBack;
    if (!(hb > 0)) return;
    hls.config.liveSyncDuration = Math.max(SWARM_MIN_S, hb + SWARM_EXTRA_S);
    hls.config.fLoader.startupWaitMs = hb * 500;
  });
}

// bufferedAheadMs is how much media the video element holds ahead of its
// playhead: how long a part that is not there yet may still take.
function bufferedAheadMs(video) {
  const b = video.buffered;
  const t = video.currentTime;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.1 && t <= b.end(i)) return (b.end(i) - t) * 1000;
  }
  return 0;
}

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
  let swarm = null;
  const useSwarm = opts.swarm !== undefined ? !!opts.swarm : servedBySwarmtx(src);
  if (Hls.isSupported()) {
    let config = withToken(hlsConfig(opts.hls), opts.jwt);
    if (useSwarm && typeof RTCPeerConnection !== 'undefined') {
      config = hlsConfigWithSwarm(src, opts, opts.hls);
      swarm = config.fLoader.swarm;
    }
    hls = new Hls(config);
    if (swarm) watchPlayer(swarm, hls, video);
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
    swarm,
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
        swarm: swarm ? swarm.stats() : null,
      };
    },
    destroy() { if (hls) hls.destroy(); if (swarm) swarm.close(); },
  };
}

// page runs the built-in player page at /{path}/.
export function page() {
  const video = document.getElementById('video');
  const info = document.getElementById('info');
  const levels = document.getElementById('levels');
  const q = new URLSearchParams(location.search);
  const p = play(video, 'index.m3u8', {
    swarm: q.get('swarm') !== '0',
    upload: { enabled: q.get('upload') !== '0', capBps: Number(q.get('uploadCap')) || 0 },
    turnOnly: q.get('turnOnly') === '1',
    jwt: q.get('jwt') || undefined,
  });
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
      s.swarm && 'peers ' + s.swarm.peers,
      s.swarm && 'p2p ' + Math.round(100 * s.swarm.p2pShare) + '% of ' + ((s.swarm.httpBytes + s.swarm.p2pBytes) / 1e6).toFixed(1) + ' MB',
      s.swarm && s.swarm.uploadBytes && 'up ' + (s.swarm.uploadBytes / 1e6).toFixed(1) + ' MB',
      s.errors.length && 'error ' + s.errors[s.errors.length - 1],
    ].filter(Boolean).join(' · ');
  }, 500);
}
