// Swarm: one viewer's place in a stream's peer pool. It joins the stream's
// signaling WebSocket (<stream>/swarm), keeps one WebRTC data channel per
// neighbour the tracker gives it, and carries out what the exchange
// machine (exchange.js: the protocol's decisions, without I/O) asks:
// connect, send frames as the channels and the upload cap allow,
// disconnect, report, deliver verified parts.
//
//   const s = new Swarm({url: 'https://host/live/show/', rendition: 'source'});
//   const got = await s.get({r: 'source', msn: 12, i: 3}, 250); // {data, source}, {data: null, prefix, size} or null
//   s.offer(id, bytes);  // a part fetched over HTTP: neighbours may pull it
import * as W from './wire.js';
import { Machine } from './exchange.js';

const STATS_EVERY_MS = 2000;
const FALLBACK_PUMP_MS = 100; // a bufferedamountlow event missed is made up for

const now = () => performance.now();

// selectedPath reads from an RTCStatsReport the candidate pair in use: the
// transport's selectedCandidatePairId or, where that is not given, the
// pair marked selected, or nominated and succeeded. It returns the two
// candidates' types and the protocol, or null.
export function selectedPath(report) {
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) {
    report.forEach((s) => {
      if (!pair && s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = s;
    });
  }
  if (!pair) return null;
  const l = report.get(pair.localCandidateId), r = report.get(pair.remoteCandidateId);
  if (!l || !r) return null;
  const p = { local: l.candidateType, remote: r.candidateType, protocol: l.protocol };
  if (!W.CANDIDATE_TYPES.includes(p.local) || !W.CANDIDATE_TYPES.includes(p.remote) || !W.ICE_PROTOCOLS.includes(p.protocol)) return null;
  return p;
}

// Conn is the WebRTC side of one neighbour.
class Conn {
  constructor(o) {
    this.id = o.peer; this.seed = o.seed; this.offerer = o.offerer;
    this.pc = null; this.dc = null; this.open = false; this.gone = false;
    this.remoteSet = false; this.pendingCandidates = [];
  }
}

export class Swarm {
  // opts: url (the stream's base, e.g. "https://host/live/show/"), rendition,
  // upload {enabled, capBps}, saveData, turnOnly, log (function, optional),
  // jwt (a token for a protected stream, given in the WebSocket's URL: a
  // browser cannot set its headers).
  constructor(opts) {
    this.base = new URL('.', new URL(opts.url, location.href)).href;
    this.rendition = opts.rendition || '';
    const up = opts.upload || {};
    this.upload = { enabled: up.enabled !== false, capBps: Math.max(0, Math.floor(up.capBps || 0)) };
    const conn = typeof navigator !== 'undefined' && navigator.connection;
    this.saveData = opts.saveData !== undefined ? !!opts.saveData : !!(conn && conn.saveData);
    this.turnOnly = !!opts.turnOnly;
    this.log = opts.log || (() => {});
    this.jwt = opts.jwt || '';
    this.id = '';
    this.welcome = null;
    this.ws = null;
    this.closed = false;
    this.m = null;                     // the exchange, from welcome on
    this.neighbours = new Map();       // id -> Conn
    this.announced = new Map();        // key -> part announcement
    this.latest = new Map();           // rendition -> its newest announcement
    this.early = new Map();            // key -> [{resolve, timer}]: asked for before announced
    this.waiters = new Map();          // key -> [waiter]
    this.counters = { httpBytes: 0, p2pBytes: 0, uploadBytes: 0, p2pParts: 0, httpParts: 0 };
    // Why get() gave a part up to HTTP: no time left in the player's buffer,
    // no open neighbour, no announcement came, the wait ran out.
    this.misses = { noTime: 0, noNeighbour: 0, unannounced: 0, timeout: 0 };
    this.player = () => ({ stalls: 0, stallMs: 0, lagMs: -1 });
    // Measured delivery rate of parts pulled from neighbours (bytes/ms, EWMA).
    this.rateBpms = 0;
    // NAT traversal, for the stats: the open connections by the candidate
    // pair in use (refreshed after each report, getStats being
    // asynchronous), when this session's first neighbour was offered and
    // whether any channel has opened since.
    this.paths = []; this.offeredAt = null; this.everOpened = false;
    this.timer = null; this.timerAt = null; // runs advance at the machine's deadline
    this.timers = [setInterval(() => this.sendStats(), STATS_EVERY_MS)];
    this.retryMs = 1000;
    if (this.rendition) this.connect();
  }

