// loader_rest_check.js is run by Node from TestJSLoaderFetchesOnlyTheRest
// (loader_test.go): each case (one JSON object per line in process.argv[2])
// is what the swarm gave up with (prefix bytes of a part of size, or
// nothing) and how the origin answers; the loader must ask for the right
// range, hand hls.js the whole part (or an error) and count the bytes on
// the right side.
import { readFileSync } from 'node:fs';
import { makeSwarmLoader } from '../src/loader.js';

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
const partByte = (i) => (i * 7 + 3) & 0xff;
let bad = 0;
for (const c of cases) {
  const fail = (why) => { console.log(JSON.stringify(c) + ': ' + why); bad++; };
  let offered = null;
  let asked = null;
  const swarm = {
    base: 'http://origin.test/live/show/',
    player: () => ({ bufferMs: 2000 }),
    get: () => Promise.resolve(c.prefix > 0
      ? { data: null, prefix: Uint8Array.from({ length: c.prefix }, (_, i) => partByte(i)), size: c.size }
      : null),
    offer: (id, data, fromPeers) => { offered = { bytes: Array.from(data), fromPeers: fromPeers || 0 }; },
    countHTTP: () => {},
  };
  class Origin {
    load(context, config, callbacks) {
      asked = context.rangeEnd ? [context.rangeStart, context.rangeEnd] : null;
      const from = c.code === 206 ? c.prefix : 0;
      const body = Uint8Array.from({ length: c.bodyLen }, (_, i) => partByte(from + i));
      const st = { loaded: body.length, total: body.length, retry: 0, chunkCount: 1, bwEstimate: 0, loading: { start: 1, first: 2, end: 3 } };
      callbacks.onSuccess({ url: context.url, data: body.buffer, code: c.code }, st, context, null);
    }
    destroy() {}
  }
  const Loader = makeSwarmLoader(Origin, swarm, {});
  const context = { url: 'http://origin.test/live/show/source/part10.1.m4s', part: { duration: 0.5 } };
  const result = await new Promise((resolve) => {
    new Loader({}).load(context, {}, {
      onSuccess: (response, stats) => resolve({ data: new Uint8Array(response.data), loaded: stats.loaded }),
      onError: (err) => resolve({ error: err.text }),
    });
  });
  const wantRange = c.prefix > 0 ? [c.prefix, c.size] : null;
  if (JSON.stringify(asked) !== JSON.stringify(wantRange)) fail('asked the origin for ' + JSON.stringify(asked));
  if (c.wantError) {
    if (!result.error) fail('no error');
    continue;
  }
  if (result.error) { fail('error: ' + result.error); continue; }
  const whole = Array.from({ length: c.size }, (_, i) => partByte(i));
  if (JSON.stringify(Array.from(result.data)) !== JSON.stringify(whole)) fail('hls.js was not given the whole part');
  if (result.loaded !== c.size) fail('stats say ' + result.loaded + ' bytes loaded');
  if (!offered || JSON.stringify(offered.bytes) !== JSON.stringify(whole)) fail('the swarm was not offered the whole part');
  else if (offered.fromPeers !== c.wantFromPeers) fail('counted ' + offered.fromPeers + ' bytes from peers');
}
console.log(cases.length + ' cases, ' + bad + ' wrong');
process.exit(bad ? 1 : 0);
