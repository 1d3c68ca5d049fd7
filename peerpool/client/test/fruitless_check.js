// fruitless_check.js is run by Node from TestJSDropsNeighboursThatNeverDeliver
// (fruitless_test.go), bundled with src/swarm.js. Through fake data
// channels, a neighbour takes WANTs and either lets them run out or answers
// NOPE; the viewer must drop it and report "timeout" after as many as the
// Go peer allows (wire.js MAX_FRUITLESS_WANTS, MAX_UNPROVEN_NOPES), and not
// one sooner. Each case (process.argv[2], one JSON object per line) names
// the behaviour and whether the neighbour delivered a part first.
import { readFileSync } from 'node:fs';
import { Swarm } from '../src/swarm.js';
import * as W from '../src/wire.js';

globalThis.location = { href: 'http://127.0.0.1/live/show/' };

function neighbour(s, id) {
  const n = {
    id, seed: false, noUpload: false, open: true, pc: null,
    has: new Set(), inflight: new Map(), cancelled: new Set(), serving: [],
    controlTokens: 800, controlAt: performance.now(), lastHaveAt: -Infinity,
    received: 0, fruitless: 0, nopes: 0, openTimer: null,
    dc: { readyState: 'open', bufferedAmount: 0, send() {}, close() {} },
  };
  s.neighbours.set(id, n);
  return n;
}

function run(c) {
  const s = new Swarm({ url: '/live/show/' });
  s.welcome = { maxFrame: 65536 };
  const sent = [];
  s.send = (m) => sent.push(m);
  const n = neighbour(s, 'liar');
  if (c.deliveredFirst) n.received = 1000;
  const limit = c.behaviour === 'stall' ? W.MAX_FRUITLESS_WANTS : W.MAX_UNPROVEN_NOPES;
  const problems = [];
  const reported = () => sent.some((m) => m.t === 'report' && m.peer === 'liar' && m.reason === 'timeout');
  for (let k = 0; k < limit; k++) {
    if (reported()) { problems.push('reported after only ' + k + ' fruitless WANTs'); break; }
    const id = { r: 'source', msn: 7, i: k };
    const key = W.partKey(id);
    const a = { t: 'part', id, size: 100, sha256: '0'.repeat(64), durationMs: 500, independent: true, chunkSize: 0, chunks: [] };
    s.announced.set(key, a);
    n.has.add(key);
    const w = { id, key, resolve() {}, done: false, startAt: performance.now() };
    s.waiters.set(key, [w]);
    s.fetchFromPeers(key);
    if (!n.inflight.has(key)) { problems.push('no WANT went to the neighbour that has the part'); break; }
    if (c.behaviour === 'stall') s.giveUp(w);
    else { s.onFrame(n, W.encodeControl(W.NOPE, id)); s.giveUp(w); }
  }
  const want = !(c.behaviour === 'nope' && c.deliveredFirst);
  if (want && !reported()) problems.push('not reported after ' + limit);
  if (want && s.neighbours.has('liar')) problems.push('still a neighbour');
  if (!want && (reported() || !s.neighbours.has('liar'))) problems.push('a neighbour that delivered before was dropped for busy NOPEs');
  s.welcome = null;
  s.close();
  return problems;
}

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const c of cases) {
  const problems = run(c);
  console.log(c.name + ': ' + (problems.length ? problems.join('; ') : 'ok'));
  if (problems.length) bad++;
}
process.exit(bad ? 1 : 0);
