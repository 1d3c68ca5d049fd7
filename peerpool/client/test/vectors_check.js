// vectors_check.js is run by Node from TestJSExchangeVectors
// (vectors_test.go), bundled with src/exchange.js. Each case is one
// scenario vector of peerpool/exchange/testdata/vectors (format: its
// README.md): the events go into the browser's exchange Machine, and every
// step must produce exactly the actions the vector lists, as the Go
// machine does.
import { readFileSync } from 'node:fs';
import { Machine } from '../src/exchange.js';
import * as W from '../src/wire.js';

const FRAME_TYPES = { have: W.HAVE, want: W.WANT, cancel: W.CANCEL, nope: W.NOPE };
const FRAME_NAMES = Object.fromEntries(Object.entries(FRAME_TYPES).map(([k, v]) => [v, k]));

function bytesOf(p) {
  const b = new Uint8Array(p.size);
  const seed = p.msn * 5 + p.i;
  for (let k = 0; k < b.length; k++) b[k] = (k * 31 + (k >> 8) * 7 + seed) & 255;
  return b;
}

// canonical drops absent and zero fields and sorts the keys, as the Go
// runner's omitempty JSON does.
function canonical(o) {
  const out = {};
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined && o[k] !== false && o[k] !== 0 && o[k] !== '') out[k] = o[k];
  return JSON.stringify(out);
}

function run(v) {
  const names = {};
  for (const [name, id] of Object.entries(v.peers)) names[id] = name;
  const parts = {}, data = {}, ann = {}, partNames = {};
  for (const [name, p] of Object.entries(v.parts || {})) {
    const id = { r: p.r, msn: p.msn, i: p.i };
    parts[name] = id; partNames[W.partKey(id)] = name;
    const b = bytesOf(p);
    data[name] = b;
    const a = { t: 'part', id, size: b.length, sha256: W.sha256HexSync(b), durationMs: 500, independent: false, chunkSize: 0, chunks: [] };
    if (p.chunkSize > 0) {
      a.chunkSize = p.chunkSize;
      for (let off = 0; off < b.length; off += p.chunkSize) a.chunks.push(W.sha256HexSync(b.subarray(off, Math.min(off + p.chunkSize, b.length))));
    }
    ann[name] = a;
  }
  const t0 = 1000000;
  const c = v.config;
  const m = new Machine({ id: v.peers.me, canUpload: c.canUpload, uploadCapBps: c.uploadCapBps, seed: c.seed, maxFrame: c.maxFrame }, t0);
  const frame = (f) => {
    if (f.t === 'text') return 'hello';
    const id = parts[f.part];
    if (f.t !== 'data') return W.encodeControl(FRAME_TYPES[f.t], id);
    const payload = data[f.part].slice(f.offset || 0, (f.offset || 0) + f.len);
    if (f.corrupt) payload[payload.length - 1] ^= 0xff;
    return W.encodeData(id, f.offset || 0, data[f.part].length, payload);
  };
  const describe = (to, buf) => {
    const f = W.parseFrame(buf);
    const o = { send: names[to], part: partNames[W.partKey(f.id)] };
    if (f.type === W.DATA) Object.assign(o, { t: 'data', offset: f.offset, len: f.data.length });
    else o.t = FRAME_NAMES[f.type];
    return o;
  };
  const ids = Object.keys(names).sort((a, b) => (names[a] < names[b] ? -1 : 1));
  for (const [k, s] of v.steps.entries()) {
    const now = t0 + s.at;
    const got = [];
    switch (s.do) {
      case 'join':
        m.setNeighbours(now, (s.add || []).map((n) => ({ id: v.peers[n.peer], seed: !!n.seed, noUpload: !!n.noUpload })), (s.remove || []).map((n) => v.peers[n]));
        break;
      case 'open': m.opened(now, v.peers[s.peer]); break;
      case 'close': m.closed(now, v.peers[s.peer], 'closed'); break;
      case 'announce': m.expect(now, ann[s.part]); break;
      case 'offer': {
        let b = data[s.part];
        if (s.corrupt) { b = b.slice(); b[0] ^= 0xff; }
        try { m.offer(now, parts[s.part], b); } catch (e) { got.push({ error: 'offer' }); }
        break;
      }
      case 'want':
        if (m.want(now, parts[s.part], s.attemptMs)) got.push({ fetched: s.part, ok: true });
        break;
      case 'unwant': m.unwant(now, parts[s.part]); break;
      case 'recv': {
        const f = frame(s.frame);
        for (let r = 0; r < (s.repeat || 1); r++) m.receive(now, v.peers[s.peer], f, typeof f === 'string');
        break;
      }
      case 'advance': m.advance(now); break;
      default: throw new Error('step ' + k + ': unknown do ' + s.do);
    }
    for (let more = true; more;) {
      more = false;
      for (let o = m.poll(); o; o = m.poll()) {
        switch (o.t) {
          case 'connect': got.push({ connect: names[o.peer], offerer: o.offerer }); break;
          case 'disconnect': got.push({ disconnect: names[o.peer] }); break;
          case 'report': got.push({ report: names[o.peer], reason: o.reason }); break;
          case 'deliver': got.push({ deliver: partNames[W.partKey(o.id)], from: names[o.from] }); break;
          case 'fetched': got.push({ fetched: partNames[W.partKey(o.id)], ok: !!o.data }); break;
        }
      }
      for (const id of ids) for (const f of m.flush(now, id)) { got.push(describe(id, f)); more = true; }
    }
    const g = got.map(canonical).sort(), w = (s.expect || []).map(canonical).sort();
    if (g.join('\n') !== w.join('\n')) {
      return ['step ' + k + ' (at ' + s.at + ' ms, ' + s.do + '): got\n    ' + g.join('\n    ') + '\n  want\n    ' + w.join('\n    ')];
    }
    if (s.received) {
      const rec = {};
      for (const r of m.received()) rec[names[r.peer]] = r.bytes;
      if (canonicalMap(rec) !== canonicalMap(s.received)) return ['step ' + k + ': received ' + JSON.stringify(rec) + ', want ' + JSON.stringify(s.received)];
    }
  }
  return [];
}

function canonicalMap(o) { return JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]])); }

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const v of cases) {
  const problems = run(v);
  for (const p of problems) { console.log(v.name + ': ' + p); bad++; }
}
console.log(cases.length + ' vectors, ' + bad + ' failing');
process.exit(bad ? 1 : 0);
