// The swarm picture: the plugin's seeders on top, each viewer on the row of
// its depth (how many hops the bytes it received took from a seeder, along
// the links that carried bytes recently), viewers fed by nobody on the
// bottom row (they fetch over HTTP). Nodes are coloured by rendition; a
// link's width follows the bytes its receiver confirmed.
import { esc, colourOf, bytes, ms } from './format.js';

// depths gives every node its row: 0 for seeders, 1 + the smallest depth
// of those that fed it, and one row below the deepest for the unfed.
export function depths(graph) {
  const depth = new Map();
  const out = new Map();
  for (const e of graph.edges) {
    if (!out.has(e.from)) out.set(e.from, []);
    out.get(e.from).push(e.to);
  }
  let queue = [];
  for (const n of graph.nodes) if (n.kind === 'seed') { depth.set(n.id, 0); queue.push(n.id); }
  while (queue.length) {
    const next = [];
    for (const id of queue) {
      for (const to of out.get(id) || []) {
        if (!depth.has(to)) { depth.set(to, depth.get(id) + 1); next.push(to); }
      }
    }
    queue = next;
  }
  let deepest = 0;
  for (const d of depth.values()) deepest = Math.max(deepest, d);
  const unfed = deepest + 1;
  for (const n of graph.nodes) if (!depth.has(n.id)) depth.set(n.id, unfed);
  return { depth, unfed, rows: unfed + 1 };
}

// layout places the nodes in a width x height box: rows by depth, and in a
// row, each node near the mean position of those that fed it (so links run
// down rather than across), then by rendition.
export function layout(graph, width, height, renditions) {
  const { depth, unfed, rows } = depths(graph);
  const byRow = Array.from({ length: rows }, () => []);
  for (const n of graph.nodes) byRow[depth.get(n.id)].push(n);
  const parents = new Map();
  for (const e of graph.edges) {
    if (!parents.has(e.to)) parents.set(e.to, []);
    parents.get(e.to).push(e.from);
  }
  const pos = new Map();
  const top = 18, bottom = 18;
  const gap = rows > 1 ? (height - top - bottom) / (rows - 1) : 0;
  const rank = (n) => { const i = renditions.indexOf(n.rendition); return i < 0 ? renditions.length : i; };
  for (let r = 0; r < rows; r++) {
    const row = byRow[r];
    const key = new Map();
    for (const n of row) {
      const ps = (parents.get(n.id) || []).map((p) => pos.get(p)).filter(Boolean);
      key.set(n.id, ps.length ? ps.reduce((a, p) => a + p.x, 0) / ps.length : Infinity);
    }
    row.sort((a, b) => (key.get(a.id) - key.get(b.id)) || (rank(a) - rank(b)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    row.forEach((n, i) => {
      pos.set(n.id, { x: ((i + 1) * width) / (row.length + 1), y: rows > 1 ? top + r * gap : height / 2, depth: r });
    });
  }
  return { pos, rows, unfed, depth };
}

// swarmSVG draws graph (the API's swarm) as an SVG string.
export function swarmSVG(graph, renditions, width, height) {
  const { pos, rows, unfed } = layout(graph, width, height, renditions);
  let widest = 1;
  const perRow = new Map();
  for (const p of pos.values()) perRow.set(p.depth, (perRow.get(p.depth) || 0) + 1);
  for (const n of perRow.values()) widest = Math.max(widest, n);
  const r = Math.max(2, Math.min(8, width / (widest * 2.6)));
  let maxBytes = 1;
  for (const e of graph.edges) maxBytes = Math.max(maxBytes, e.bytes);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" id="swarm-svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">`;
  svg += `<text class="axis" x="4" y="12">seeders</text>`;
  if (rows > 1) svg += `<text class="axis" x="4" y="${height - 4}">fed by no peer (HTTP)</text>`;
  // Links point at their receiver: they stop at its edge, with an arrow.
  svg += '<defs><marker id="arrow" viewBox="0 0 6 6" refX="5" refY="3" markerUnits="userSpaceOnUse" markerWidth="7" markerHeight="7" orient="auto">' +
    '<path d="M0,0L6,3L0,6z" fill="#8a97a8"/></marker></defs>';
  for (const e of graph.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const w = 0.4 + 3.6 * Math.sqrt(e.bytes / maxBytes);
    // A link within a row bows above it, so it does not run through the
    // nodes between its ends.
    const same = Math.abs(b.y - a.y) < 1;
    const cx = (a.x + b.x) / 2, cy = same ? a.y - 12 - Math.abs(b.x - a.x) * 0.2 : (a.y + b.y) / 2;
    const dx = b.x - cx, dy = b.y - cy, len = Math.hypot(dx, dy) || 1;
    const x2 = b.x - (dx / len) * (r + 1.5), y2 = b.y - (dy / len) * (r + 1.5);
    const d = `M${a.x.toFixed(1)},${a.y.toFixed(1)}Q${cx.toFixed(1)},${cy.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
    svg += `<path class="edge" d="${d}" fill="none" stroke-width="${w.toFixed(2)}" marker-end="url(#arrow)" data-from="${esc(e.from)}" data-to="${esc(e.to)}"><title>${esc(short(e.from))} → ${esc(short(e.to))}: ${esc(bytes(e.bytes))}</title></path>`;
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.id);
    const c = colourOf(renditions, n.rendition);
    const title = n.kind === 'seed'
      ? `seeder of ${n.rendition}: ${n.seeds} seed target(s)`
      : `viewer ${short(n.id)} on ${n.rendition}` + (p.depth === unfed ? ', fed by no peer' : `, ${p.depth} hop(s) from a seeder`) +
        `; lag ${ms(n.lag_ms)}, stalls ${n.stalls}, P2P ${bytes(n.p2p_bytes)}, HTTP ${bytes(n.http_bytes)}, ${n.neighbours} neighbour(s)` +
        (n.seed_target ? '; seed target' : '') + (n.uploads ? '' : '; does not upload') + (n.waiting ? '; waiting outside the mesh' : '') +
        (n.unreachable ? '; unreachable' : '');
    const attrs = `class="node" data-kind="${esc(n.kind)}" data-id="${esc(n.id)}" data-rendition="${esc(n.rendition)}" fill="${esc(c)}"`;
    if (n.kind === 'seed') {
      const s = r * 1.8;
      svg += `<rect ${attrs} x="${(p.x - s / 2).toFixed(1)}" y="${(p.y - s / 2).toFixed(1)}" width="${s.toFixed(1)}" height="${s.toFixed(1)}"><title>${esc(title)}</title></rect>`;
    } else {
      const ring = n.seed_target ? ' stroke="#fff" stroke-width="1.5"' : (n.uploads ? '' : ' stroke="#000" stroke-dasharray="2 1"');
      svg += `<circle ${attrs}${ring} cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="${r.toFixed(1)}"><title>${esc(title)}</title></circle>`;
    }
  }
  svg += '</svg>';
  return svg;
}

function short(id) { return id.length > 8 ? id.slice(0, 8) : id; }
