// loader_check.js is run by Node from TestJSLoaderWaits (loader_test.go):
// each case (one JSON object per line in process.argv[2]) is a part
// duration, the startup wait the player set from the playlist (0: none
// yet), the player's buffer ahead (-1: not playing) and how long the
// loader must wait for the swarm.
import { readFileSync } from 'node:fs';
import { makeSwarmLoader } from '../src/loader.js';

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const c of cases) {
  let waited = null;
  const swarm = {
    base: 'http://origin.test/live/show/',
    player: () => ({ bufferMs: c.bufferMs }),
    get: (id, wait) => { waited = wait(); return new Promise(() => {}); },
  };
  const Loader = makeSwarmLoader(class {}, swarm, {});
  if (c.startupWaitMs > 0) Loader.startupWaitMs = c.startupWaitMs;
  const context = { url: 'http://origin.test/live/show/source/part10.1.m4s', part: { duration: c.partS } };
  new Loader({}).load(context, {}, {});
  if (waited !== c.wantMs) {
    console.log(JSON.stringify(c) + ': the loader waits ' + waited + ' ms for the swarm');
    bad++;
  }
}
console.log(cases.length + ' cases, ' + bad + ' wrong');
process.exit(bad ? 1 : 0);
