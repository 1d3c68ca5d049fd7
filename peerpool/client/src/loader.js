// swarmLoader: an hls.js fragment loader (config.fLoader) that takes LL-HLS
// parts from the swarm first and from HTTP otherwise. Segments, init
// segments and anything that is not a part of this stream go straight to
// hls.js's default loader; playlists never come here (fLoader only).
//
// Timing policy (what hls.js's ABR sees in stats.loading):
//   - HTTP (including the fallback after asking the swarm): the default
//     loader's own first-byte and end times and byte counts, with
//     loading.start at the moment hls.js asked us, so the time spent
//     waiting for the swarm counts as time to first byte. hls.js subtracts
//     (an estimate of) TTFB before sampling bandwidth, so the wait does not
//     masquerade as slow throughput, but the total is the real elapsed time.
//   - P2P: a part that was already in the local store, or that arrived from
//     a neighbour in a few milliseconds, would read as near-infinite
//     bandwidth and push ABR to renditions the swarm may not carry. So the
//     reported load time is max(real elapsed, bytes / measured swarm
//     delivery rate), where the rate is an EWMA of bytes / (last DATA − WANT)
//     over parts actually pulled from neighbours; until one has been
//     measured, the real elapsed time is used. loading.start is back-dated
//     by that duration (end = now), loading.first = start + the measured
//     time to the first DATA frame (0 for stored parts).
import { partFromURL } from './wire.js';

// HTTP_MARGIN_MS is kept for the HTTP fallback when the swarm is waited for.
const HTTP_MARGIN_MS = 400;

function newStats() {
  return {
    aborted: false, loaded: 0, retry: 0, total: 0, chunkCount: 0, bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 },
  };
}

