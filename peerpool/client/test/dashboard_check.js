// dashboard_check.js is run by Node from TestDashboardDrawing
// (dashboard_test.go): each case (one JSON object per line in
// process.argv[2]) is a swarm picture as the API sends it and the row each
// node must be drawn on; then the charts' helpers and the picture itself
// are checked on fixed inputs.
import { readFileSync } from 'node:fs';
import { depths, layout, swarmSVG } from '../src/dashboard/graph.js';
import { segments, niceCeil, lineChart } from '../src/dashboard/chart.js';
import { esc } from '../src/dashboard/format.js';

const cases = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
let bad = 0;
const fail = (msg) => { console.log(msg); bad++; };
for (const c of cases) {
  const { depth } = depths(c.graph);
  for (const [id, want] of Object.entries(c.want)) {
    if (depth.get(id) !== want) fail(c.name + ': ' + id + ' on row ' + depth.get(id) + ', want ' + want);
  }
  const { pos } = layout(c.graph, 900, 400, c.renditions);
  for (const n of c.graph.nodes) {
    const p = pos.get(n.id);
    if (!p || !(p.x > 0 && p.x < 900 && p.y > 0 && p.y < 400)) fail(c.name + ': ' + n.id + ' placed at ' + JSON.stringify(p));
  }
  const svg = swarmSVG(c.graph, c.renditions, 900, 400);
  const seeds = (svg.match(/data-kind="seed"/g) || []).length;
  const viewers = (svg.match(/data-kind="viewer"/g) || []).length;
  const edges = (svg.match(/class="edge"/g) || []).length;
  const wantSeeds = c.graph.nodes.filter((n) => n.kind === 'seed').length;
  if (seeds !== wantSeeds || viewers !== c.graph.nodes.length - wantSeeds || edges !== c.graph.edges.length) {
    fail(c.name + ': drew ' + seeds + ' seeds, ' + viewers + ' viewers, ' + edges + ' edges');
  }
  if (svg.includes('<script')) fail(c.name + ': markup from a name reached the picture');
}

if (JSON.stringify(segments([[1, 1], [2, null], [3, 3], [4, 4]])) !== '[[[1,1]],[[3,3],[4,4]]]') fail('segments do not break at nulls');
for (const [v, want] of [[0.7, 1], [1, 1], [1.2, 2], [3, 5], [7, 10], [2.2, 2.5], [140000, 200000]]) {
  if (Math.abs(niceCeil(v) - want) > 1e-9) fail('niceCeil(' + v + ') = ' + niceCeil(v) + ', want ' + want);
}
if (esc('<b a="1">&\'') !== '&lt;b a=&quot;1&quot;&gt;&amp;&#39;') fail('esc: ' + esc('<b a="1">&\''));
const chart = lineChart({ name: 'x', t0: 0, t1: 1000, series: [{ name: '<i>', colour: '#fff', points: [[0, 1], [500, null], [1000, 2]] }] });
if (chart.drawn !== 2 || chart.svg.includes('<i>')) fail('lineChart: ' + chart.drawn + ' points drawn; ' + chart.svg);
if (bad) process.exit(1);
console.log(cases.length + ' pictures drawn as they should be');
