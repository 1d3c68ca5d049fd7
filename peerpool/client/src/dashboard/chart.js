// Small SVG charts drawn by the page itself: no library, nothing fetched.
import { esc } from './format.js';

// lineChart draws series of [t (ms), value|null] points over [t0, t1] as
// an SVG string. A null value breaks its line: nothing was measured there.
// opts: {width, height, series: [{name, colour, points}], yMax (at least),
// format (value to text), name (the chart's data-chart)}.
export function lineChart(opts) {
  const W = opts.width || 420, H = opts.height || 140;
  const L = 44, R = 8, T = 8, B = 18;
  const t0 = opts.t0, t1 = Math.max(opts.t1, t0 + 1);
  let yMax = opts.yMax || 0;
  for (const s of opts.series) for (const [, v] of s.points) if (v != null && isFinite(v) && v > yMax) yMax = v;
  if (yMax <= 0) yMax = 1;
  yMax = niceCeil(yMax);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / yMax) * (H - T - B);
  const fmt = opts.format || ((v) => String(v));
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${esc(opts.name || '')}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">`;
  for (const f of [0, 0.5, 1]) {
    const yy = y(f * yMax).toFixed(1);
    svg += `<line class="grid" x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}"/>`;
    svg += `<text class="axis" x="${L - 4}" y="${(+yy + 3).toFixed(1)}" text-anchor="end">${esc(fmt(f * yMax))}</text>`;
  }
  const span = (t1 - t0) / 1000;
  svg += `<text class="axis" x="${L}" y="${H - 4}">-${esc(agoShort(span))}</text>`;
  svg += `<text class="axis" x="${W - R}" y="${H - 4}" text-anchor="end">now</text>`;
  let drawn = 0;
  for (const s of opts.series) {
    for (const seg of segments(s.points)) {
      if (seg.length === 1) {
        const [t, v] = seg[0];
        svg += `<circle class="dot" cx="${x(t).toFixed(1)}" cy="${y(v).toFixed(1)}" r="1.8" fill="${esc(s.colour)}"/>`;
      } else {
        const d = seg.map(([t, v], i) => (i ? 'L' : 'M') + x(t).toFixed(1) + ',' + y(v).toFixed(1)).join('');
        svg += `<path class="line" d="${d}" stroke="${esc(s.colour)}" data-series="${esc(s.name)}"/>`;
      }
      drawn += seg.length;
    }
  }
  svg += '</svg>';
  return { svg, drawn };
}

// barChart draws one value per point as bars (events per sample).
export function barChart(opts) {
  const W = opts.width || 420, H = opts.height || 140;
  const L = 44, R = 8, T = 8, B = 18;
  const t0 = opts.t0, t1 = Math.max(opts.t1, t0 + 1);
  let yMax = opts.yMax || 0;
  for (const [, v] of opts.points) if (v != null && v > yMax) yMax = v;
  if (yMax <= 0) yMax = 1;
  yMax = niceCeil(yMax);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / yMax) * (H - T - B);
  const bw = Math.max(1, (W - L - R) / Math.max(1, opts.slots || opts.points.length) - 1);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${esc(opts.name || '')}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">`;
  for (const f of [0, 1]) {
    const yy = y(f * yMax).toFixed(1);
    svg += `<line class="grid" x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}"/>`;
    svg += `<text class="axis" x="${L - 4}" y="${(+yy + 3).toFixed(1)}" text-anchor="end">${esc(String(f * yMax))}</text>`;
  }
  svg += `<text class="axis" x="${L}" y="${H - 4}">-${esc(agoShort((t1 - t0) / 1000))}</text>`;
  svg += `<text class="axis" x="${W - R}" y="${H - 4}" text-anchor="end">now</text>`;
  let drawn = 0;
  for (const [t, v] of opts.points) {
    drawn++;
    if (!v) continue;
    svg += `<rect class="bar" x="${(x(t) - bw).toFixed(1)}" y="${y(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${esc(opts.colour || '#e15759')}"/>`;
  }
  svg += '</svg>';
  return { svg, drawn };
}

// segments splits points at nulls into runs to draw.
export function segments(points) {
  const out = [];
  let cur = [];
  for (const p of points) {
    if (p[1] == null || !isFinite(p[1])) {
      if (cur.length) out.push(cur);
      cur = [];
    } else cur.push(p);
  }
  if (cur.length) out.push(cur);
  return out;
}

// niceCeil rounds a chart's top up to 1, 2, 2.5 or 5 times a power of ten.
export function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v - 1e-12) return m * p;
  return 10 * p;
}

function agoShort(s) { return s >= 90 ? Math.round(s / 60) + ' min' : Math.round(s) + ' s'; }
