// cutthrough_check.js is run by Node from TestJSPassesChunksOn
// (cutthrough_test.go), bundled with src/swarm.js. A viewer downloads a part
// announced with chunk hashes from neighbour "up" while neighbour "down"
// wants it; through fake data channels it checks that the viewer says HAVE
// to "down" after the first verified chunk, sends "down" each verified
// chunk as it arrives and never a byte of a chunk that fails its hash, and
// that it confirms to the server (stats.from) exactly the verified bytes.
// Each case (process.argv[2], one JSON object per line) gives the part size,
// the chunk size and, optionally, a chunk "up" corrupts.
import { readFileSync } from 'node:fs';
import { Swarm } from '../src/swarm.js';
import * as W from '../src/wire.js';
import { sha256 } from '../src/sha256.js';

globalThis.location = { href: 'http://127.0.0.1/live/show/' };

// The neighbours' PeerIDs, as the server hands them out.
const UP = 'a'.repeat(32), DOWN = 'b'.repeat(32);

const hex = (d) => Array.from(d, (b) => (b < 16 ? '0' : '') + b.toString(16)).join('');

function neighbour(s, id, sent) {
  const n = {
    id, seed: false, noUpload: false, open: true, pc: null,
    has: new Set(), inflight: new Map(), cancelled: new Set(), serving: [],
    controlTokens: 800, controlAt: performance.now(), lastHaveAt: -Infinity, received: 0,
    dc: { readyState: 'open', bufferedAmount: 0, send: (b) => sent.push(W.parseFrame(b)), close() {} },
  };
  s.neighbours.set(id, n);
  return n;
}

async function run(c) {
  const s = new Swarm({ url: '/live/show/' });
  s.welcome = { maxFrame: 65536 };
  const data = new Uint8Array(c.size).map((_, i) => (i * 7 + 3) & 255);
  const id = { r: 'source', msn: 4, i: 1 };
  const key = W.partKey(id);
  const chunks = [];
  for (let off = 0; off < c.size; off += c.chunkSize) chunks.push(hex(sha256(data.subarray(off, Math.min(off + c.chunkSize, c.size)))));
  const a = { t: 'part', id, size: c.size, sha256: hex(sha256(data)), durationMs: 500, independent: true, chunkSize: c.chunkSize, chunks };
  s.announced.set(key, a);
  const fromUp = [], toDown = [];
  const up = neighbour(s, UP, fromUp);
  const down = neighbour(s, DOWN, toDown);
  up.inflight.set(key, { asm: new W.Assembler(a), wantAt: performance.now(), firstAt: 0 }); // our WANT to up

  const bad = c.corrupt >= 0 ? data.slice() : data;
  if (c.corrupt >= 0) bad[c.corrupt * c.chunkSize] ^= 1;
  const problems = [];
  const downBytes = () => toDown.filter((f) => f.type === W.DATA).reduce((n, f) => n + f.data.length, 0);
  for (let off = 0, k = 0; off < c.size; off += c.chunkSize, k++) {
    const end = Math.min(off + c.chunkSize, c.size);
    try {
      s.onFrame(up, W.encodeData(id, off, c.size, bad.subarray(off, end)));
    } catch (e) {
      problems.push('chunk ' + k + ' from up: threw ' + e.message);
      break;
    }
    if (k === c.corrupt) break;
    if (k === 0 && end < c.size) {
      if (!toDown.some((f) => f.type === W.HAVE && W.partKey(f.id) === key)) problems.push('no HAVE to down after the first verified chunk');
      s.onFrame(down, W.encodeControl(W.WANT, id));
    }
    // Everything verified so far (the last chunk waits for the whole-part hash) went down.
    if (end < c.size && downBytes() !== end) problems.push('after chunk ' + k + ': down got ' + downBytes() + ' bytes, want ' + end);
  }
  await new Promise((r) => setTimeout(r, 50)); // the whole-part hash is async
  if (c.corrupt >= 0) {
    if (downBytes() > c.corrupt * c.chunkSize) problems.push('down got ' + downBytes() + ' bytes, past the corrupted chunk at ' + c.corrupt * c.chunkSize);
    if (s.neighbours.has(UP) || s.counters.hashMismatches !== 1) problems.push('up was not dropped for the bad chunk');
  } else if (c.size <= c.chunkSize) {
    // One chunk: the whole part, stored and offered once its hash is checked.
    if (!s.store.has(key) || !toDown.some((f) => f.type === W.HAVE)) problems.push('the one-chunk part was not stored and offered');
  } else {
    const got = new Uint8Array(c.size);
    let n = 0;
    for (const f of toDown) if (f.type === W.DATA) { got.set(f.data, f.offset); n += f.data.length; }
    if (n !== c.size || hex(sha256(got)) !== a.sha256) problems.push('down got ' + n + ' bytes that do not make the part');
    if (toDown.some((f) => f.type === W.DATA && f.data.length > c.chunkSize)) problems.push('a DATA frame crosses a chunk boundary');
  }
  // What the viewer confirms to the server: only verified bytes, per sender.
  const credited = c.corrupt >= 0 ? c.corrupt * c.chunkSize : c.size;
  if (up.received !== credited) problems.push('up credited ' + up.received + ' bytes, want the ' + credited + ' verified');
  if (c.corrupt < 0) {
    const msgs = [];
    s.send = (m) => msgs.push(m);
    s.sendStats();
    // As sent: through the encoder that checks what the server accepts.
    try { W.encodeSignal(msgs[0]); } catch (e) { problems.push('the stats message would not be sent: ' + e.message); }
    const from = msgs.length === 1 && msgs[0].from;
    const line = from && from.find((e) => e.peer === UP);
    if (!line || line.bytes !== c.size) problems.push('stats.from ' + JSON.stringify(from) + ' does not confirm up\'s ' + c.size + ' bytes');
  }
  s.welcome = null;
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
