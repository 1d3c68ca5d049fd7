// exchange.js is the peer protocol's decisions for one browser viewer, as
// a state machine without I/O: no RTCPeerConnection, WebSocket, timer or
// clock. It is the Go peerpool/exchange machine in JavaScript, rule for
// rule; the scenario vectors of peerpool/exchange/testdata/vectors drive
// both (go test ./peerpool/client runs them here in Node).
//
// Events go in as method calls given the time in ms (setNeighbours,
// opened, closed, receive, expect, offer, want, unwant, advance); actions
// come out of poll() ({t: 'connect' | 'disconnect' | 'report' | 'deliver'
// | 'fetched' | 'wake', ...}) and transmit(), which hands out a
// neighbour's next frame when its channel and the upload cap have room.
import * as W from './wire.js';

const DEFAULT_STORE_PARTS = 256;
const DEFAULT_STORE_BYTES = 256 << 20;
// Limits shared with the Go exchange live in wire.js (peerpool/wire/limits.go).
const { MAX_REQUESTS, MAX_UNSOLICITED, MAX_FRAMES_PER_SEC, MAX_CONTROL_QUEUE, UPLOAD_POLL_MS } = W;

// BoundedSet keeps at most max keys; the oldest insertions go first.
class BoundedSet {
  constructor(max) { this.max = max; this.s = new Set(); }
  has(k) { return this.s.has(k); }
  add(k) {
    if (this.s.has(k)) return;
    this.s.add(k);
    while (this.s.size > this.max) this.s.delete(this.s.values().next().value);
  }
  delete(k) { this.s.delete(k); }
}

// Store holds verified parts, newest last, bounded by count and bytes.
class Store {
  constructor(maxParts, maxBytes) { this.maxParts = maxParts; this.maxBytes = maxBytes; this.bytes = 0; this.m = new Map(); }
  get(key) { return this.m.get(key); }
  add(key, id, data) {
    if (this.m.has(key)) return false;
    this.m.set(key, { id, data });
    this.bytes += data.length;
    while (this.m.size > 1 && (this.m.size > this.maxParts || this.bytes > this.maxBytes)) {
      const [old, e] = this.m.entries().next().value;
      this.m.delete(old);
      this.bytes -= e.data.length;
    }
    return true;
  }
  newest(n) { return [...this.m.values()].slice(-n).map((e) => e.id); }
}

// Bucket is the upload cap's token bucket in bytes: a frame may go
// whenever the balance is not negative, and its size is then spent.
class Bucket {
  constructor(rateBps, now) { this.rate = rateBps; this.burst = rateBps / 10; this.tokens = this.burst; this.last = now; }
  readyAt(now) {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate / 1000);
      this.last = now;
    }
    if (this.tokens >= 0) return now;
    return now + (-this.tokens / this.rate) * 1000 + 1;
  }
  spend(n) { this.tokens -= n; }
  // owed is what the frames already sent overdrew, in bytes, at now.
  owed(now) { this.readyAt(now); return Math.max(0, -this.tokens); }
  // owesAtMost is when the overdraft is down to x bytes.
  owesAtMost(x) { return -this.tokens <= x ? this.last : this.last + (-this.tokens - x) / this.rate * 1000; }
}

// ahead tells whether upload a goes before b: one under way first, then
// the newer part, then the one queued first (see transmit).
export function ahead(a, b) {
  if ((a.sent > 0) !== (b.sent > 0)) return a.sent > 0;
  if (a.id.msn !== b.id.msn) return a.id.msn > b.id.msn;
  if (a.id.i !== b.id.i) return a.id.i > b.id.i;
  return a.seq < b.seq;
}

