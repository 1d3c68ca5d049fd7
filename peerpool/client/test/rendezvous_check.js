// rendezvous_check.js is run by Node from TestJSRendezvousAgreesWithGo
// (rendezvous_test.go), bundled with src/swarm.js. Each case (one JSON
// object per line in process.argv[2]) is a viewer, its active neighbours
// and a part, with Go's rendezvous hashes and Go's choice of the HTTP
// fetcher; the browser client must compute the same hashes and, through
// Swarm.designatedFetcher, make the same choice.
import { readFileSync } from 'node:fs';
import { Swarm } from '../src/swarm.js';
import * as W from '../src/wire.js';

globalThis.location = { href: 'http://127.0.0.1/live/show/' };

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const [k, c] of cases.entries()) {
  const key = W.partKey(c.part);
  const problems = [];
  const all = [c.self, ...(c.peers || [])];
  for (const [j, id] of all.entries()) {
    const h = W.rendezvous(id, key).toString(16).padStart(16, '0');
    if (h !== c.hashes[j]) problems.push('hash of ' + id + ' and ' + key + ': ' + h + ', Go ' + c.hashes[j]);
  }
  const s = new Swarm({ url: '/live/show/' });
  s.id = c.self;
  for (const id of c.peers || []) s.neighbours.set(id, { id, open: true, lastHaveAt: performance.now() });
  const pick = s.designatedFetcher(key);
  if (pick !== c.pick) problems.push('designatedFetcher chose ' + pick + ', Go ' + c.pick);
  s.neighbours.clear();
  s.close();
  if (problems.length) {
    bad++;
    if (bad <= 5) console.log('case ' + k + ' (' + key + ', ' + all.length + ' peers): ' + problems.join('; '));
  }
}
console.log(cases.length - bad + ' of ' + cases.length + ' cases agree');
process.exit(bad ? 1 : 0);
