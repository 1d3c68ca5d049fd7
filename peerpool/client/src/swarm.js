// Swarm: one viewer's place in a stream's peer pool. It joins the stream's
// signaling WebSocket (<stream>/swarm), keeps one WebRTC data channel per
// neighbour the tracker gives it, and moves verified LL-HLS parts between
// neighbours (protocol: peerpool/wire/doc.go, implemented in wire.js).
//
//   const s = new Swarm({url: 'https://host/live/show/', rendition: 'source'});
//   const got = await s.get({r: 'source', msn: 12, i: 3}, 250); // bytes or null
//   s.offer(id, bytes);  // a part fetched over HTTP: neighbours may pull it
import * as W from './wire.js';

// Limits shared with the Go peer live in wire.js (peerpool/wire/limits.go).
const STORE_PARTS = 200;                   // verified parts kept for neighbours
const ANNOUNCED_PARTS = W.MAX_ANNOUNCED;   // hashes remembered
const HAVE_PER_NEIGHBOUR = W.MAX_HAVE;     // availability remembered per neighbour
const HIGH_WATER = W.MAX_BUFFERED;         // never more than this queued on a channel
const LOW_WATER = W.LOW_WATER;             // resume sending below this
const MAX_SERVING = W.MAX_UPLOADS;         // parts queued for one neighbour at once
const CONNECT_TIMEOUT_MS = W.CONNECT_TIMEOUT_MS; // a neighbour's channel must open by then
// A neighbour that said HAVE gets a WANT from every neighbour at once;
// queueing them all would make the last one wait for every other copy.
// Busy (more queued than BUSY_HORIZON_MS of the upload cap, or BUSY_UPLOADS
// parts without a cap), it declines with NOPE so the requesters ask the
// neighbours that got the part meanwhile, and says HAVE again when drained:
// the part spreads down a tree shaped by each viewer's upload.
const BUSY_HORIZON_MS = W.BUSY_HORIZON_MS;
// With an upload cap, uploads go one at a time: one under way first (its
// receiver may be passing its chunks on already), then the newest part,
// then copies of one part in the order asked (as the Go peer,
// peerpool/peer/uploadorder.go). Interleaved copies would all finish at the
// end, and a receiver passes on only verified chunks, so the first receiver
// could forward only then. An upload whose channel is full does not hold up
// the others.
function ahead(a, b) {
  if ((a.sent > 0) !== (b.sent > 0)) return a.sent > 0;
  if (a.id.msn !== b.id.msn) return a.id.msn > b.id.msn;
  if (a.id.i !== b.id.i) return a.id.i > b.id.i;
  return a.seq < b.seq;
}
const BUSY_UPLOADS = W.BUSY_UPLOADS;
// Parts announced with chunk hashes are passed on chunk by chunk: HAVE once
// the first chunk is verified, DATA as the verified bytes grow (as the Go
// peer, peerpool/peer/cutthrough.go). An upload whose bytes stop coming
// for STARVED_MS (the download failed) is dropped with NOPE.
const STARVED_MS = W.STARVED_UPLOAD_MS;
const EARLY_HAVE = W.MAX_ANNOUNCED; // parts we said HAVE for before holding them whole
const MAX_DECLINED = W.MAX_DECLINED;
const STATS_EVERY_MS = 2000;
const ACTIVE_MS = 3000; // a neighbour that sent no HAVE for this long is not waited for
// Control frames (HAVE, WANT, CANCEL, NOPE) a neighbour may send: a token
// bucket of CONTROL_BURST refilled at CONTROL_PER_S. Honest peers send a few
// per part; a flood is a protocol violation.
const CONTROL_PER_S = 400;
const CONTROL_BURST = 800;
const HAVE_EVERY_MS = 1000;

const now = () => performance.now();

// Neighbour is one peer we share a data channel with.
class Neighbour {
  constructor(id, seed, noUpload) {
    this.id = id; this.seed = seed;
    this.noUpload = noUpload;    // the server says it will not upload: never ask it
    this.pc = null; this.dc = null; this.open = false;
    this.remoteSet = false; this.pendingCandidates = [];
    this.has = new Set();        // part keys it announced with HAVE
    this.inflight = new Map();   // key -> {asm, waiters, wantAt, firstAt}: our WANTs to it
    this.cancelled = new Set();  // keys we cancelled: late DATA for them is dropped
    this.early = new Map();      // key -> {id, frames, next, total, bytes, at}: pushed before its announcement
    this.earlyBytes = 0;
    this.serving = [];           // {key, id, seq, total, data, sent, progressAt}: its WANTs we are answering
    this.controlTokens = CONTROL_BURST; this.controlAt = now();
    this.lastHaveAt = -Infinity;
    this.received = 0;           // part bytes from it, verified: confirmed to the server in stats.from
    this.openTimer = null;       // reports it as "timeout" if its channel never opens
    this.fruitless = 0;          // our WANTs in a row it let run out (see fruitless)
    this.nopes = 0;              // NOPEs to our WANTs while it has delivered nothing
  }
}