  get canUpload() { return this.upload.enabled && !this.saveData; }

  // ---- the machine ----

  // step runs one event on the machine and carries out its actions.
  step(event) {
    if (!this.m) return;
    event(now());
    this.act();
  }

  act() {
    const m = this.m;
    for (;;) {
      const woken = [];
      for (let o = m.poll(); o; o = m.poll()) {
        switch (o.t) {
          case 'connect': this.addNeighbour(o); break;
          case 'disconnect': {
            const c = this.neighbours.get(o.peer);
            if (c) this.closeConn(c, o.reason);
            break;
          }
          case 'report':
            this.log('swarm: neighbour ' + o.peer + ' misbehaved (' + o.reason + ')');
            this.send({ t: 'report', peer: o.peer, reason: o.reason });
            break;
          case 'deliver':
            this.counters.p2pBytes += o.data.length;
            this.counters.p2pParts++;
            break;
          case 'fetched': this.fetched(o.id, o.data); break;
          case 'wake': {
            const c = this.neighbours.get(o.peer);
            if (c) woken.push(c);
            break;
          }
        }
      }
      if (!woken.length) break;
      for (const c of woken) this.sendFrames(c);
    }
    const d = m.deadline();
    if (d !== this.timerAt) {
      clearTimeout(this.timer);
      this.timerAt = d;
      this.timer = d === null ? null : setTimeout(() => { this.timerAt = null; this.step((t) => this.m.advance(t)); }, Math.max(0, d - now()));
    }
  }

  // pump sends what c's channel takes now (it drained, or a timer fired).
  pump(c) {
    if (!this.m) return;
    this.sendFrames(c);
    this.act();
  }

  // sendFrames sends the frames the machine hands out for c while its channel
  // has room.
  sendFrames(c) {
    clearTimeout(c.pumpTimer);
    if (!c.open || !c.dc || c.dc.readyState !== 'open') return;
    for (;;) {
      const frame = this.m.transmit(now(), c.id, c.dc.bufferedAmount);
      if (!frame) break;
      try { c.dc.send(frame); } catch (e) { this.closeConn(c, 'send: ' + e.message); this.m.closed(now(), c.id, 'send failed'); return; }
      if (new Uint8Array(frame, 0, 1)[0] === W.DATA) this.counters.uploadBytes += frame.byteLength;
    }
    if (c.dc.bufferedAmount > W.LOW_WATER) c.pumpTimer = setTimeout(() => this.pump(c), FALLBACK_PUMP_MS);
  }

  // ---- signaling ----

