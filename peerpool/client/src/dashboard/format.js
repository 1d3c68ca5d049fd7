// Formatting and escaping for the dashboard: every figure is shown as text
// as well as drawn.

// esc makes text safe inside HTML and SVG markup: stream paths and
// rendition names come from publishers and the configuration.
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// bytes is a byte count in B, kB, MB, GB (powers of 1000, as rates are).
export function bytes(n) {
  if (n == null || !isFinite(n)) return '–';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}

// bits is a byte rate as bits per second.
export function bitrate(bytesPerS) {
  if (bytesPerS == null || !isFinite(bytesPerS)) return '–';
  const b = bytesPerS * 8;
  if (b >= 1e6) return (b / 1e6).toFixed(2) + ' Mbit/s';
  if (b >= 1e3) return (b / 1e3).toFixed(0) + ' kbit/s';
  return Math.round(b) + ' bit/s';
}

export function pct(r) { return r == null || !isFinite(r) ? '–' : (100 * r).toFixed(r >= 0.995 || r < 0.1 ? 1 : 0) + '%'; }

export function copies(c) { return c == null || !isFinite(c) ? '–' : c.toFixed(2); }

export function ms(v) { return v == null || v < 0 ? '–' : (v / 1000).toFixed(2) + ' s'; }

export function count(n) { return n == null ? '–' : String(Math.round(n)); }

// ago is how long before now a time was, short.
export function ago(seconds) {
  if (seconds < 90) return Math.round(seconds) + ' s';
  if (seconds < 5400) return Math.round(seconds / 60) + ' min';
  return (seconds / 3600).toFixed(1) + ' h';
}

// palette colours renditions in their ladder order, the same on every
// chart and in the swarm picture.
export const palette = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];

export function colourOf(renditions, name) {
  const i = renditions.indexOf(name);
  return i < 0 ? '#888' : palette[i % palette.length];
}