// makeSwarmLoader returns a loader class bound to swarm. DefaultLoader is
// hls.js's default (Hls.DefaultConfig.loader). opts.deadline(partDurationS)
// returns how long at most to wait for the swarm, in ms, counted from the
// part's announcement. The wait is always cut to what the player's buffer
// allows (the buffer ahead of the playhead, as watchPlayer reports it, minus
// HTTP_MARGIN_MS), so a part given up on still arrives over HTTP before the
// playhead needs it. By default that buffer is the only bound while the
// player plays: every millisecond of it the swarm is not given is a chance
// of a part over HTTP, which costs server copies and buys nothing the
// player can see. Before playback (no buffer to go by) the default is half
// the playlist's PART-HOLD-BACK once the player knows it (the class's
// startupWaitMs), else one and a half part durations, at most 1 s: a new
// viewer's first parts are held by the swarm already, and every one it
// takes over HTTP is a copy the server sends for each viewer that joins.
// An operator who holds players further back (max offload) accepts a
// slower start with it.
export function makeSwarmLoader(DefaultLoader, swarm, opts) {
  const o = opts || {};
  const startupWait = (d) => Math.max(50, SwarmLoader.startupWaitMs > 0 ? SwarmLoader.startupWaitMs : Math.min(1000, d * 1500));
  const wait = (d) => {
    const p = swarm && swarm.player ? swarm.player() || {} : {};
    if (!(p.bufferMs >= 0)) return o.deadline ? o.deadline(d) : startupWait(d);
    return Math.min(o.deadline ? o.deadline(d) : Infinity, p.bufferMs - HTTP_MARGIN_MS);
  };
  class SwarmLoader {
    constructor(config) {
      this.config = config;
      this.stats = newStats();
      this.context = null;
      this.inner = null;
      this.callbacks = null;
      this.part = null;
      this.gen = 0; // bumps on abort/destroy: late results are ignored
    }

    load(context, config, callbacks) {
      this.context = context;
      this.callbacks = callbacks;
      const gen = ++this.gen;
      const t0 = performance.now();
      this.stats.loading.start = t0;
      const id = context.part && swarm ? partFromURL(context.url, swarm.base) : null;
      if (!id) { this.http(context, config, callbacks, null, t0); return; }
      this.part = id;
      swarm.get(id, () => wait(context.part.duration || 0)).then((got) => {
        if (gen !== this.gen) return;
        if (!got || !got.data) { this.http(context, config, callbacks, id, t0, got); return; }
        this.part = null;
        const end = performance.now();
        const bytes = got.data.byteLength;
        let ms = end - t0;
        if (swarm.rateBpms > 0) ms = Math.max(ms, bytes / swarm.rateBpms);
        const ttfb = got.firstAt && got.wantAt ? Math.min(ms, Math.max(0, got.firstAt - got.wantAt)) : 0;
        const s = this.stats;
        s.loading.start = end - ms;
        s.loading.first = s.loading.start + ttfb;
        s.loading.end = end;
        s.loaded = s.total = bytes;
        s.chunkCount = 1;
        // hls.js appends the buffer: give it its own copy, the store keeps ours.
        const data = got.data.slice().buffer;
        callbacks.onSuccess({ url: context.url, data, code: 200 }, s, context, { source: got.source });
      });
    }

    // http loads the part over HTTP. When neighbours had sent its first
    // bytes (rest: {prefix, size} from the swarm), it asks only for what
    // follows them and hands hls.js the whole part.
    http(context, config, callbacks, id, t0, rest) {
      const inner = this.inner = new DefaultLoader(this.config);
      const prefix = rest && rest.prefix && rest.prefix.length < rest.size ? rest.prefix : null;
      const copy = (st) => {
        const s = this.stats;
        s.aborted = st.aborted; s.loaded = st.loaded; s.total = st.total; s.retry = st.retry;
        s.chunkCount = st.chunkCount; s.bwEstimate = st.bwEstimate;
        s.loading.start = t0;
        s.loading.first = Math.max(st.loading.first || 0, t0);
        s.loading.end = Math.max(st.loading.end || 0, s.loading.first);
        return s;
      };
      const asked = prefix ? Object.assign({}, context, { rangeStart: prefix.length, rangeEnd: rest.size }) : context;
      inner.load(asked, config, {
        onSuccess: (response, st, ctx, nd) => {
          const s = copy(st);
          if (prefix && response.data instanceof ArrayBuffer) {
            const got = new Uint8Array(response.data);
            let whole = got; // an origin that ignored the range sent it all
            if (response.code === 206 && got.length === rest.size - prefix.length) {
              whole = new Uint8Array(rest.size);
              whole.set(prefix);
              whole.set(got, prefix.length);
            } else if (got.length !== rest.size) {
              callbacks.onError({ code: response.code, text: 'the rest of ' + context.url + ' came with ' + got.length + ' bytes' }, context, nd, s);
              return;
            }
            swarm.offer(id, whole, whole === got ? 0 : prefix.length);
            s.loaded = s.total = whole.length;
            callbacks.onSuccess({ url: response.url, data: whole.buffer, code: 200 }, s, context, nd);
            return;
          }
          if (id && response.data instanceof ArrayBuffer) swarm.offer(id, new Uint8Array(response.data));
          else if (swarm && response.data instanceof ArrayBuffer) swarm.countHTTP(response.data.byteLength);
          callbacks.onSuccess(response, s, ctx, nd);
        },
        onError: (err, ctx, nd, st) => callbacks.onError(err, ctx, nd, copy(st)),
        onTimeout: (st, ctx, nd) => callbacks.onTimeout(st && copy(st), ctx, nd),
        onAbort: callbacks.onAbort && ((st, ctx, nd) => callbacks.onAbort(copy(st), ctx, nd)),
        onProgress: callbacks.onProgress && ((st, ctx, data, nd) => callbacks.onProgress(copy(st), ctx, data, nd)),
      });
    }

    getCacheAge() { return this.inner && this.inner.getCacheAge ? this.inner.getCacheAge() : null; }

    getResponseHeader(name) { return this.inner && this.inner.getResponseHeader ? this.inner.getResponseHeader(name) : null; }

    abortInternal() {
      this.gen++;
      if (this.part && swarm) swarm.cancel(this.part);
      this.part = null;
      if (this.inner) { this.inner.destroy(); this.inner = null; }
    }

    abort() {
      const busy = this.context && !this.stats.loading.end;
      this.abortInternal();
      this.stats.aborted = true;
      if (busy && this.callbacks && this.callbacks.onAbort) this.callbacks.onAbort(this.stats, this.context, null);
    }

    destroy() {
      this.abortInternal();
      this.callbacks = null;
      this.context = null;
    }
  }
  return SwarmLoader;
}
