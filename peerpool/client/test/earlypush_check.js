// earlypush_check.js is run by Node from
// TestJSHoldsPushesBeforeTheirAnnouncement (earlypush_test.go), bundled
// with src/swarm.js. A seed neighbour pushes parts (16 KiB chunks, one
// frame each) through a fake data channel before the viewer has their
// announcements; each case (one JSON object per line in process.argv[2])
// says how many frames of the first part come before its announcement,
// what goes wrong, and what must happen.
import { readFileSync } from 'node:fs';
import { Swarm } from '../src/swarm.js';
import * as W from '../src/wire.js';
import { sha256 } from '../src/sha256.js';

globalThis.location = { href: 'http://127.0.0.1/live/show/' };

const hex = (d) => Array.from(d, (b) => (b < 16 ? '0' : '') + b.toString(16)).join('');
const CHUNK = 16384;

function part(msn, size) {
  const id = { r: 'source', msn, i: 0 };
  const data = new Uint8Array(size).map((_, i) => (i * 13 + msn) & 255);
  const chunks = [];
  for (let off = 0; off < size; off += CHUNK) chunks.push(hex(sha256(data.subarray(off, Math.min(off + CHUNK, size)))));
  const ann = { t: 'part', id, size, sha256: hex(sha256(data)), durationMs: 500, independent: true, chunkSize: CHUNK, chunks };
  const frames = [];
  for (let off = 0; off < size; off += CHUNK) frames.push(W.encodeData(id, off, size, data.subarray(off, Math.min(off + CHUNK, size))));
  return { id, key: W.partKey(id), data, ann, frames };
}

async function run(c) {
  const s = new Swarm({ url: '/live/show/' });
  s.welcome = { maxFrame: 65536, seeded: true };
  const sent = [];
  const seed = {
    id: 'seed', seed: true, noUpload: false, open: true, pc: null,
    has: new Set(), inflight: new Map(), cancelled: new Set(), serving: [], early: new Map(), earlyBytes: 0,
    controlTokens: 800, controlAt: performance.now(), lastHaveAt: -Infinity, received: 0,
    dc: { readyState: 'open', bufferedAmount: 0, send: (b) => sent.push(W.parseFrame(b)), close() {} },
  };
  s.neighbours.set('seed', seed);
  const problems = [];
  const parts = [];
  for (let k = 0; k < c.parts; k++) parts.push(part(100 + k, c.size));
  const p = parts[0];
  const frames = c.break === 'gap' ? p.frames.filter((_, k) => k !== 1) : p.frames;
  const deliver = (f) => { if (!s.neighbours.has('seed')) return; /* its channel is closed */ try { s.onFrame(seed, f); } catch (e) { if (e instanceof W.ProtocolError) s.protocolError(seed, e.message); else throw e; } };
  const before = Math.min(c.before, frames.length);
  for (const f of frames.slice(0, before)) deliver(f);
  for (const q of parts.slice(1)) for (const f of q.frames) deliver(f);
  if (c.want === 'bounded') {
    const cancelled = new Set(sent.filter((f) => f.type === W.CANCEL).map((f) => W.partKey(f.id)));
    if (seed.earlyBytes > W.MAX_PENDING_BYTES) problems.push('holds ' + seed.earlyBytes + ' bytes, more than ' + W.MAX_PENDING_BYTES);
    if (seed.early.size > W.MAX_INCOMING) problems.push('holds ' + seed.early.size + ' parts, more than ' + W.MAX_INCOMING);
    const held = [...seed.early.values()].reduce((n, e) => n + e.bytes, 0);
    if (held !== seed.earlyBytes) problems.push('counts ' + seed.earlyBytes + ' bytes held, holds ' + held);
    if (!cancelled.size) problems.push('nothing cancelled past the bound');
    for (const q of parts) if (!cancelled.has(q.key) && !seed.early.has(q.key)) problems.push(q.key + ' neither held nor cancelled');
    // A part held can still be completed by its announcement.
    const last = parts.find((q) => seed.early.has(q.key));
    if (last) s.onSignal(last.ann);
    await new Promise((r) => setTimeout(r, 50));
    if (last && !s.store.has(last.key)) problems.push('a held part was not stored once announced');
  } else {
    const ann = c.break === 'size' ? Object.assign({}, p.ann, { size: p.ann.size + 1 }) : p.ann;
    s.onSignal(ann);
    for (const f of frames.slice(before)) deliver(f);
    await new Promise((r) => setTimeout(r, 50)); // the whole-part hash is async
    const got = s.store.get(p.key);
    if (c.want === 'stored') {
      if (!got || hex(sha256(got.data)) !== p.ann.sha256) problems.push('the pushed part was not verified and stored');
      if (s.counters.p2pParts !== 1) problems.push(s.counters.p2pParts + ' parts from peers, want 1');
      if (sent.some((f) => f.type === W.CANCEL)) problems.push('the push was cancelled');
      if (seed.early.size || seed.earlyBytes) problems.push('frames still held after the announcement');
    } else if (c.want === 'protocol') {
      if (got) problems.push('a bad push was stored');
      if (s.neighbours.has('seed') || s.counters.protocolErrors !== 1) problems.push('the seed was not dropped for a protocol error');
    }
  }
  s.welcome = null;
  s.neighbours.clear();
  s.close();
  return problems;
}

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const c of cases) {
  const problems = await run(c);
  console.log(c.name + ': ' + (problems.length ? problems.join('; ') : 'ok'));
  if (problems.length) bad++;
}
process.exit(bad ? 1 : 0);