export class Swarm {
  // opts: url (the stream's base, e.g. "https://host/live/show/"), rendition,
  // upload {enabled, capBps}, saveData, turnOnly, log (function, optional).
  constructor(opts) {
    this.base = new URL('.', new URL(opts.url, location.href)).href;
    this.rendition = opts.rendition || '';
    const up = opts.upload || {};
    this.upload = { enabled: up.enabled !== false, capBps: Math.max(0, Math.floor(up.capBps || 0)) };
    const conn = typeof navigator !== 'undefined' && navigator.connection;
    this.saveData = opts.saveData !== undefined ? !!opts.saveData : !!(conn && conn.saveData);
    this.turnOnly = !!opts.turnOnly;
    this.log = opts.log || (() => {});
    this.id = '';
    this.welcome = null;
    this.ws = null;
    this.closed = false;
    this.neighbours = new Map();
    this.banned = new Set();           // neighbours we reported: never reconnected
    this.announced = new Map();        // key -> part announcement
    this.latest = new Map();           // rendition -> its newest announcement
    this.early = new Map();            // key -> [{resolve, timer}]: asked for before announced
    this.store = new Map();            // key -> Uint8Array (insertion order = age)
    this.waiters = new Map();          // key -> [waiter]
    this.pendingHave = [];
    this.counters = { httpBytes: 0, p2pBytes: 0, uploadBytes: 0, p2pParts: 0, httpParts: 0, hashMismatches: 0, protocolErrors: 0 };
    // Why get() gave a part up to HTTP: no time left in the player's buffer,
    // no open neighbour, no announcement came, the wait ran out.
    this.misses = { noTime: 0, noNeighbour: 0, unannounced: 0, timeout: 0 };
    this.declined = [];                // {n, id, key}: WANTs declined while busy, offered again when drained
    this.earlyHave = new Set();        // keys we said HAVE for while their chunks were arriving
    this.player = () => ({ stalls: 0, stallMs: 0, lagMs: -1 });
    // Measured delivery rate of parts pulled from neighbours (bytes/ms, EWMA).
    this.rateBpms = 0;
    // Upload token bucket (bytes), the timer that waits for it, and the
    // order uploads were asked in.
    this.tokens = 0; this.tokensAt = now();
    this.pumpTimer = null;
    this.uploadSeq = 0;
    this.timers = [
      setInterval(() => this.sendStats(), STATS_EVERY_MS),
      setInterval(() => { this.flushHave(); this.dropStarved(); }, HAVE_EVERY_MS),
    ];
    this.retryMs = 1000;
    if (this.rendition) this.connect();
  }

  get canUpload() { return this.upload.enabled && !this.saveData; }

  // ---- signaling ----

