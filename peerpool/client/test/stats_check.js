// stats_check.js is run by Node from TestJSStatsAgreeWithGo (stats_test.go):
// each case (one JSON object per line in process.argv[2]) is a stats
// message and whether Go's DecodeFromClient accepts it; encodeSignal must
// send exactly those. Then selectedPath must read the pair in use from
// RTCStatsReports as Chrome and Firefox write them.
import { readFileSync } from 'node:fs';
import * as W from '../src/wire.js';
import { selectedPath } from '../src/swarm.js';

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
for (const c of cases) {
  let ok = true, err = '';
  try { W.encodeSignal(c.msg); } catch (e) { ok = false; err = e.message; }
  if (ok !== c.ok) {
    console.log(JSON.stringify(c.msg) + ': encodeSignal ' + (ok ? 'sends it' : 'refuses it (' + err + ')') + ', Go ' + (c.ok ? 'accepts' : 'refuses'));
    bad++;
  }
}

const report = (entries) => new Map(entries.map((e) => [e.id, e]));
const local = { id: 'L', type: 'local-candidate', candidateType: 'srflx', protocol: 'udp' };
const remote = { id: 'R', type: 'remote-candidate', candidateType: 'relay', protocol: 'udp' };
const other = { id: 'L2', type: 'local-candidate', candidateType: 'host', protocol: 'udp' };
const want = JSON.stringify({ local: 'srflx', remote: 'relay', protocol: 'udp' });
const reports = {
  chrome: report([local, remote, other, { id: 'T', type: 'transport', selectedCandidatePairId: 'P' },
    { id: 'P0', type: 'candidate-pair', localCandidateId: 'L2', remoteCandidateId: 'R', nominated: true, state: 'failed' },
    { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', nominated: true, state: 'succeeded' }]),
  firefox: report([local, remote, other,
    { id: 'P0', type: 'candidate-pair', localCandidateId: 'L2', remoteCandidateId: 'R', state: 'failed' },
    { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', selected: true, state: 'succeeded' }]),
};
for (const [name, r] of Object.entries(reports)) {
  const got = JSON.stringify(selectedPath(r));
  if (got !== want) { console.log(name + ': selectedPath ' + got + ', want ' + want); bad++; }
}
const none = selectedPath(report([local, remote, { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', state: 'in-progress' }]));
if (none !== null) { console.log('selectedPath of a connection still checking: ' + JSON.stringify(none)); bad++; }
const odd = selectedPath(report([{ id: 'L', type: 'local-candidate', candidateType: 'mdns', protocol: 'udp' }, remote,
  { id: 'T', type: 'transport', selectedCandidatePairId: 'P' }, { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R' }]));
if (odd !== null) { console.log('selectedPath of an unknown candidate type: ' + JSON.stringify(odd)); bad++; }

console.log(cases.length + ' stats messages checked, ' + bad + ' disagreements');
process.exit(bad ? 1 : 0);
