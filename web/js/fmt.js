// Number and time formatting shared by every page, so a value reads the same
// in a table, a chart legend and a tooltip.

/** Compact number: 4 significant digits, exponent form for tiny/huge values. */
export function num(v) {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return Number(v.toPrecision(4)).toExponential(); // 1e-4, 1.235e-5
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/** Accuracy-like values in [0,1] as percentages. */
export function pct(v) {
  return typeof v === 'number' ? (v * 100).toFixed(2) + '%' : '';
}

/** Seconds since the epoch to local "YYYY-MM-DD HH:MM:SS". */
export function time(t) {
  if (!t) return '';
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A duration in seconds as "1h 02m", "3m 04s" or "5.2s". */
export function duration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '';
  if (s < 60) return s.toFixed(1) + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** How long ago `t` was, e.g. "12s ago". */
export function ago(t) {
  if (!t) return 'never';
  return duration(Math.max(0, Date.now() / 1000 - t)) + ' ago';
}

/** Any JSON value as short text (objects and arrays as compact JSON). */
export function text(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return num(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
