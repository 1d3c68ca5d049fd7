// uploadorder_check.js is run by Node from TestUploadOrder
// (uploadorder_test.go), bundled with src/exchange.js. Each case (one JSON
// object per line in process.argv[2]) is a capped peer holding parts and
// neighbours asking for them at given times; on a virtual clock, in 1 ms
// steps, the script feeds the WANTs to the exchange, sends what it hands
// out and records when each WANT's last byte went. The Go test runs the
// same cases on the Go exchange; both must finish the WANTs in the order
// the case gives: one upload at a time, one under way first, then the
// newest part, copies of one part in the order asked.
import { readFileSync } from 'node:fs';
import { Machine } from '../src/exchange.js';
import * as W from '../src/wire.js';

const peerID = (k) => (k + 1).toString(16).padStart(32, '0');

function run(c) {
  const m = new Machine({ id: 'f'.repeat(32), canUpload: true, uploadCapBps: c.capBps, maxFrame: c.maxFrame }, 0);
  const names = [...new Set(c.wants.map((w) => w.from))];
  m.setNeighbours(0, names.map((_, k) => ({ id: peerID(k) })), []);
  for (const [k] of names.entries()) m.opened(0, peerID(k));
  for (const w of c.wants) {
    const id = { r: 'source', msn: w.part.msn, i: w.part.i };
    if (!m.part(id)) m.offer(0, id, new Uint8Array(c.size).fill(w.part.i));
  }
  for (const [k] of names.entries()) m.flush(0, peerID(k)); // the HAVEs
  const sent = c.wants.map(() => 0), done = c.wants.map(() => -1);
  for (let t = 0; t <= 5000 && done.includes(-1); t++) {
    for (const w of c.wants) {
      if (w.after === t) m.receive(t, peerID(names.indexOf(w.from)), W.encodeControl(W.WANT, { r: 'source', msn: w.part.msn, i: w.part.i }), false);
    }
    m.advance(t);
    for (const [k] of names.entries()) {
      for (const buf of m.flush(t, peerID(k))) {
        const f = W.parseFrame(buf);
        if (f.type !== W.DATA) continue;
        const j = c.wants.findIndex((w) => w.from === names[k] && w.part.msn === f.id.msn && w.part.i === f.id.i);
        sent[j] += f.data.length;
        if (sent[j] === c.size) done[j] = t;
      }
    }
    while (m.poll());
  }
  return done;
}

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const c of cases) {
  const got = run(c);
  const want = c.finished;
  const ok = got.every((t, k) => t === want[k]);
  console.log(c.name + ': finished at ' + got.join(', ') + ' ms' + (ok ? '' : '; Go: ' + want.join(', ') + ' ms: DIFFERENT'));
  if (!ok) bad++;
}
process.exit(bad ? 1 : 0);