  connect() {
    if (this.closed || this.ws) return;
    const u = new URL('swarm', this.base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.jwt) u.searchParams.set('jwt', this.jwt);
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
      this.stopMachine();
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
        this.paths = []; this.offeredAt = null; this.everOpened = false;
        this.log('swarm: joined as ' + m.id + ' (' + m.iceTransportPolicy + ', maxFrame ' + m.maxFrame + ')');
        this.stopMachine();
        this.m = new Machine({ id: m.id, canUpload: this.canUpload, uploadCapBps: this.upload.capBps, maxFrame: m.maxFrame }, now());
        for (const a of this.announced.values()) this.m.expect(now(), a);
        break;
      case 'peers':
        if (m.add.length && this.offeredAt === null) this.offeredAt = now();
        this.step((t) => this.m.setNeighbours(t, m.add, m.remove));
        break;
      case 'signal':
        this.onRelay(m).catch((e) => this.log('swarm: signal from ' + m.from + ': ' + e.message));
        break;
      case 'part': {
        const key = W.partKey(m.id);
        if (this.announced.has(key)) break;
        this.announced.set(key, m);
        if (this.announced.size > W.MAX_ANNOUNCED) this.announced.delete(this.announced.keys().next().value);
        this.latest.set(m.id.r, m);
        this.step((t) => this.m.expect(t, m));
        const early = this.early.get(key);
        if (early) {
          this.early.delete(key);
          for (const e of early) { clearTimeout(e.timer); e.resolve(true); }
        }
        break;
      }
      case 'error':
        this.log('swarm: server closes the session: ' + m.reason);
        break;
    }
  }

  // stopMachine ends the exchange of a session that is over: every
  // connection closes and every get() still waiting resolves null.
  stopMachine() {
    if (!this.m) return;
    this.step((t) => this.m.close(t));
    for (const c of [...this.neighbours.values()]) this.closeConn(c, 'session over');
    clearTimeout(this.timer); this.timer = null; this.timerAt = null;
    this.m = null;
  }

  // ---- neighbours and WebRTC ----

  addNeighbour(o) {
    const c = new Conn(o);
    this.neighbours.set(c.id, c);
    if (c.offerer) this.makeOffer(c).catch((e) => this.gone(c, 'offer: ' + e.message));
  }

  newPC(c) {
    const pc = c.pc = new RTCPeerConnection({
      iceServers: this.welcome.ice,
      iceTransportPolicy: this.turnOnly ? 'relay' : this.welcome.iceTransportPolicy,
    });
    pc.onicecandidate = (ev) => {
      // End-of-candidates is not sent: it would only spend signaling rate.
      if (!ev.candidate || !ev.candidate.candidate) return;
      this.send({ t: 'signal', to: c.id, candidate: {
        candidate: ev.candidate.candidate, sdpMid: ev.candidate.sdpMid || '',
        sdpMLineIndex: ev.candidate.sdpMLineIndex || 0 } });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') this.gone(c, 'connection failed');
    };
    pc.ondatachannel = (ev) => {
      if (c.dc || ev.channel.label !== W.DATA_CHANNEL_LABEL) { ev.channel.close(); return; }
      this.setupChannel(c, ev.channel);
    };
    return pc;
  }

  async makeOffer(c) {
    const pc = this.newPC(c);
    this.setupChannel(c, pc.createDataChannel(W.DATA_CHANNEL_LABEL, { ordered: true }));
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.send({ t: 'signal', to: c.id, sdp: { type: 'offer', sdp: pc.localDescription.sdp } });
  }

  async onRelay(m) {
    const c = this.neighbours.get(m.from);
    if (!c) return; // not (or no longer) a neighbour
    if (m.sdp) {
      if (m.sdp.type === 'offer') {
        if (c.pc) { this.gone(c, 'a second offer'); return; }
        const pc = this.newPC(c);
        await pc.setRemoteDescription(m.sdp);
        c.remoteSet = true;
        await this.flushCandidates(c);
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        this.send({ t: 'signal', to: c.id, sdp: { type: 'answer', sdp: pc.localDescription.sdp } });
      } else {
        if (!c.pc || c.remoteSet || c.pc.signalingState !== 'have-local-offer') { this.gone(c, 'an unexpected answer'); return; }
        await c.pc.setRemoteDescription(m.sdp);
        c.remoteSet = true;
        await this.flushCandidates(c);
      }
    } else if (m.candidate.candidate) {
      if (c.pendingCandidates.length > 32) return;
      c.pendingCandidates.push(m.candidate);
      if (c.remoteSet) await this.flushCandidates(c);
    }
  }

  async flushCandidates(c) {
    const cs = c.pendingCandidates; c.pendingCandidates = [];
    for (const x of cs) {
      try { await c.pc.addIceCandidate(x); } catch (e) { this.log('swarm: candidate from ' + c.id + ': ' + e.message); }
    }
  }

  setupChannel(c, dc) {
    c.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = W.LOW_WATER;
    dc.onopen = () => {
      if (c.gone) return;
      c.open = true;
      this.everOpened = true;
      this.log('swarm: data channel open with ' + c.id);
      this.step((t) => this.m.opened(t, c.id));
    };
    dc.onclose = () => this.gone(c, 'data channel closed');
    dc.onbufferedamountlow = () => this.pump(c);
    dc.onmessage = (ev) => {
      if (c.gone) return;
      this.step((t) => this.m.receive(t, c.id, ev.data, typeof ev.data === 'string'));
    };
  }

  // gone handles a connection that went away underneath.
  gone(c, why) {
    if (c.gone) return;
    this.closeConn(c, why);
    this.step((t) => this.m.closed(t, c.id, why));
  }

  closeConn(c, why) {
    if (c.gone) return;
    c.gone = true; c.open = false;
    clearTimeout(c.pumpTimer);
    if (this.neighbours.get(c.id) === c) this.neighbours.delete(c.id);
    this.log('swarm: neighbour ' + c.id + ' gone: ' + why);
    try { if (c.dc) c.dc.close(); } catch (_) { /* closing anyway */ }
    try { if (c.pc) c.pc.close(); } catch (_) { /* closing anyway */ }
  }

  // ---- parts ----

  // offer takes a part fetched over HTTP: if it matches its announcement,
  // neighbours may pull it from here. It returns whether it was kept.
  // fromPeers is how many of its first bytes neighbours had sent (only
  // the rest came over HTTP).
  offer(id, data, fromPeers = 0) {
    const key = W.partKey(id);
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    this.counters.httpBytes += bytes.length - fromPeers;
    this.counters.p2pBytes += fromPeers;
    this.counters.httpParts++;
    if (!this.m || !this.announced.has(key) || this.m.part(id)) return false;
    try {
      this.step((t) => this.m.offer(t, id, bytes.slice()));
    } catch (e) {
      this.log('swarm: HTTP bytes of ' + key + ' not kept: ' + e.message);
      return false;
    }
    return true;
  }

  // countHTTP records media bytes fetched over HTTP that are not parts.
  countHTTP(n) { this.counters.httpBytes += n; }

  // get resolves with {data, source, ...timings} for a verified part from
  // the store or the neighbours, or null when none can deliver it in time.
  // deadline is the wait in ms, or a function returning it (read when the
  // part is announced).
  get(id, deadline) {
    const key = W.partKey(id);
    const held = this.m && this.m.part(id);
    if (held) return Promise.resolve({ data: held, source: 'store' });
    if (id.r !== this.rendition) this.setRendition(id.r);
    if (!this.welcome || !this.m) return Promise.resolve(null);
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
    // The server's seeders push every part into the swarm: with a
    // neighbour open, wait for it.
    if (this.m.openCount() === 0) { this.misses.noNeighbour++; return Promise.resolve(null); }
    return new Promise((resolve) => {
      const w = { id, key, resolve, done: false, startAt: now() };
      w.timer = setTimeout(() => { this.misses.timeout++; this.giveUp(w); }, deadlineMs);
      const list = this.waiters.get(key) || [];
      list.push(w);
      this.waiters.set(key, list);
      // One neighbour may go without progress for a quarter of the wait
      // before the next is asked (as the Go viewer).
      const attempt = Math.min(Math.max(deadlineMs / 4, 250), 3000);
      this.step((t) => { const data = this.m.want(t, id, attempt); if (data) this.fetched(id, data); });
    });
  }

  // fetched hands a part the machine got (or null: it closed) to whoever
  // waits for it.
  fetched(id, data) {
    const key = W.partKey(id);
    const ws = this.waiters.get(key);
    if (!ws) return;
    this.waiters.delete(key);
    const endAt = now();
    for (const w of ws) {
      if (data && !w.done) {
        const rate = data.length / Math.max(1, endAt - w.startAt);
        this.rateBpms = this.rateBpms ? 0.8 * this.rateBpms + 0.2 * rate : rate;
      }
      this.settle(w, data ? { data, source: 'p2p', wantAt: w.startAt, endAt } : null);
    }
  }

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

  // cancel withdraws a pending get (the loader was aborted).
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

  // giveUp ends w's wait in vain. When neighbours had sent the part's
  // first bytes, verified, w gets them ({data: null, prefix, size}) so the
  // loader fetches only the rest over HTTP.
  giveUp(w) {
    const a = this.announced.get(w.key);
    const prefix = this.m && a ? this.m.verified(w.id) : null;
    const list = (this.waiters.get(w.key) || []).filter((x) => x !== w);
    if (list.length) this.waiters.set(w.key, list);
    else if (this.waiters.delete(w.key)) this.step((t) => this.m.unwant(t, w.id)); // nobody waits any more
    this.settle(w, prefix && prefix.length < a.size ? { data: null, prefix, size: a.size } : null);
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

  peerCount() { return this.m ? this.m.openCount() : 0; }

  stats() {
    const p = this.player() || {};
    const c = this.counters;
    const ms = this.m ? this.m.stats() : { hashMismatch: 0, protocolError: 0 };
    return {
      id: this.id, rendition: this.rendition, joined: !!this.welcome,
      peers: this.peerCount(), neighbours: this.neighbours.size,
      httpBytes: c.httpBytes, p2pBytes: c.p2pBytes, uploadBytes: c.uploadBytes,
      httpParts: c.httpParts, p2pParts: c.p2pParts,
      p2pShare: c.httpBytes + c.p2pBytes ? c.p2pBytes / (c.httpBytes + c.p2pBytes) : 0,
      p2pRateBps: Math.round(this.rateBpms * 1000),
      hashMismatches: ms.hashMismatch, protocolErrors: ms.protocolError,
      stalls: p.stalls || 0, stallMs: Math.round(p.stallMs || 0),
      lagMs: typeof p.lagMs === 'number' && p.lagMs >= 0 ? Math.round(p.lagMs) : -1,
      upload: this.canUpload,
      misses: Object.assign({}, this.misses),
      paths: this.paths.map((p) => Object.assign({}, p)), unreachable: this.unreachable(),
    };
  }

  // unreachable: neighbours were offered and none of their channels opened
  // within UNREACHABLE_AFTER_MS of the first offer, nor since. The server
  // then offers this viewer to nobody; it keeps playing over HTTP.
  unreachable() {
    return this.offeredAt !== null && !this.everOpened && now() - this.offeredAt >= W.UNREACHABLE_AFTER_MS;
  }

  // refreshPaths counts the open connections by the ICE candidate pair each
  // uses, for the next stats.
  async refreshPaths() {
    const session = this.welcome;
    const counts = new Map();
    let total = 0;
    for (const c of [...this.neighbours.values()]) {
      if (!c.open || !c.pc || total >= W.MAX_LIST_LEN) continue;
      let p = null;
      try { p = selectedPath(await c.pc.getStats()); } catch (_) { /* closed meanwhile */ }
      if (!p) continue;
      const key = p.local + '/' + p.remote + '/' + p.protocol;
      const e = counts.get(key);
      if (e) e.count++; else counts.set(key, Object.assign(p, { count: 1 }));
      total++;
    }
    if (this.welcome === session) this.paths = [...counts.values()];
  }

  sendStats() {
    if (!this.welcome || !this.m) return;
    const s = this.stats();
    // from: what each open neighbour delivered, verified; the server
    // credits uploads from these confirmations only.
    this.send({ t: 'stats', rendition: this.rendition, httpBytes: s.httpBytes, p2pBytes: s.p2pBytes,
      uploadBytes: s.uploadBytes, stalls: s.stalls, stallMs: s.stallMs, lagMs: s.lagMs, peers: s.peers, from: this.m.received(),
      paths: s.paths, unreachable: s.unreachable });
    if (!this.closed) this.refreshPaths().catch((e) => this.log('swarm: reading connection stats: ' + e.message));
  }

  close() {
    if (this.closed) return;
    this.sendStats();
    this.closed = true;
    this.timers.forEach(clearInterval);
    this.stopMachine();
    for (const list of this.waiters.values()) for (const w of list) this.settle(w, null);
    this.waiters.clear();
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
  }
}