class Neighbour {
  constructor(info, now) {
    this.id = info.id; this.seed = !!info.seed; this.noUpload = !!info.noUpload; this.added = now;
    this.open = false; this.closed = false; this.blocked = false; this.woken = false;
    this.has = new BoundedSet(W.MAX_HAVE);     // parts it said HAVE for
    this.ignored = new BoundedSet(W.MAX_HAVE); // parts whose DATA from it is dropped (we cancelled them)
    this.requests = new Map();                 // key -> {sent, late}: our WANTs (late: see advanceFetch)
    this.incoming = new Map();                 // key -> {asm, pending, pendingBytes, next, total, started, progress, req}
    this.pendingBytes = 0;
    this.control = [];
    this.uploads = [];                         // {id, key, total, data, sent, progress, seq, asked, queued}
    this.throughput = 0;                       // bytes/s, EWMA
    this.unsolicited = 0;
    this.winStart = -Infinity; this.winFrames = 0;
    this.verified = 0;                         // part bytes from it, verified: confirmed to the server
    this.fruitless = 0;                        // WANTs in a row it let stall
    this.nopes = 0;                            // NOPEs to our WANTs while it has delivered nothing
    this.stats = { bytesReceived: 0, bytesSent: 0, partsReceived: 0, partsSent: 0 };
  }
  uploading(key) { return this.uploads.some((u) => u.key === key); }
  removeUpload(u) { const k = this.uploads.indexOf(u); if (k >= 0) this.uploads.splice(k, 1); }
}

export class Machine {
  // cfg: id, canUpload, uploadCapBps, maxFrame, seed, connectTimeoutMs,
  // storeParts, storeBytes. now: ms.
  constructor(cfg, now) {
    if (!W.validPeerID(cfg.id)) throw new Error('exchange: invalid id');
    this.cfg = {
      id: cfg.id, canUpload: !!cfg.canUpload, uploadCapBps: Math.max(0, Math.floor(cfg.uploadCapBps || 0)),
      maxFrame: cfg.maxFrame || W.MAX_FRAME_SIZE, seed: !!cfg.seed,
      connectTimeoutMs: cfg.connectTimeoutMs > 0 ? cfg.connectTimeoutMs : W.CONNECT_TIMEOUT_MS,
      storeParts: cfg.storeParts > 0 ? cfg.storeParts : DEFAULT_STORE_PARTS,
      storeBytes: cfg.storeBytes > 0 ? cfg.storeBytes : DEFAULT_STORE_BYTES,
    };
    if (this.cfg.maxFrame < W.MIN_FRAME_SIZE || this.cfg.maxFrame > W.MAX_FRAME_SIZE) throw new Error('exchange: maxFrame ' + this.cfg.maxFrame);
    this.isClosed = false;
    this.neighbours = new Map();
    this.banned = new Map();
    this.expected = new Map();                 // key -> announcement, oldest first
    this.store = new Store(this.cfg.storeParts, this.cfg.storeBytes);
    this.fetches = new Map();                  // key -> {id, key, attempt, tried, at, deadline}
    this.declined = [];                        // {n, id, key}: WANTs declined while busy
    this.earlyHave = new BoundedSet(W.MAX_ANNOUNCED);
    this.uploadSeq = 0;
    this.bucket = this.cfg.uploadCapBps > 0 ? new Bucket(this.cfg.uploadCapBps, now) : null;
    this.bucketAt = null; this.turnAt = null;
    this.out = [];
    this.st = { bytesReceived: 0, bytesSent: 0, partsOffered: 0, partsFromPeer: 0, partsServed: 0, duplicates: 0, declined: 0, hashMismatch: 0, protocolError: 0 };
  }

  poll() { return this.out.length ? this.out.shift() : null; }
  emit(o) { this.out.push(o); }

