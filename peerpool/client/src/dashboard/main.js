// Entry of dist/dashboard.js, the operator's dashboard at /_swarmtx/: it
// polls the origin's JSON (/_swarmtx/api/) every interval and draws, for
// the stream picked, its figures as text, its last minutes as charts and
// its swarm as a picture. Everything is drawn here: nothing is fetched
// but the origin's own JSON, so it works with no internet.
import { esc, bytes, bitrate, pct, copies, ms, count, colourOf } from './format.js';
import { lineChart, barChart } from './chart.js';
import { swarmSVG } from './graph.js';

const API = '/_swarmtx/api/';
const HISTORY_MS = 5 * 60 * 1000;

const state = {
  path: decodeURIComponent((location.hash.match(/^#path=(.*)$/) || [])[1] || ''),
  samples: [],
  lastSeq: 0,
  intervalMs: 2000,
  view: null,
  list: [],
  renders: 0,
};
window.swarmtxDashboard = state;

// A token the page was opened with (?jwt=) goes with every request, as the
// player does: a browser cannot add a header to a page's own address.
const jwt = new URLSearchParams(location.search).get('jwt');
function api(path, params) {
  const q = new URLSearchParams(params || {});
  if (jwt) q.set('jwt', jwt);
  const s = q.toString();
  return API + path + (s ? '?' + s : '');
}

async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
  let body = null;
  try { body = await r.json(); } catch (_) { /* an answer without JSON */ }
  if (!r.ok) throw new Error(url.split('?')[0] + ': HTTP ' + r.status + (body && body.error ? ' (' + body.error + ')' : ''));
  return body;
}

let timer = 0;
let polling = false;

// schedule runs the next poll after d ms, instead of any already due.
function schedule(d) {
  clearTimeout(timer);
  timer = setTimeout(poll, d);
}

async function poll() {
  if (polling) return;
  polling = true;
  try {
    const list = await getJSON(api('streams'));
    state.intervalMs = list.interval_ms || 2000;
    state.list = list.streams;
    if (!state.list.some((s) => s.path === state.path)) {
      switchTo(state.list.length ? state.list[0].path : '');
    }
    const path = state.path;
    if (path) {
      const v = await getJSON(api('stream', { path, since: String(state.lastSeq) }));
      if (state.path !== path) {
        // The operator picked another stream meanwhile.
        polling = false;
        schedule(0);
        return;
      }
      if (v.last_seq < state.lastSeq) {
        // The stream's history started again (it came back): take it whole.
        state.samples = [];
        state.lastSeq = 0;
        polling = false;
        schedule(0);
        return;
      }
      merge(v);
    } else {
      state.view = null;
    }
    render();
    setStatus('updated ' + new Date().toLocaleTimeString(), false);
  } catch (e) {
    setStatus(String(e.message || e), true);
  }
  polling = false;
  schedule(state.intervalMs);
}

function switchTo(path) {
  if (path === state.path) return;
  state.path = path;
  state.samples = [];
  state.lastSeq = 0;
  state.view = null;
  history.replaceState(null, '', path ? '#path=' + encodeURIComponent(path) : '#');
}

function merge(v) {
  state.view = v;
  for (const s of v.samples) {
    if (s.seq > state.lastSeq) { state.samples.push(s); state.lastSeq = s.seq; }
  }
  const cut = v.now - HISTORY_MS;
  while (state.samples.length && state.samples[0].t < cut) state.samples.shift();
}

function setStatus(text, bad) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.classList.toggle('bad', bad);
}

function render() {
  renderList();
  const main = document.getElementById('main');
  const v = state.view;
  if (!v) {
    main.innerHTML = '<p class="empty">No stream is served now.</p>';
    return;
  }
  const renditions = v.totals.renditions.map((r) => r.name);
  main.innerHTML = [
    `<h2 id="stream-title" data-path="${esc(v.path)}">${esc(v.path)} <small>${esc(v.state)}${v.attached_since ? ' since ' + esc(new Date(v.attached_since).toLocaleTimeString()) : ''}</small></h2>`,
    tiles(v),
    `<section id="charts">${charts(v, renditions)}</section>`,
    `<section class="cols">${renditionTable(v, renditions)}${connections(v)}${bansAndRefusals(v)}</section>`,
    swarm(v, renditions),
  ].join('');
  state.renders++;
  document.body.dataset.renders = String(state.renders);
}

function renderList() {
  const nav = document.getElementById('streams');
  nav.innerHTML = state.list.length
    ? state.list.map((s) => `<a href="#path=${esc(encodeURIComponent(s.path))}" class="stream${s.path === state.path ? ' on' : ''}" data-path="${esc(s.path)}">` +
      `${esc(s.path)} <small>${count(s.viewers)} viewers · ${copies(s.copies)} copies · P2P ${pct(s.p2p_share)}</small></a>`).join('')
    : '<span class="empty">no streams</span>';
}

// tile is one figure: its text, and its exact value in data-v for whoever
// reads the page by machine.
function tile(key, label, text, value, hint) {
  return `<div class="tile"${hint ? ` title="${esc(hint)}"` : ''}><span class="label">${esc(label)}</span>` +
    `<span class="value" data-k="${esc(key)}" data-v="${esc(value == null ? '' : value)}">${esc(text)}</span></div>`;
}

function tiles(v) {
  const t = v.totals;
  const last = state.samples[state.samples.length - 1] || {};
  const banned = Object.values(t.banned || {}).reduce((a, b) => a + b, 0);
  const refused = Object.values(t.refused || {}).reduce((a, b) => a + b, 0);
  return '<section id="tiles">' + [
    tile('viewers', 'viewers', count(t.viewers), t.viewers, 'viewers joined to the swarm (swarmtx_viewers)'),
    tile('copies-now', 'server copies, last ' + v.window_ms / 1000 + ' s', copies(last.copies), last.copies, 'media bytes sent (HTTP and seeding) ÷ bytes made'),
    tile('copies', 'server copies since attach', copies(t.copies), t.copies),
    tile('p2p-now', 'P2P, last ' + v.window_ms / 1000 + ' s', pct(last.p2p_share), last.p2p_share, "share of the viewers' media bytes from peers"),
    tile('p2p', 'P2P since attach', pct(t.p2p_share), t.p2p_share),
    tile('server-bytes', 'server media bytes', bytes(t.server_bytes.total), t.server_bytes.total, 'HTTP ' + bytes(t.server_bytes.http) + ', seeding ' + bytes(t.server_bytes.peer) + ' (swarmtx_server_bytes_total)'),
    tile('server-rate', 'server media rate', bitrate(last.server_bps), last.server_bps),
    tile('stalls', 'stalls', count(t.stalls), t.stalls, 'stalls viewers reported (swarmtx_stalls_total)'),
    tile('lag', 'lag p50 / max', t.lag_ms ? ms(t.lag_ms.p50) + ' / ' + ms(t.lag_ms.max) : '–', t.lag_ms ? t.lag_ms.p50 : null, 'behind live, over the viewers that know theirs'),
    tile('without-p2p', 'viewers without P2P', count(t.viewers_without_p2p), t.viewers_without_p2p),
    tile('banned', 'banned', count(banned), banned),
    tile('refused', 'joins refused', count(refused), refused),
  ].join('') + '</section>';
}

function card(title, legend, chart) {
  return `<div class="card"><h3>${esc(title)}</h3>${chart.svg}<div class="legend">${legend}</div></div>`;
}

function key(colour, name, value) {
  return `<span class="key"><i style="background:${esc(colour)}"></i>${esc(name)} <b>${esc(value)}</b></span>`;
}

function charts(v, renditions) {
  const S = state.samples;
  const t1 = v.now, t0 = t1 - HISTORY_MS;
  const last = S[S.length - 1] || { renditions: [] };
  const pts = (f) => S.map((s) => [s.t, f(s)]);
  const rend = (s, name) => (s.renditions || []).find((r) => r.name === name) || {};
  const out = [];
  // Viewers, in all and per rendition.
  const vs = [{ name: 'all', colour: '#ddd', points: pts((s) => s.viewers) }]
    .concat(renditions.map((n) => ({ name: n, colour: colourOf(renditions, n), points: pts((s) => rend(s, n).viewers) })));
  out.push(card('viewers', vs.map((s) => key(s.colour, s.name, count(last0(s.points)))).join(''),
    lineChart({ name: 'viewers', t0, t1, series: vs, format: (x) => String(Math.round(x)) })));
  // Server copies per rendition, and of the whole ladder.
  const cs = [{ name: 'all', colour: '#ddd', points: pts((s) => s.copies) }]
    .concat(renditions.map((n) => ({ name: n, colour: colourOf(renditions, n), points: pts((s) => rend(s, n).copies) })));
  out.push(card('server copies (HTTP + seeding ÷ made, ' + v.window_ms / 1000 + ' s)', cs.map((s) => key(s.colour, s.name, copies(last0(s.points)))).join(''),
    lineChart({ name: 'copies', t0, t1, series: cs, yMax: 1, format: (x) => x.toFixed(1) })));
  // P2P share.
  const ps = [{ name: 'P2P share', colour: '#59a14f', points: pts((s) => s.p2p_share) }];
  out.push(card('P2P share of viewers\' bytes', ps.map((s) => key(s.colour, s.name, pct(last0(s.points)))).join(''),
    lineChart({ name: 'p2p', t0, t1, series: ps, yMax: 1, format: (x) => Math.round(100 * x) + '%' })));
  // Lag.
  const ls = [
    { name: 'p50', colour: '#4e79a7', points: pts((s) => (s.lag_ms ? s.lag_ms.p50 : null)) },
    { name: 'p90', colour: '#f28e2b', points: pts((s) => (s.lag_ms ? s.lag_ms.p90 : null)) },
    { name: 'max', colour: '#e15759', points: pts((s) => (s.lag_ms ? s.lag_ms.max : null)) },
  ];
  out.push(card('lag behind live', ls.map((s) => key(s.colour, s.name, ms(last0(s.points)))).join(''),
    lineChart({ name: 'lag', t0, t1, series: ls, format: (x) => (x / 1000).toFixed(1) + ' s' })));
  // Stalls per sample.
  const stalls = pts((s) => s.stalls);
  const recent = stalls.reduce((a, [, x]) => a + (x || 0), 0);
  out.push(card('stalls per ' + state.intervalMs / 1000 + ' s', key('#e15759', 'in the last ' + Math.round(HISTORY_MS / 60000) + ' min', count(recent)),
    barChart({ name: 'stalls', t0, t1, points: stalls, slots: HISTORY_MS / state.intervalMs })));
  // Server egress rate.
  const es = [{ name: 'media sent', colour: '#b07aa1', points: pts((s) => (s.copies == null && !s.server_bps ? null : s.server_bps)) }];
  out.push(card('server media rate (Mbit/s)', es.map((s) => key(s.colour, s.name, bitrate(last0(s.points)))).join(''),
    lineChart({ name: 'egress', t0, t1, series: es, format: (x) => (x * 8 / 1e6).toFixed(x * 8 >= 1e7 ? 0 : 1) })));
  return out.join('');
}

function last0(points) {
  for (let i = points.length - 1; i >= 0; i--) if (points[i][1] != null) return points[i][1];
  return null;
}

function renditionTable(v, renditions) {
  const rows = v.totals.renditions.map((r) => `<tr data-rendition="${esc(r.name)}"><td><i class="sw" style="background:${esc(colourOf(renditions, r.name))}"></i>${esc(r.name)}</td>` +
    `<td data-k="rendition-viewers">${count(r.viewers)}</td><td>${copies(r.copies)}</td><td>${copies(r.window_copies)}</td>` +
    `<td>${bytes(r.made_bytes)}</td><td>${bytes(r.http_bytes)}</td><td>${bytes(r.peer_bytes)}</td><td>${count(r.seeds)} / ${count(r.seed_targets)}</td></tr>`).join('');
  return `<div class="card wide"><h3>renditions</h3><table id="renditions"><thead><tr><th>rendition</th><th>viewers</th><th>copies since attach</th><th>copies, seed window</th><th>made</th><th>sent over HTTP</th><th>seeded</th><th>seeds / targets</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function list(id, title, entries, empty) {
  const rows = entries.length
    ? entries.map(([k, n]) => `<tr><td>${esc(k)}</td><td data-k="${esc(id + ':' + k)}">${count(n)}</td></tr>`).join('')
    : `<tr><td colspan="2" class="empty">${esc(empty)}</td></tr>`;
  return `<div class="card"><h3>${esc(title)}</h3><table id="${esc(id)}">${rows}</table></div>`;
}

function connections(v) {
  const c = Object.entries(v.totals.connections || {}).filter(([, n]) => n > 0);
  const order = ['host/udp', 'srflx/udp', 'relay/udp', 'host/tcp', 'srflx/tcp', 'relay/tcp'];
  c.sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  return list('connections', 'peer connections by ICE type', c, 'no peer connections reported');
}

function bansAndRefusals(v) {
  return list('bans', 'bans by reason', Object.entries(v.totals.banned || {}), 'no bans') +
    list('refusals', 'joins refused', Object.entries(v.totals.refused || {}), 'no refusals');
}

function swarm(v, renditions) {
  const g = v.swarm;
  if (!g) return '<section class="card wide" id="swarm"><h3>swarm</h3><p class="empty">no swarm yet</p></section>';
  const seeds = g.nodes.filter((n) => n.kind === 'seed').length;
  const viewers = g.nodes.length - seeds;
  const width = 900, height = Math.max(220, Math.min(520, 110 + 60 * Math.ceil(Math.log2(2 + viewers))));
  const legend = renditions.map((n) => key(colourOf(renditions, n), n, '')).join('');
  const caption = `<p id="swarm-caption" data-nodes="${g.nodes.length}" data-seeds="${seeds}" data-viewers="${viewers}" data-edges="${g.edges.length}">` +
    `${seeds} seeder(s), ${viewers} viewer(s), ${g.edges.length} link(s) that carried bytes in the last ${g.edge_window_ms / 1000} s` +
    (g.truncated ? ` — <b>truncated</b>: showing ${g.nodes.length} of ${g.total_nodes} nodes and ${g.edges.length} of ${g.total_edges} links (the top of the swarm)` : '') +
    '. Squares are the server\'s seeders, circles viewers (white ring: seed target, dashed: does not upload); a row is the hops from a seeder.</p>';
  return `<section class="card wide" id="swarm"><h3>swarm</h3>${caption}${swarmSVG(g, renditions, width, height)}<div class="legend">${legend}</div></section>`;
}

window.addEventListener('hashchange', () => {
  const m = location.hash.match(/^#path=(.*)$/);
  if (m && decodeURIComponent(m[1]) !== state.path) {
    switchTo(decodeURIComponent(m[1]));
    schedule(0);
  }
});
poll();
