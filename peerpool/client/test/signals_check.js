// signals_check.js is run by Node from TestJSSignalDecoderAgreesWithGo
// (signals_test.go), bundled with src/wire.js. For each server message the
// Go test wrote (process.argv[2]: one JSON object per line) it checks that
// the browser's decodeFromServer accepts it exactly when Go's
// DecodeFromServer does, reads the same fields (compared in Go's canonical
// form), and rejects with a ProtocolError, never another exception.
import { readFileSync } from 'node:fs';
import { decodeFromServer, ProtocolError } from '../src/wire.js';

// canonical writes a decoded message the way signals_test.go's canonical
// writes Go's struct: fields in struct order, zero values included.
function canonical(m) {
  let o;
  switch (m.t) {
    case 'welcome':
      o = {
        v: m.v, id: m.id,
        ice: m.ice.map((s) => Object.assign({ urls: s.urls }, s.username ? { username: s.username } : {}, s.credential ? { credential: s.credential } : {})),
        iceTransportPolicy: m.iceTransportPolicy, partTargetMs: m.partTargetMs, maxFrame: m.maxFrame,
      };
      break;
    case 'peers':
      o = { add: m.add.map((p) => ({ id: p.id, seed: p.seed, noUpload: p.noUpload })), remove: m.remove };
      break;
    case 'signal':
      o = { from: m.from };
      if (m.sdp != null) o.sdp = { type: m.sdp.type, sdp: m.sdp.sdp };
      else o.candidate = { candidate: m.candidate.candidate, sdpMid: m.candidate.sdpMid, sdpMLineIndex: m.candidate.sdpMLineIndex };
      break;
    case 'part':
      o = { id: { r: m.id.r, msn: m.id.msn, i: m.id.i }, size: m.size, sha256: m.sha256, durationMs: m.durationMs, independent: m.independent,
        chunkSize: m.chunkSize, chunks: m.chunks };
      break;
    case 'error':
      o = { reason: m.reason };
      break;
  }
  // Go's encoder escapes <, > and & in strings; so must this.
  return m.t + ' ' + JSON.stringify(o).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l);
let bad = 0;
const seen = new Set(); // print one case of each kind of disagreement
const fail = (c, why) => {
  bad++;
  const kind = why.slice(0, 60);
  if (seen.size < 12 && !seen.has(kind)) { seen.add(kind); console.error('case ' + c.n + ' (' + c.text.slice(0, 160) + '): ' + why); }
};
for (const line of lines) {
  const c = JSON.parse(line);
  let m = null;
  try {
    m = decodeFromServer(c.text);
  } catch (e) {
    if (!(e instanceof ProtocolError)) { fail(c, 'threw ' + e); continue; }
    if (c.ok) fail(c, 'Go accepts it, JS rejects it: ' + e.message);
    continue;
  }
  if (!c.ok) { fail(c, 'Go rejects it (' + c.err + '), JS accepts it'); continue; }
  const got = canonical(m);
  if (got !== c.canon) fail(c, 'read differently:\n  JS ' + got.slice(0, 300) + '\n  Go ' + c.canon.slice(0, 300));
}
console.log(lines.length + ' messages, ' + bad + ' disagreements');
process.exit(bad ? 1 : 0);