  sorted() { return [...this.neighbours.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)); }

  setNeighbours(now, add, remove) {
    if (this.isClosed) return;
    for (const id of remove || []) { const n = this.neighbours.get(id); if (n) this.drop(now, n, 'removed by the server'); }
    for (const info of add || []) {
      if (info.id === this.cfg.id || !W.validPeerID(info.id) || this.banned.has(info.id) || this.neighbours.has(info.id)) continue;
      let offerer = this.cfg.id < info.id;
      if (this.cfg.seed !== !!info.seed) offerer = this.cfg.seed;
      this.neighbours.set(info.id, new Neighbour(info, now));
      this.emit({ t: 'connect', peer: info.id, seed: !!info.seed, noUpload: !!info.noUpload, offerer });
    }
    this.progress(now);
  }

  // part returns a stored part's bytes, or null.
  part(id) { const s = this.store.get(W.partKey(id)); return s ? s.data : null; }

  isBanned(id) { return this.banned.has(id); }

  opened(now, id) {
    const n = this.neighbours.get(id);
    if (!n || n.open) return;
    n.open = true;
    if (this.cfg.canUpload) for (const p of this.store.newest(W.HAVE_ON_OPEN)) this.queueControl(now, n, W.HAVE, p);
    this.wake(n);
    this.progress(now);
  }

  closed(now, id, reason) {
    const n = this.neighbours.get(id);
    if (n) { this.drop(now, n, reason); this.progress(now); }
  }

  // expect records a part announcement (decoded by wire.js).
  expect(now, a) {
    const key = W.partKey(a.id);
    if (this.expected.has(key) || this.isClosed) return;
    this.expected.set(key, a);
    while (this.expected.size > W.MAX_ANNOUNCED) this.expected.delete(this.expected.keys().next().value);
    for (const n of this.sorted()) {
      const inc = n.incoming.get(key);
      if (inc && !inc.asm) this.announce(now, n, inc, a);
    }
    this.progress(now);
  }

  // offer stores a part this peer trusts; it throws if the part does not
  // match its announcement. data must not be modified afterwards.
  offer(now, id, data) {
    const key = W.partKey(id);
    if (!data.length || data.length > W.MAX_PART_SIZE) throw new Error('exchange: offered part ' + key + ' has ' + data.length + ' bytes');
    const a = this.expected.get(key);
    if (a && (a.size !== data.length || W.sha256HexSync(data) !== a.sha256)) throw new Error('exchange: offered part ' + key + ' does not match its announcement');
    if (this.isClosed || !this.store.add(key, id, data)) return;
    this.st.partsOffered++;
    if (this.cfg.seed && this.cfg.canUpload) {
      for (const n of this.sorted()) if (n.open && !n.has.has(key)) this.queueUpload(now, n, id, key, false);
    }
    this.stored(now, id, key, data, null);
    this.progress(now);
  }

  stored(now, id, key, data, from) {
    for (const n of this.sorted()) {
      if (n !== from && (n.incoming.has(key) || n.requests.has(key))) this.abandon(now, n, id, key);
      if (n.uploading(key)) this.wake(n);
      else if (this.cfg.canUpload && n.open && !n.has.has(key)) this.queueControl(now, n, W.HAVE, id);
    }
    if (this.fetches.has(key)) {
      this.fetches.delete(key);
      this.emit({ t: 'fetched', id, data });
    }
  }

  close(now) {
    if (this.isClosed) return;
    for (const n of this.sorted()) this.drop(now, n, 'closing');
    this.isClosed = true;
    for (const f of this.fetches.values()) this.emit({ t: 'fetched', id: f.id, data: null });
    this.fetches.clear();
  }

  advance(now) {
    if (this.isClosed) return;
    for (const n of this.sorted()) {
      if (!n.open && now - n.added >= this.cfg.connectTimeoutMs) {
        this.drop(now, n, 'no data channel after ' + this.cfg.connectTimeoutMs + ' ms');
        if (!n.seed) {
          this.banned.set(n.id, 'timeout');
          this.emit({ t: 'report', peer: n.id, reason: 'timeout' });
        }
        continue;
      }
      if (n.uploads.length) this.readyUpload(now, n);
      this.judgeLate(now, n);
    }
    if (this.bucketAt !== null && now >= this.bucketAt) { this.bucketAt = null; this.wakeUploads(); }
    if (this.turnAt !== null && now >= this.turnAt) { this.turnAt = null; this.wakeUploads(); }
    this.reoffer(now); // declined while the cap was spent: it may be repaid
    this.progress(now);
  }

  // deadline is when advance must next be called, or null.
  deadline() {
    let d = null;
    const at = (t) => { if (t !== null && (d === null || t < d)) d = t; };
    for (const f of this.fetches.values()) at(f.deadline);
    for (const n of this.neighbours.values()) {
      if (!n.open) at(n.added + this.cfg.connectTimeoutMs);
      for (const u of n.uploads) {
        if (u.sent === u.data.length) at(u.progress + W.STARVED_UPLOAD_MS);
        if (u.asked && u.sent === 0) at(u.queued + W.START_WITHIN_MS);
      }
      for (const [key, r] of n.requests) if (r.late && !n.incoming.has(key)) at(r.sent + W.FIRST_BYTE_MS);
    }
    at(this.bucketAt);
    at(this.turnAt);
    if (this.declined.length && this.bucket) { // reoffer once the cap is no longer spent
      const t = this.bucket.owesAtMost(this.cfg.uploadCapBps * W.BUSY_HORIZON_MS / 1000);
      if (t > this.bucket.last) at(t);
    }
    return d;
  }

  availability(id) {
    const key = W.partKey(id);
    let holders = 0;
    for (const n of this.neighbours.values()) if (n.open && n.has.has(key)) holders++;
    return { holders, inFlight: !!this.activeIncoming(key) };
  }

  // received lists the open neighbours and the verified part bytes each
  // delivered: what the server credits uploads from (stats.from).
  received() {
    return [...this.neighbours.values()].filter((n) => n.open)
      .map((n) => ({ peer: n.id, bytes: n.verified }))
      .sort((a, b) => b.bytes - a.bytes || (a.peer < b.peer ? -1 : 1))
      .slice(0, W.MAX_LIST_LEN);
  }

  stats() { return Object.assign({ banned: [...this.banned.keys()] }, this.st); }
  openCount() { let k = 0; for (const n of this.neighbours.values()) if (n.open) k++; return k; }

  bad(now, n, reason, msg) {
    if (n.closed) return;
    if (reason === 'hash-mismatch') this.st.hashMismatch++; else this.st.protocolError++;
    this.banned.set(n.id, reason);
    this.drop(now, n, reason + ': ' + msg);
    this.emit({ t: 'report', peer: n.id, reason });
  }

  drop(now, n, reason) {
    if (n.closed) return;
    n.closed = true; n.open = false;
    if (this.neighbours.get(n.id) === n) this.neighbours.delete(n.id);
    n.requests.clear(); n.incoming.clear();
    n.pendingBytes = 0; n.control = []; n.uploads = [];
    this.emit({ t: 'disconnect', peer: n.id, reason });
  }

  wake(n) {
    if (!n.woken && !n.closed) { n.woken = true; this.emit({ t: 'wake', peer: n.id }); }
  }

  queueControl(now, n, type, id) {
    if (n.closed) return;
    if (n.control.length >= MAX_CONTROL_QUEUE) { this.drop(now, n, 'control queue overflow (neighbour not reading)'); return; }
    n.control.push(W.encodeControl(type, id));
    this.wake(n);
  }

  queueUpload(now, n, id, key, asked) {
    const { data, total } = this.partBytes(key);
    if (n.closed || !data || !data.length || n.uploads.length >= W.MAX_UPLOADS) return false;
    if (n.uploading(key)) return true;
    this.uploadSeq++;
    n.uploads.push({ id, key, total, data, sent: 0, progress: now, seq: this.uploadSeq, asked, queued: now });
    this.wake(n);
    return true;
  }

  abandon(now, n, id, key) {
    n.requests.delete(key);
    const inc = n.incoming.get(key);
    if (inc) { n.pendingBytes -= inc.pendingBytes; n.incoming.delete(key); }
    if (!n.ignored.has(key)) { n.ignored.add(key); this.queueControl(now, n, W.CANCEL, id); }
  }

  // ---- receiving ----

  receive(now, from, data, text) {
    const n = this.neighbours.get(from);
    if (!n || n.closed) return;
    this.receiveFrom(now, n, data, text);
    this.progress(now);
  }

  receiveFrom(now, n, data, text) {
    if (now - n.winStart >= 1000) { n.winStart = now; n.winFrames = 0; }
    if (++n.winFrames > MAX_FRAMES_PER_SEC) { this.bad(now, n, 'protocol', 'more than ' + MAX_FRAMES_PER_SEC + ' frames in a second'); return; }
    if (text) { this.bad(now, n, 'protocol', 'text message on the data channel'); return; }
    let f;
    try { f = W.parseFrame(data); } catch (e) {
      if (!(e instanceof W.ProtocolError)) throw e;
      this.bad(now, n, 'protocol', e.message);
      return;
    }
    if (f.type === W.DATA) this.onData(now, n, f);
    else this.onControl(now, n, f.type, f.id);
  }

  onControl(now, n, type, id) {
    const key = W.partKey(id);
    switch (type) {
      case W.HAVE:
        if (!n.noUpload) n.has.add(key);
        break;
      case W.WANT:
        if (!this.cfg.canUpload || !this.holds(key)) this.queueControl(now, n, W.NOPE, id);
        else if (n.uploading(key)) { /* already on its way */ }
        // A neighbour never served gets one upload queued even so: one
        // declined every time it asked would drop us as giving nothing
        // (MAX_UNPROVEN_NOPES).
        else if (this.busy(now) && (n.stats.bytesSent > 0 || n.uploads.length > 0)) this.decline(now, n, id, key);
        else if (!this.queueUpload(now, n, id, key, true)) this.queueControl(now, n, W.NOPE, id);
        break;
      case W.CANCEL: {
        const u = n.uploads.find((x) => x.key === key);
        if (u) {
          n.removeUpload(u);
          // A push it declined: it may still want it later.
          if (!n.has.has(key) && this.store.get(key)) this.queueControl(now, n, W.HAVE, id);
        }
        break;
      }
      case W.NOPE:
        n.has.delete(key);
        if (n.requests.has(key)) {
          n.requests.delete(key);
          const inc = n.incoming.get(key);
          if (inc) { n.pendingBytes -= inc.pendingBytes; n.incoming.delete(key); n.ignored.add(key); }
          if (n.verified === 0) { n.nopes++; this.fruitlessCheck(now, n); }
        }
        break;
    }
  }

  onData(now, n, f) {
    const size = f.data.length;
    n.stats.bytesReceived += size;
    this.st.bytesReceived += size;
    const key = W.partKey(f.id);
    let inc = n.incoming.get(key);
    if (!inc) {
      if (n.ignored.has(key)) return;
      const req = n.requests.get(key) || null;
      if (!req && !n.seed) {
        n.unsolicited += size;
        if (n.unsolicited > MAX_UNSOLICITED) this.bad(now, n, 'protocol', n.unsolicited + ' bytes of DATA nobody asked for');
        return;
      }
      if (f.offset !== 0) { this.bad(now, n, 'protocol', 'part ' + key + ': first DATA at offset ' + f.offset); return; }
      if (this.store.get(key) || n.incoming.size >= W.MAX_INCOMING) { this.abandon(now, n, f.id, key); return; }
      inc = { asm: null, pending: [], pendingBytes: 0, next: 0, total: f.total, started: now, progress: now, req };
      n.incoming.set(key, inc);
      const a = this.expected.get(key);
      if (a) {
        this.announce(now, n, inc, a);
        if (n.incoming.get(key) !== inc) return;
      }
    }
    inc.progress = now;
    if (inc.asm) { this.add(now, n, inc, f, key); return; }
    // Not announced yet: keep the frames (in order, bounded) until expect.
    if (f.offset !== inc.next || f.total !== inc.total) {
      this.bad(now, n, 'protocol', 'part ' + key + ': DATA at offset ' + f.offset + ' of ' + f.total + ', expected offset ' + inc.next + ' of ' + inc.total);
      return;
    }
    if (n.pendingBytes + size > W.MAX_PENDING_BYTES) { this.abandon(now, n, f.id, key); return; }
    inc.pending.push(f);
    inc.pendingBytes += size; n.pendingBytes += size; inc.next += size;
  }

  announce(now, n, inc, a) {
    const key = W.partKey(a.id);
    if (a.size !== inc.total) { this.bad(now, n, 'protocol', 'part ' + key + ': DATA total ' + inc.total + ' differs from the announced size ' + a.size); return; }
    inc.asm = new W.Assembler(a);
    const pending = inc.pending;
    n.pendingBytes -= inc.pendingBytes;
    inc.pending = []; inc.pendingBytes = 0;
    for (const f of pending) {
      this.add(now, n, inc, f, key);
      if (n.incoming.get(key) !== inc) break;
    }
  }

  add(now, n, inc, f, key) {
    const before = inc.asm.verifiedLen;
    let done;
    try { done = inc.asm.add(f); } catch (e) {
      if (e instanceof W.HashMismatch) { this.bad(now, n, 'hash-mismatch', e.message); return; }
      if (e instanceof W.ProtocolError) { this.bad(now, n, 'protocol', e.message); return; }
      throw e;
    }
    const after = inc.asm.verifiedLen;
    if (after > before) { n.verified += after - before; n.fruitless = 0; }
    if (!done) {
      if (after > before) this.verifiedMore(now, n, f.id, key);
      return;
    }
    n.incoming.delete(key);
    let start = inc.started;
    if (inc.req) {
      start = inc.req.sent;
      if (n.requests.get(key) === inc.req) n.requests.delete(key);
    }
    const data = inc.asm.verified();
    const secs = (now - start) / 1000;
    if (secs > 0) {
      const bps = data.length / secs;
      n.throughput = n.throughput === 0 ? bps : 0.7 * n.throughput + 0.3 * bps;
    }
    n.stats.partsReceived++;
    n.has.add(key);
    if (!this.store.add(key, f.id, data)) { this.st.duplicates++; return; }
    this.st.partsFromPeer++;
    this.stored(now, f.id, key, data, n);
    this.emit({ t: 'deliver', id: f.id, data, from: n.id });
  }

  // ---- fetching ----

  // want returns the part when it is stored; otherwise it starts a fetch
  // (or joins the one under way), which ends with a 'fetched' action.
  want(now, id, attemptMs) {
    const key = W.partKey(id);
    const s = this.store.get(key);
    if (s) return s.data;
    if (this.isClosed) return null;
    if (!this.fetches.has(key)) {
      this.fetches.set(key, { id, key, attempt: Math.max(attemptMs, 1), tried: new Set(), at: null, deadline: null });
      this.progress(now);
    }
    return null;
  }

  unwant(now, id) {
    const key = W.partKey(id);
    const f = this.fetches.get(key);
    if (!f) return;
    this.fetches.delete(key);
    for (const n of this.sorted()) if (n.requests.has(key)) this.abandon(now, n, id, key); // not judged: we stopped waiting
    this.progress(now);
  }

  progress(now) {
    if (!this.fetches.size || this.isClosed) return;
    for (const f of [...this.fetches.values()]) if (this.fetches.get(f.key) === f) this.advanceFetch(now, f);
  }

  advanceFetch(now, f) {
    const key = f.key;
    while (this.fetches.get(key) === f) {
      f.deadline = null;
      const active = this.activeIncoming(key);
      if (active) {
        const inc = active.incoming.get(key);
        if (now - inc.progress < f.attempt) { f.deadline = inc.progress + f.attempt; return; }
        this.abandon(now, active, f.id, key);
        f.tried.add(active.id);
        continue;
      }
      const n = f.at;
      if (n && !n.closed) {
        const req = n.requests.get(key);
        if (req) {
          if (now - req.sent < f.attempt) { f.deadline = req.sent + f.attempt; return; }
          f.tried.add(n.id);
          f.at = null;
          // Judged only after FIRST_BYTE_MS (an honest peer starts what it
          // accepted within START_WITHIN_MS or says NOPE); meanwhile the
          // next holder is asked and this WANT stays open.
          if (now - req.sent < W.FIRST_BYTE_MS) { req.late = true; continue; }
          this.abandon(now, n, f.id, key);
          n.fruitless++;
          this.fruitlessCheck(now, n);
          continue;
        }
      }
      f.at = null;
      const pick = this.pick(key, f.tried);
      if (!pick) return; // a HAVE or an open channel moves it on
      pick.requests.set(key, { sent: now, late: false, id: f.id });
      this.queueControl(now, pick, W.WANT, f.id);
      f.at = pick;
    }
  }

  // judgeLate counts against n the late WANTs that brought nothing within
  // FIRST_BYTE_MS, and cancels them.
  judgeLate(now, n) {
    for (const [key, req] of [...n.requests]) {
      if (!req.late || n.incoming.has(key) || now - req.sent < W.FIRST_BYTE_MS) continue;
      this.abandon(now, n, req.id, key);
      n.fruitless++;
      this.fruitlessCheck(now, n);
      if (n.closed) return;
    }
  }

  activeIncoming(key) {
    let best = null;
    for (const n of this.neighbours.values()) if (n.incoming.has(key) && (!best || n.id < best.id)) best = n;
    return best;
  }

  // pick chooses the neighbour to ask: one that has the part, not tried,
  // not cancelled, with room, the best measured throughput per outstanding
  // request first (unknown counts as the mean of the known).
  pick(key, tried) {
    const cands = [];
    let sum = 0, known = 0;
    for (const n of this.neighbours.values()) {
      if (n.open && n.has.has(key) && !tried.has(n.id) && !n.ignored.has(key) && n.requests.size < MAX_REQUESTS) {
        cands.push(n);
        if (n.throughput > 0) { sum += n.throughput; known++; }
      }
    }
    if (!cands.length) return null;
    const mean = known ? sum / known : 1;
    const score = (n) => (n.throughput || mean) / (1 + n.requests.size);
    cands.sort((a, b) => score(b) - score(a) || (a.id < b.id ? -1 : 1));
    return cands[0];
  }

  // ---- neighbours that never deliver ----

  // fruitlessCheck drops and reports ("timeout") a neighbour after
  // MAX_FRUITLESS_WANTS WANTs in a row stalled, or MAX_UNPROVEN_NOPES NOPEs
  // while it has delivered nothing.
  fruitlessCheck(now, n) {
    if (n.closed || n.seed) return;
    let why;
    if (n.fruitless >= W.MAX_FRUITLESS_WANTS) why = n.fruitless + ' WANTs in a row stalled';
    else if (n.verified === 0 && n.nopes >= W.MAX_UNPROVEN_NOPES) why = n.nopes + ' NOPEs and never a byte delivered';
    else return;
    this.banned.set(n.id, 'timeout');
    this.drop(now, n, 'takes WANTs and never delivers: ' + why);
    this.emit({ t: 'report', peer: n.id, reason: 'timeout' });
  }

  // ---- cut-through ----

  // partBytes returns the verified bytes of a part this peer can send:
  // the whole part when stored, else the longest verified prefix among its
  // downloads.
  partBytes(key) {
    const s = this.store.get(key);
    if (s) return { data: s.data, total: s.data.length };
    let data = null, total = 0;
    for (const n of this.neighbours.values()) {
      const inc = n.incoming.get(key);
      if (inc && inc.asm && inc.asm.verifiedLen > (data ? data.length : 0)) { data = inc.asm.verified(); total = inc.total; }
    }
    return { data, total };
  }

  holds(key) { const { data } = this.partBytes(key); return !!data && data.length > 0; }

  // verified returns a copy of the bytes of id held verified from its
  // start (the whole part when stored), or null. A viewer that stops
  // waiting for the swarm fetches over HTTP only what follows them.
  verified(id) {
    const { data } = this.partBytes(W.partKey(id));
    return data && data.length ? data.slice() : null;
  }

  verifiedMore(now, from, id, key) {
    if (this.cfg.canUpload && !this.earlyHave.has(key)) {
      this.earlyHave.add(key);
      for (const n of this.sorted()) if (n !== from && n.open && !n.has.has(key) && !n.uploading(key)) this.queueControl(now, n, W.HAVE, id);
    }
    for (const n of this.sorted()) if (n.uploading(key)) this.wake(n);
  }

  readyUpload(now, n) {
    let best = null;
    for (let k = 0; k < n.uploads.length; k++) {
      const u = n.uploads[k];
      if (u.asked && u.sent === 0 && now - u.queued >= W.START_WITHIN_MS) {
        // Not started in time (newer parts went first): the asker may take
        // it for a liar, so it is declined, asks someone else and is
        // offered the part again later.
        n.removeUpload(u); k--;
        this.decline(now, n, u.id, u.key);
        continue;
      }
      if (u.sent === u.data.length) {
        const { data } = this.partBytes(u.key);
        if (data && data.length > u.data.length) { u.data = data; u.progress = now; }
      }
      if (u.sent < u.data.length) { if (!best || ahead(u, best)) best = u; continue; }
      if (now - u.progress >= W.STARVED_UPLOAD_MS) {
        n.removeUpload(u); k--;
        this.queueControl(now, n, W.NOPE, u.id);
      }
    }
    return best;
  }

  nextFrame(u) {
    let end = Math.min(u.data.length, u.sent + this.cfg.maxFrame - W.dataHeaderLen(u.id));
    const a = this.expected.get(u.key);
    if (a && a.chunks && a.chunks.length) end = Math.min(end, W.chunkEnd(u.sent, u.total, a.chunkSize));
    return W.encodeData(u.id, u.sent, u.total, u.data.subarray(u.sent, end));
  }

  // ---- busy ----

  // busy: the queued DATA, and what the cap still owes for frames sent,
  // would take longer than BUSY_HORIZON_MS at the cap (the seed never is).
  busy(now) {
    if (this.cfg.seed) return false;
    let bytes = 0, uploads = 0;
    for (const n of this.neighbours.values()) for (const u of n.uploads) { uploads++; bytes += u.total - u.sent; }
    if (this.bucket) return bytes + this.bucket.owed(now) > this.cfg.uploadCapBps * W.BUSY_HORIZON_MS / 1000;
    return uploads >= W.BUSY_UPLOADS;
  }

  decline(now, n, id, key) {
    this.st.declined++;
    this.queueControl(now, n, W.NOPE, id);
    if (this.declined.length >= W.MAX_DECLINED) this.declined.shift();
    this.declined.push({ n, id, key });
  }

  reoffer(now) {
    if (!this.declined.length || this.busy(now)) return;
    for (const d of this.declined) {
      if (!d.n.closed && d.n.open && !d.n.has.has(d.key) && this.holds(d.key) && !d.n.uploading(d.key)) this.queueControl(now, d.n, W.HAVE, d.id);
    }
    this.declined = [];
  }

  // ---- sending ----

  // mayUpload: with a cap, uploads go one at a time, the one ahead first,
  // unless its channel is full.
  mayUpload(now, n, u) {
    if (!this.bucket) return true;
    for (const o of this.neighbours.values()) {
      if (o === n || !o.open || o.closed || o.blocked || !o.uploads.length) continue;
      const ou = this.readyUpload(now, o);
      if (ou && ahead(ou, u)) return false;
    }
    return true;
  }

  wakeUploads() {
    if (!this.bucket) return;
    for (const n of this.sorted()) if (n.uploads.length) this.wake(n);
  }

  block(n) {
    if (!n.blocked) { n.blocked = true; this.wakeUploads(); }
  }

  // transmit returns the next frame (an ArrayBuffer) for neighbour to, or
  // null when none may go now (buffered: what its channel holds unsent).
  transmit(now, to, buffered) {
    const n = this.neighbours.get(to);
    if (!n || !n.open) return null;
    n.woken = false;
    if (n.control.length) {
      const frame = n.control[0];
      if (buffered + frame.byteLength > W.MAX_BUFFERED) { this.block(n); return null; }
      n.control.shift();
      n.blocked = false;
      return frame;
    }
    if (!n.uploads.length) return null;
    const u = this.readyUpload(now, n);
    if (n.control.length) return this.transmit(now, to, buffered); // a starved upload was dropped with NOPE
    if (!u) return null;
    if (!this.mayUpload(now, n, u)) { if (this.turnAt === null) this.turnAt = now + UPLOAD_POLL_MS; return null; }
    if (this.bucket) {
      const at = this.bucket.readyAt(now);
      if (at > now) { this.bucketAt = at; return null; }
    }
    const frame = this.nextFrame(u);
    if (buffered + frame.byteLength > W.MAX_BUFFERED) { this.block(n); return null; }
    n.blocked = false;
    const payload = frame.byteLength - W.dataHeaderLen(u.id);
    u.sent += payload;
    if (this.bucket) this.bucket.spend(frame.byteLength);
    n.stats.bytesSent += payload;
    this.st.bytesSent += payload;
    if (u.sent === u.total) {
      n.removeUpload(u);
      n.stats.partsSent++;
      this.st.partsServed++;
      this.reoffer(now);
      this.wakeUploads();
    }
    return frame;
  }

  flush(now, to) {
    const out = [];
    for (let f = this.transmit(now, to, 0); f; f = this.transmit(now, to, 0)) out.push(f);
    return out;
  }
}
