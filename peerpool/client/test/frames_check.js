// frames_check.js is run by Node from TestJSFrameParserAgreesWithGo
// (client_test.go), bundled with src/wire.js. It reads the cases the Go test
// wrote (process.argv[2]: one JSON object per line, the frame's bytes in hex
// and what peerpool/wire.ParseFrame made of them) and checks that the
// browser's parseFrame accepts exactly the frames Go accepts, reads the same
// fields from them, and rejects everything else with a ProtocolError, never
// with another exception.
import { readFileSync } from 'node:fs';
import { parseFrame, ProtocolError } from '../src/wire.js';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l);
let bad = 0;
const fail = (c, why) => {
  if (++bad <= 10) console.error('case ' + c.n + ' (' + c.hex.slice(0, 80) + '): ' + why);
};
for (const line of lines) {
  const c = JSON.parse(line);
  const bytes = Uint8Array.from(c.hex.match(/../g) || [], (h) => parseInt(h, 16));
  let f = null;
  try {
    f = parseFrame(bytes.buffer);
  } catch (e) {
    if (!(e instanceof ProtocolError)) { fail(c, 'threw ' + e); continue; }
    if (c.ok) fail(c, 'Go accepts it, JS rejects it: ' + e.message);
    continue;
  }
  if (!c.ok) { fail(c, 'Go rejects it (' + c.err + '), JS accepts it'); continue; }
  const got = { type: f.type, r: f.id.r, msn: f.id.msn, i: f.id.i, offset: f.offset || 0, total: f.total || 0, len: f.data ? f.data.length : 0 };
  for (const k of Object.keys(got)) {
    if (got[k] !== c[k]) { fail(c, k + ': JS ' + got[k] + ', Go ' + c[k]); break; }
  }
}
console.log(lines.length + ' frames, ' + bad + ' disagreements');
process.exit(bad ? 1 : 0);
