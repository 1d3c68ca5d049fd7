// uploadorder_check.js is run by Node from TestJSUploadOrder
// (uploadorder_test.go), bundled with src/swarm.js. Each case (one JSON
// object per line in process.argv[2]) is a capped viewer holding parts and
// neighbours asking for them; the script answers the WANTs through fake
// data channels, records when each neighbour got the last frame of its part,
// and checks the order the Go peer keeps (peerpool/peer/uploadorder.go):
// one upload at a time, the newest part first, copies of one part in the
// order asked.
import { readFileSync } from 'node:fs';
import { Swarm } from '../src/swarm.js';
import { partKey } from '../src/wire.js';

globalThis.location = { href: 'http://127.0.0.1/live/show/' };

// fakeChannel is an open data channel that takes everything at once and
// records when the last frame of each part went out.
function fakeChannel(done) {
  let got = 0;
  return {
    readyState: 'open', bufferedAmount: 0,
    send(buf) {
      got += buf.byteLength;
      done.bytes = got;
      done.at = performance.now();
    },
    close() {},
  };
}

// run plays one case: wants is [{from, part: {msn, i}, after}] (after: ms
// after the start), parts are sized c.size. It resolves to each WANT's
// finishing time (ms after the start), in the order of c.wants.
async function run(c) {
  const s = new Swarm({ url: '/live/show/', upload: { capBps: c.capBps } });
  s.welcome = { maxFrame: c.maxFrame };
  const neighbours = new Map();
  const finished = c.wants.map(() => ({ bytes: 0, at: -1 }));
  for (const [k, w] of c.wants.entries()) {
    const id = { r: 'source', msn: w.part.msn, i: w.part.i };
    if (!s.store.has(partKey(id))) s.store.set(partKey(id), { id, data: new Uint8Array(c.size).fill(k) });
    if (!neighbours.has(w.from)) {
      // One neighbour per name; a name asks once per case.
      const n = { id: w.from, open: true, serving: [], has: new Set(), inflight: new Map() };
      neighbours.set(w.from, n);
      s.neighbours.set(w.from, n);
    }
  }
  const start = performance.now();
  s.tokens = 0; s.tokensAt = start;
  for (const [k, w] of c.wants.entries()) {
    const n = neighbours.get(w.from);
    setTimeout(() => {
      n.dc = fakeChannel(finished[k]);
      const id = { r: 'source', msn: w.part.msn, i: w.part.i };
      s.onWant(n, id, partKey(id));
    }, w.after);
  }
  const limit = start + 5000;
  while (finished.some((f) => f.bytes < c.size) && performance.now() < limit) {
    await new Promise((r) => setTimeout(r, 5));
  }
  s.welcome = null;
  s.close();
  return finished.map((f) => (f.bytes >= c.size ? f.at - start : -1));
}

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const c of cases) {
  const got = (await run(c)).map((t) => Math.round(t));
  const order = got.map((t, k) => k).sort((a, b) => got[a] - got[b]);
  const ok = !got.includes(-1) && order.every((k, j) => k === c.order[j]) &&
    got[c.order[0]] <= c.firstWithinMs;
  console.log(c.name + ': finished at ' + got.join(', ') + ' ms; want the order ' + c.order.join(', ') +
    ' and the first within ' + c.firstWithinMs + ' ms' + (ok ? '' : ': WRONG'));
  if (!ok) bad++;
}
process.exit(bad ? 1 : 0);