  connect() {
    if (this.closed || this.ws) return;
    const u = new URL('swarm', this.base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = this.ws = new WebSocket(u.href);
    ws.onopen = () => {
      this.send({ t: 'join', v: W.PROTOCOL_VERSION, rendition: this.rendition,
        upload: { enabled: this.upload.enabled, capBps: this.upload.capBps },
        saveData: this.saveData, turnOnly: this.turnOnly });
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = W.decodeFromServer(ev.data); } catch (e) {
        this.log('swarm: bad message from the server: ' + e.message);
        ws.close();
        return;
      }
      this.onSignal(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null; this.id = ''; this.welcome = null;
      for (const n of [...this.neighbours.values()]) this.dropNeighbour(n, 'signaling closed');
      if (!this.closed) {
        setTimeout(() => this.connect(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 30000);
      }
    };
  }

  send(m) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    let text;
    try { text = W.encodeSignal(m); } catch (e) { this.log('swarm: not sending ' + m.t + ': ' + e.message); return false; }
    this.ws.send(text);
    return true;
  }

  onSignal(m) {
    switch (m.t) {
      case 'welcome':
        this.id = m.id; this.welcome = m; this.retryMs = 1000;
        this.log('swarm: joined as ' + m.id + ' (' + m.iceTransportPolicy + ', maxFrame ' + m.maxFrame + ')');
        break;
      case 'peers':
        for (const id of m.remove) { const n = this.neighbours.get(id); if (n) this.dropNeighbour(n, 'removed by the tracker'); }
        for (const p of m.add) this.addNeighbour(p.id, p.seed, p.noUpload);
        break;
      case 'signal':
        this.onRelay(m).catch((e) => this.log('swarm: signal from ' + m.from + ': ' + e.message));
        break;
      case 'part': {
        const key = W.partKey(m.id);
        if (!this.announced.has(key)) {
          this.announced.set(key, m);
          if (this.announced.size > ANNOUNCED_PARTS) this.announced.delete(this.announced.keys().next().value);
          this.latest.set(m.id.r, m);
          this.replayEarly(key, m);
          const early = this.early.get(key);
          if (early) {
            this.early.delete(key);
            for (const e of early) { clearTimeout(e.timer); e.resolve(true); }
          }
        }
        break;
      }
      case 'error':
        this.log('swarm: server closes the session: ' + m.reason);
        break;
    }
  }

  // ---- neighbours and WebRTC ----

  addNeighbour(id, seed, noUpload) {
    if (!this.welcome || id === this.id || this.neighbours.has(id) || this.banned.has(id)) return;
    const n = new Neighbour(id, seed, noUpload);
    this.neighbours.set(id, n);
    // A neighbour that never opens its channel holds a slot another could
    // use: the server, told, never pairs the two again.
    if (!seed) n.openTimer = setTimeout(() => {
      if (this.neighbours.get(id) !== n || n.open) return;
      this.log('swarm: neighbour ' + id + ' never opened its data channel');
      this.banned.add(id);
      this.send({ t: 'report', peer: id, reason: 'timeout' });
      this.dropNeighbour(n, 'no data channel after ' + CONNECT_TIMEOUT_MS + ' ms');
    }, CONNECT_TIMEOUT_MS);
    // The smaller PeerID offers; a seed always offers.
    if (!seed && this.id < id) this.makeOffer(n).catch((e) => this.dropNeighbour(n, 'offer: ' + e.message));
  }

  newPC(n) {
    const pc = n.pc = new RTCPeerConnection({
      iceServers: this.welcome.ice,
      iceTransportPolicy: this.turnOnly ? 'relay' : this.welcome.iceTransportPolicy,
    });
    pc.onicecandidate = (ev) => {
      // End-of-candidates is not sent: it would only spend signaling rate.
      if (!ev.candidate || !ev.candidate.candidate) return;
      this.send({ t: 'signal', to: n.id, candidate: {
        candidate: ev.candidate.candidate, sdpMid: ev.candidate.sdpMid || '',
        sdpMLineIndex: ev.candidate.sdpMLineIndex || 0 } });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') this.dropNeighbour(n, 'connection failed');
    };
    pc.ondatachannel = (ev) => {
      if (n.dc || ev.channel.label !== W.DATA_CHANNEL_LABEL) { ev.channel.close(); return; }
      this.setupChannel(n, ev.channel);
    };
    return pc;
  }

  async makeOffer(n) {
    const pc = this.newPC(n);
    this.setupChannel(n, pc.createDataChannel(W.DATA_CHANNEL_LABEL, { ordered: true }));
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send({ t: 'signal', to: n.id, sdp: { type: 'offer', sdp: pc.localDescription.sdp } });
  }

  async onRelay(m) {
    const n = this.neighbours.get(m.from);
    if (!n) return; // not (or no longer) a neighbour
    if (m.sdp) {
      if (m.sdp.type === 'offer') {
        if (n.pc) { this.protocolError(n, 'a second offer'); return; }
        const pc = this.newPC(n);
        await pc.setRemoteDescription(m.sdp);
        n.remoteSet = true;
        await this.flushCandidates(n);
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        this.send({ t: 'signal', to: n.id, sdp: { type: 'answer', sdp: pc.localDescription.sdp } });
      } else {
        if (!n.pc || n.remoteSet || n.pc.signalingState !== 'have-local-offer') { this.protocolError(n, 'an unexpected answer'); return; }
        await n.pc.setRemoteDescription(m.sdp);
        n.remoteSet = true;
        await this.flushCandidates(n);
      }
    } else if (m.candidate.candidate) {
      if (n.pendingCandidates.length > 32) return;
      n.pendingCandidates.push(m.candidate);
      if (n.remoteSet) await this.flushCandidates(n);
    }
  }

  async flushCandidates(n) {
    const cs = n.pendingCandidates; n.pendingCandidates = [];
    for (const c of cs) {
      try { await n.pc.addIceCandidate(c); } catch (e) { this.log('swarm: candidate from ' + n.id + ': ' + e.message); }
    }
  }

  setupChannel(n, dc) {
    n.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    dc.onopen = () => {
      n.open = true;
      this.log('swarm: data channel open with ' + n.id);
      // Tell the new neighbour what we hold (newest last).
      if (this.canUpload) for (const e of [...this.store.values()].slice(-W.HAVE_ON_OPEN)) this.sendFrame(n, W.encodeControl(W.HAVE, e.id));
    };
    dc.onclose = () => this.dropNeighbour(n, 'data channel closed');
    dc.onbufferedamountlow = () => this.pump();
    dc.onmessage = (ev) => {
      try { this.onFrame(n, ev.data); } catch (e) {
        if (e instanceof W.ProtocolError) this.protocolError(n, e.message);
        else this.log('swarm: frame from ' + n.id + ': ' + e.message);
      }
    };
  }

  sendFrame(n, frame) {
    if (!n.open || !n.dc || n.dc.readyState !== 'open') return false;
    try { n.dc.send(frame); return true; } catch (e) { this.dropNeighbour(n, 'send: ' + e.message); return false; }
  }

  dropNeighbour(n, why) {
    if (this.neighbours.get(n.id) !== n) return;
    this.neighbours.delete(n.id);
    this.log('swarm: neighbour ' + n.id + ' gone: ' + why);
    clearTimeout(n.openTimer);
    n.serving = [];
    try { if (n.dc) n.dc.close(); } catch (_) { /* closing anyway */ }
    try { if (n.pc) n.pc.close(); } catch (_) { /* closing anyway */ }
    n.open = false;
    // Parts we were pulling from it: try someone else.
    const keys = [...n.inflight.keys()];
    n.inflight.clear();
    for (const key of keys) this.fetchFromPeers(key);
  }

  protocolError(n, msg) { this.counters.protocolErrors++; this.bad(n, 'protocol', msg); }

  // bad closes a misbehaving neighbour and reports it to the server.
  bad(n, reason, msg) {
    this.log('swarm: neighbour ' + n.id + ' misbehaved (' + reason + '): ' + msg);
    this.banned.add(n.id);
    this.send({ t: 'report', peer: n.id, reason });
    this.dropNeighbour(n, reason);
  }

  // ---- frames ----

  onFrame(n, data) {
    const f = W.parseFrame(data);
    const key = W.partKey(f.id);
    if (f.type !== W.DATA) {
      const t = now();
      n.controlTokens = Math.min(CONTROL_BURST, n.controlTokens + (t - n.controlAt) * CONTROL_PER_S / 1000);
      n.controlAt = t;
      if (--n.controlTokens < 0) throw new W.ProtocolError('more than ' + CONTROL_PER_S + ' control frames per second');
    }
    switch (f.type) {
      case W.HAVE:
        if (n.noUpload) break; // it may not upload: asking would be wasted, its DATA refused
        n.has.add(key);
        n.lastHaveAt = now();
        if (n.has.size > HAVE_PER_NEIGHBOUR) n.has.delete(n.has.values().next().value);
        if (this.waiters.has(key)) this.fetchFromPeers(key);
        break;
      case W.WANT:
        this.onWant(n, f.id, key);
        break;
      case W.CANCEL:
        n.serving = n.serving.filter((s) => s.key !== key);
        break;
      case W.NOPE: {
        n.has.delete(key);
        if (n.inflight.delete(key)) {
          if (n.received === 0) { n.nopes++; if (this.fruitless(n)) return; }
          this.fetchFromPeers(key);
        }
        break;
      }
      case W.DATA: {
        let t = n.inflight.get(key);
        if (!t && n.seed) t = this.acceptPush(n, f, key);
        if (!t) {
          // In flight when we cancelled, a push we do not need, or one
          // held until its announcement (holdEarly).
          if (n.cancelled.has(key) || n.seed) return;
          throw new W.ProtocolError('DATA for ' + key + ', which was not asked for');
        }
        this.addData(n, t, f, key);
        break;
      }
    }
  }

  // addData feeds one DATA frame to a download under way.
  addData(n, t, f, key) {
    if (!t.firstAt) t.firstAt = now();
    const before = t.asm.verifiedLen;
    let complete;
    try { complete = t.asm.add(f); } catch (e) {
      if (!(e instanceof W.HashMismatch)) throw e;
      n.inflight.delete(key);
      this.counters.hashMismatches++;
      this.bad(n, 'hash-mismatch', e.message);
      this.fetchFromPeers(key);
      return;
    }
    if (t.asm.verifiedLen > before) this.credit(n, t, t.asm.verifiedLen);
    if (!complete) {
      if (t.asm.verifiedLen > before) this.verifiedMore(n, key, f.id);
      return;
    }
    n.inflight.delete(key);
    this.verified(n, t, key);
  }

  // credit counts a download's verified bytes, up to upto, to the
  // neighbour that sent them, once each.
  credit(n, t, upto) {
    const d = upto - (t.credited || 0);
    if (d > 0) { n.received += d; t.credited = upto; n.fruitless = 0; }
  }

  // fruitless drops and reports ("timeout") a neighbour that says HAVE and
  // takes WANTs but never delivers, as the Go peer does
  // (peerpool/peer/fruitless.go): after MAX_FRUITLESS_WANTS WANTs in a row
  // ran out, or MAX_UNPROVEN_NOPES NOPEs while it has delivered nothing.
  // It returns whether n was dropped.
  fruitless(n) {
    if (n.seed || (n.fruitless < W.MAX_FRUITLESS_WANTS && (n.received > 0 || n.nopes < W.MAX_UNPROVEN_NOPES))) return false;
    this.log('swarm: neighbour ' + n.id + ' takes WANTs and never delivers');
    this.banned.add(n.id);
    this.send({ t: 'report', peer: n.id, reason: 'timeout' });
    this.dropNeighbour(n, 'never delivers');
    return true;
  }

  // acceptPush starts receiving a part the server's seeder pushes without a
  // WANT: only parts we do not hold yet, from their first byte. Bytes of a
  // part not announced yet are held until it is (holdEarly).
  acceptPush(n, f, key) {
    const a = this.announced.get(key);
    if (!a) { this.holdEarly(n, f, key); return null; }
    if (f.offset !== 0 || this.store.has(key)) return null;
    const t = { asm: new W.Assembler(a), wantAt: now(), firstAt: 0, pushed: true };
    n.inflight.set(key, t);
    return t;
  }

  // holdEarly keeps a seed's DATA for a part not announced yet, as the Go
  // peer does: the announcement comes over the WebSocket and the push over
  // the data channel, so either may come first. The frames must be in
  // order, and they are bounded per neighbour as in Go (parts and bytes;
  // the part past a bound is cancelled). replayEarly verifies them once
  // the announcement comes.
  holdEarly(n, f, key) {
    if (n.cancelled.has(key)) return;
    let e = n.early.get(key);
    const len = f.data.length;
    if (!e) {
      if (f.offset !== 0) throw new W.ProtocolError('DATA ' + key + ': first frame at offset ' + f.offset);
      const t = now();
      for (const [k, o] of n.early) if (t - o.at > STARVED_MS) this.dropEarly(n, k, o.id); // its announcement never came
      if (n.early.size >= W.MAX_INCOMING) { this.cancelFrom(n, f.id, key); return; }
      e = { id: f.id, frames: [], next: 0, total: f.total, bytes: 0, at: t };
      n.early.set(key, e);
    }
    if (f.offset !== e.next || f.total !== e.total) {
      throw new W.ProtocolError('DATA ' + key + ': offset ' + f.offset + ' of ' + f.total + ', expected ' + e.next + ' of ' + e.total);
    }
    if (n.earlyBytes + len > W.MAX_PENDING_BYTES) {
      this.log('swarm: too many bytes of parts not announced yet from ' + n.id + '; dropping ' + key);
      this.dropEarly(n, key, f.id);
      return;
    }
    e.frames.push(f); // each message has its own buffer
    e.bytes += len; e.next += len; n.earlyBytes += len;
  }

  dropEarly(n, key, id) {
    const e = n.early.get(key);
    if (e) { n.early.delete(key); n.earlyBytes -= e.bytes; }
    this.cancelFrom(n, id, key);
  }

  // cancelFrom tells n to stop sending a part, whose further DATA is dropped.
  cancelFrom(n, id, key) {
    n.cancelled.add(key);
    if (n.cancelled.size > 64) n.cancelled.delete(n.cancelled.values().next().value);
    this.sendFrame(n, W.encodeControl(W.CANCEL, id));
  }

  // replayEarly verifies, now that its announcement a came, the DATA held
  // for a part.
  replayEarly(key, a) {
    for (const n of [...this.neighbours.values()]) {
      const e = n.early.get(key);
      if (!e) continue;
      n.early.delete(key); n.earlyBytes -= e.bytes;
      if (this.store.has(key) || n.inflight.has(key)) continue;
      try {
        if (e.total !== a.size) throw new W.ProtocolError('DATA ' + key + ': total ' + e.total + ', announced ' + a.size);
        const t = { asm: new W.Assembler(a), wantAt: e.at, firstAt: e.at, pushed: true };
        n.inflight.set(key, t);
        for (const f of e.frames) {
          if (n.inflight.get(key) !== t) break; // dropped, or done
          this.addData(n, t, f, key);
        }
      } catch (err) {
        if (err instanceof W.ProtocolError) this.protocolError(n, err.message);
        else this.log('swarm: held frames from ' + n.id + ': ' + err.message);
      }
    }
  }

  async verified(n, t, key) {
    let bytes;
    try { bytes = await t.asm.verify(); } catch (e) {
      if (e instanceof W.HashMismatch) { this.counters.hashMismatches++; this.bad(n, 'hash-mismatch', e.message); } else this.protocolError(n, e.message);
      this.fetchFromPeers(key);
      return;
    }
    this.credit(n, t, bytes.length);
    const endAt = now();
    const ms = Math.max(1, endAt - t.wantAt);
    const rate = bytes.length / ms;
    this.rateBpms = this.rateBpms ? 0.8 * this.rateBpms + 0.2 * rate : rate;
    this.counters.p2pBytes += bytes.length;
    this.counters.p2pParts++;
    this.keep(t.asm.id, key, bytes, { source: 'p2p', from: n.id, wantAt: t.wantAt, firstAt: t.firstAt, endAt });
  }

  // verifiedMore runs when a download verified more chunks of a part (before
  // its last): the first time it says HAVE to the other neighbours, every
  // time it lets the uploads waiting for those bytes go on.
  verifiedMore(from, key, id) {
    if (this.canUpload && !this.earlyHave.has(key)) {
      this.earlyHave.add(key);
      if (this.earlyHave.size > EARLY_HAVE) this.earlyHave.delete(this.earlyHave.values().next().value);
      const frame = W.encodeControl(W.HAVE, id);
      for (const n of [...this.neighbours.values()]) {
        if (n !== from && !n.has.has(key) && !n.serving.some((s) => s.key === key)) this.sendFrame(n, frame);
      }
    }
    this.pump();
  }

  // available returns the verified bytes of a part this viewer can send:
  // the whole part when stored, else the longest verified prefix among its
  // downloads; null when it has none.
  available(key) {
    const e = this.store.get(key);
    if (e) return e.data;
    let best = null;
    for (const n of this.neighbours.values()) {
      const t = n.inflight.get(key);
      if (t && t.asm.verifiedLen > 0 && (!best || t.asm.verifiedLen > best.length)) best = t.asm.verified();
    }
    return best;
  }

  onWant(n, id, key) {
    const data = this.available(key);
    if (n.serving.some((s) => s.key === key)) return;
    if (!data || !this.canUpload || n.serving.length >= MAX_SERVING) {
      this.sendFrame(n, W.encodeControl(W.NOPE, id));
      return;
    }
    if (this.busy()) {
      this.sendFrame(n, W.encodeControl(W.NOPE, id));
      this.declined.push({ n, id, key });
      if (this.declined.length > MAX_DECLINED) this.declined.shift();
      return;
    }
    const a = this.announced.get(key);
    const total = a ? a.size : data.length;
    n.serving.push({ key, id, seq: this.uploadSeq++, total, data, sent: 0, progressAt: now() });
    this.pump();
  }

  // pump sends queued DATA frames while channels have room and the upload
  // cap has tokens: with a cap one upload at a time (see ahead), without
  // one as much as each channel takes.
  pump() {
    clearTimeout(this.pumpTimer); this.pumpTimer = null;
    const capped = this.upload.capBps > 0;
    for (;;) {
      const next = this.nextUpload(capped);
      if (!next) return; // nothing to send, or every channel full: onbufferedamountlow resumes
      const { n, s } = next;
      const frame = this.nextFrame(s);
      if (capped) {
        const t = now();
        const burst = Math.max(W.MAX_FRAME_SIZE, this.upload.capBps / 4);
        this.tokens = Math.min(burst, this.tokens + (t - this.tokensAt) * this.upload.capBps / 1000);
        this.tokensAt = t;
        if (this.tokens < frame.byteLength) {
          const wait = (frame.byteLength - this.tokens) * 1000 / this.upload.capBps;
          this.pumpTimer = setTimeout(() => this.pump(), Math.max(5, wait));
          return;
        }
        this.tokens -= frame.byteLength;
      }
      if (!this.sendFrame(n, frame)) {
        n.serving = []; // its channel is gone; dropNeighbour cleans up
        continue;
      }
      this.counters.uploadBytes += frame.byteLength;
      s.sent += frame.byteLength - W.dataHeaderLen(s.id);
      if (s.sent === s.total) {
        n.serving.splice(n.serving.indexOf(s), 1);
        this.reoffer();
      }
    }
  }

  // nextFrame cuts s's next DATA frame from its verified bytes: at most the
  // frame size, ending at a chunk boundary so the receiver can verify and
  // pass on each chunk as soon as it arrives.
  nextFrame(s) {
    const a = this.announced.get(s.key);
    let end = Math.min(s.data.length, s.sent + this.welcome.maxFrame - W.dataHeaderLen(s.id));
    if (a && a.chunks.length) end = Math.min(end, W.chunkEnd(s.sent, s.total, a.chunkSize));
    return W.encodeData(s.id, s.sent, s.total, s.data.subarray(s.sent, end));
  }

  // ready returns n's upload that sends next: of those with verified bytes
  // not yet sent, the one ahead in the upload order.
  ready(n) {
    let best = null;
    for (const s of n.serving) {
      this.refresh(s);
      if (s.sent < s.data.length && (!best || ahead(s, best))) best = s;
    }
    return best;
  }

  // refresh gives an upload that sent all it had the bytes verified since.
  refresh(s) {
    if (s.sent < s.data.length) return;
    const data = this.available(s.key);
    if (data && data.length > s.data.length) { s.data = data; s.progressAt = now(); }
  }

  // dropStarved answers NOPE to the WANTs whose part stopped arriving.
  dropStarved() {
    const t = now();
    for (const n of this.neighbours.values()) {
      n.serving = n.serving.filter((s) => {
        this.refresh(s);
        if (s.sent < s.data.length || t - s.progressAt < STARVED_MS) return true;
        this.sendFrame(n, W.encodeControl(W.NOPE, s.id));
        return false;
      });
    }
  }

  // nextUpload picks the upload {n, s} that sends next: among channels that
  // are open and have room, with a cap the one ahead in the upload order,
  // without one the first found.
  nextUpload(capped) {
    let best = null;
    for (const n of this.neighbours.values()) {
      if (!n.serving.length || !n.open || !n.dc || n.dc.readyState !== 'open') continue;
      const s = this.ready(n);
      if (!s || n.dc.bufferedAmount + this.welcome.maxFrame > HIGH_WATER) continue;
      if (!best || ahead(s, best.s)) best = { n, s };
      if (!capped) break;
    }
    return best;
  }

  // busy tells whether the queued uploads would take longer than
  // BUSY_HORIZON_MS at the upload cap.
  busy() {
    let bytes = 0, parts = 0;
    for (const m of this.neighbours.values()) {
      for (const s of m.serving) {
        parts++;
        bytes += s.total - s.sent;
      }
    }
    if (this.upload.capBps > 0) return bytes > this.upload.capBps * BUSY_HORIZON_MS / 1000;
    return parts >= BUSY_UPLOADS;
  }

  // reoffer says HAVE again, once not busy, for the parts declined while
  // busy, to the neighbours that asked and have not said HAVE since.
  reoffer() {
    if (!this.declined.length || this.busy()) return;
    const list = this.declined;
    this.declined = [];
    for (const d of list) {
      if (d.n.open && this.neighbours.get(d.n.id) === d.n && !d.n.has.has(d.key) && this.available(d.key) &&
          !d.n.serving.some((s) => s.key === d.key)) {
        this.sendFrame(d.n, W.encodeControl(W.HAVE, d.id));
      }
    }
  }

  // ---- parts ----

  // keep stores a verified part, tells neighbours and the server, and hands
  // it to whoever waits for it.
  keep(id, key, bytes, info) {
    if (!this.store.has(key)) {
      this.store.set(key, { id, data: bytes });
      if (this.store.size > STORE_PARTS) this.store.delete(this.store.keys().next().value);
      if (this.canUpload) {
        const frame = W.encodeControl(W.HAVE, id);
        for (const n of [...this.neighbours.values()]) this.sendFrame(n, frame);
        this.pendingHave.push(id);
        if (this.pendingHave.length > 64) this.pendingHave.shift();
      }
    }
    this.pump(); // uploads of its first chunks wait for the rest
    const ws = this.waiters.get(key);
    if (ws) {
      this.waiters.delete(key);
      for (const w of ws) this.settle(w, Object.assign({ data: bytes }, info));
    }
  }

  flushHave() {
    if (!this.pendingHave.length) return;
    if (this.send({ t: 'have', parts: this.pendingHave.slice(-64) })) this.pendingHave = [];
  }

  // offer takes a part fetched over HTTP: if it matches the announced hash,
  // neighbours may pull it from here.
  async offer(id, data) {
    const key = W.partKey(id);
    const a = this.announced.get(key);
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    this.counters.httpBytes += bytes.length;
    this.counters.httpParts++;
    if (!a || this.store.has(key) || bytes.length !== a.size) return false;
    if (await W.sha256Hex(bytes) !== a.sha256) { this.log('swarm: HTTP bytes of ' + key + ' do not match the announced hash'); return false; }
    this.keep(id, key, bytes.slice(), { source: 'http' });
    return true;
  }

  // countHTTP records media bytes fetched over HTTP that are not parts.
  countHTTP(n) { this.counters.httpBytes += n; }

  // designatedFetcher: among this peer and its connected neighbours that
  // share parts (sent HAVE in the last few seconds: not opted out of upload,
  // not on another rendition, not stalled), the one rendezvousPick chooses
  // (as the Go viewer does) fetches it over HTTP at once; the others wait
  // for it (or for anyone else announcing HAVE).
  designatedFetcher(key) {
    const cands = [this.id];
    const recent = now() - ACTIVE_MS;
    for (const n of this.neighbours.values()) if (n.open && n.lastHaveAt >= recent) cands.push(n.id);
    return W.rendezvousPick(key, cands);
  }

  // get resolves to {data, source, ...timings} for a verified part, or null
  // if the swarm cannot deliver it within deadlineMs. Parts that no
  // neighbour holds and that this peer is the designated HTTP fetcher of
  // resolve null at once.
  // get resolves with a part from the store or the neighbours, or null when
  // none can deliver it in time. deadline is the wait in ms, or a function
  // returning it (read when the part is announced).
  get(id, deadline) {
    const key = W.partKey(id);
    const e = this.store.get(key);
    if (e) return Promise.resolve({ data: e.data, source: 'store' });
    if (id.r !== this.rendition) this.setRendition(id.r);
    if (!this.welcome) return Promise.resolve(null);
    if (!this.announced.has(key)) {
      // hls.js asks for the part its playlist names in a preload hint
      // before the part is cut: wait for the announcement, then for the
      // swarm as for any part.
      const waitMs = this.announceWaitMs(id);
      if (waitMs <= 0) { this.misses.unannounced++; return Promise.resolve(null); }
      return new Promise((resolve) => {
        const e = { resolve };
        e.timer = setTimeout(() => {
          const list = (this.early.get(key) || []).filter((x) => x !== e);
          if (list.length) this.early.set(key, list); else this.early.delete(key);
          this.misses.unannounced++;
          resolve(false);
        }, waitMs);
        const list = this.early.get(key) || [];
        list.push(e);
        this.early.set(key, list);
      }).then((ok) => (ok && this.announced.has(key) ? this.get(id, deadline) : null));
    }
    const deadlineMs = typeof deadline === 'function' ? deadline() : deadline;
    if (!(deadlineMs > 0)) { this.misses.noTime++; return Promise.resolve(null); }
    let anyHas = false, anyOpen = false;
    for (const n of this.neighbours.values()) {
      if (!n.open) continue;
      anyOpen = true;
      if (n.has.has(key)) anyHas = true;
    }
    // In a seeded swarm every part arrives through the neighbours: wait for
    // them. Otherwise the neighbours share the HTTP fetches among themselves.
    const seeded = this.welcome.seeded === true;
    if (!anyOpen) { this.misses.noNeighbour++; return Promise.resolve(null); }
    if (!seeded && !anyHas && this.designatedFetcher(key) === this.id) return Promise.resolve(null);
    return new Promise((resolve) => {
      const w = { id, key, resolve, done: false, startAt: now() };
      w.timer = setTimeout(() => { this.misses.timeout++; this.giveUp(w); }, deadlineMs);
      const list = this.waiters.get(key) || [];
      list.push(w);
      this.waiters.set(key, list);
      this.fetchFromPeers(key);
    });
  }

  // cancel withdraws a pending get (the loader was aborted).
  // announceWaitMs is how long to wait for the announcement of a part not
  // announced yet: two part durations when it is one of the next two parts
  // of its rendition, 0 (do not wait) otherwise.
  announceWaitMs(id) {
    const last = this.latest.get(id.r);
    if (!last) return 0;
    const next = id.msn === last.id.msn ? id.i - last.id.i : id.msn === last.id.msn + 1 ? id.i + 1 : 0;
    if (next < 1 || next > 2) return 0;
    return 2 * Math.max(50, last.durationMs || 0);
  }

  cancel(id) {
    const key = W.partKey(id);
    for (const e of this.early.get(key) || []) { clearTimeout(e.timer); e.resolve(false); }
    this.early.delete(key);
    for (const w of [...(this.waiters.get(key) || [])]) this.giveUp(w);
  }

  settle(w, result) {
    if (w.done) return;
    w.done = true;
    clearTimeout(w.timer);
    w.resolve(result);
  }

  giveUp(w) {
    const list = (this.waiters.get(w.key) || []).filter((x) => x !== w);
    if (list.length) this.waiters.set(w.key, list);
    else {
      this.waiters.delete(w.key);
      // Nobody waits any more: stop the transfer.
      for (const n of [...this.neighbours.values()]) {
        const t = n.inflight.get(w.key);
        if (n.inflight.delete(w.key)) {
          if (!t.pushed && !t.firstAt) n.fruitless++;
          n.cancelled.add(w.key);
          if (n.cancelled.size > 64) n.cancelled.delete(n.cancelled.values().next().value);
          this.sendFrame(n, W.encodeControl(W.CANCEL, w.id));
          this.fruitless(n);
        }
      }
    }
    this.settle(w, null);
  }

  // fetchFromPeers sends one WANT for a waited-for part to a neighbour that
  // has it, unless one is already in flight.
  fetchFromPeers(key) {
    if (!this.waiters.has(key)) return;
    const a = this.announced.get(key);
    if (!a) return;
    let pick = null;
    for (const n of this.neighbours.values()) {
      if (n.inflight.has(key)) return;
      if (!n.open || !n.has.has(key)) continue;
      if (!pick || n.inflight.size < pick.inflight.size) pick = n;
    }
    if (!pick) return; // a HAVE will call again
    pick.cancelled.delete(key);
    pick.inflight.set(key, { asm: new W.Assembler(a), wantAt: now(), firstAt: 0 });
    this.sendFrame(pick, W.encodeControl(W.WANT, a.id));
  }

  setRendition(r) {
    if (!W.validRendition(r) || r === this.rendition) return;
    this.rendition = r;
    if (!this.ws) this.connect();
    else this.send({ t: 'rendition', rendition: r });
  }

  // ---- stats ----

  // attachPlayer lets the swarm report the player's stalls and lag:
  // fn() returns {stalls, stallMs, lagMs}.
  attachPlayer(fn) { this.player = fn; }

  peerCount() { let k = 0; for (const n of this.neighbours.values()) if (n.open) k++; return k; }

  stats() {
    const p = this.player() || {};
    const c = this.counters;
    return {
      id: this.id, rendition: this.rendition, joined: !!this.welcome,
      peers: this.peerCount(), neighbours: this.neighbours.size,
      httpBytes: c.httpBytes, p2pBytes: c.p2pBytes, uploadBytes: c.uploadBytes,
      httpParts: c.httpParts, p2pParts: c.p2pParts,
      p2pShare: c.httpBytes + c.p2pBytes ? c.p2pBytes / (c.httpBytes + c.p2pBytes) : 0,
      p2pRateBps: Math.round(this.rateBpms * 1000),
      hashMismatches: c.hashMismatches, protocolErrors: c.protocolErrors,
      stalls: p.stalls || 0, stallMs: Math.round(p.stallMs || 0),
      lagMs: typeof p.lagMs === 'number' && p.lagMs >= 0 ? Math.round(p.lagMs) : -1,
      upload: this.canUpload,
      misses: Object.assign({}, this.misses),
    };
  }

  sendStats() {
    if (!this.welcome) return;
    const s = this.stats();
    // from: what each open neighbour delivered, verified; the server
    // credits uploads from these confirmations only.
    const from = [...this.neighbours.values()].filter((n) => n.open)
      .sort((a, b) => b.received - a.received).slice(0, 64)
      .map((n) => ({ peer: n.id, bytes: n.received }));
    this.send({ t: 'stats', rendition: this.rendition, httpBytes: s.httpBytes, p2pBytes: s.p2pBytes,
      uploadBytes: s.uploadBytes, stalls: s.stalls, stallMs: s.stallMs, lagMs: s.lagMs, peers: s.peers, from });
  }

  close() {
    this.closed = true;
    this.sendStats();
    this.timers.forEach(clearInterval);
    for (const n of [...this.neighbours.values()]) this.dropNeighbour(n, 'closing');
    for (const list of this.waiters.values()) for (const w of list) this.settle(w, null);
    this.waiters.clear();
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
  }
}
