// The two-parameter grid of a sweep (e.g. accumulator format x seed ->
// val_acc): cells average the runs that share both values, so a third swept
// parameter is averaged over rather than hidden.

import { compare } from './filter.js';

const key = (v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

/**
 * rows: items; getX/getY/getV: accessors. Returns {xs, ys, cells} where
 * cells[y][x] = {mean, n, min, max} or null, axes in natural order, or in
 * the order of `xOrder`/`yOrder` (value lists, e.g. a sweep axis ordered by
 * bits) for the values they hold.
 */
export function gridOf(rows, getX, getY, getV, xOrder = null, yOrder = null) {
  const xs = new Map();
  const ys = new Map();
  const acc = new Map();
  for (const r of rows) {
    const x = getX(r);
    const y = getY(r);
    if (x === undefined || y === undefined) continue;
    const kx = key(x);
    const ky = key(y);
    xs.set(kx, x);
    ys.set(ky, y);
    const v = getV(r);
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const k = kx + '\u0000' + ky;
    const c = acc.get(k) || { sum: 0, n: 0, min: Infinity, max: -Infinity };
    c.sum += v;
    c.n += 1;
    c.min = Math.min(c.min, v);
    c.max = Math.max(c.max, v);
    acc.set(k, c);
  }
  const by = (order) => {
    const rank = new Map((order || []).map((v, i) => [key(v), i]));
    return (a, b) => {
      const ra = rank.get(key(a));
      const rb = rank.get(key(b));
      if (ra !== undefined && rb !== undefined) return ra - rb;
      if (ra !== undefined || rb !== undefined) return ra !== undefined ? -1 : 1;
      return compare(a, b);
    };
  };
  const xv = [...xs.values()].sort(by(xOrder));
  const yv = [...ys.values()].sort(by(yOrder));
  const cells = yv.map((y) => xv.map((x) => {
    const c = acc.get(key(x) + '\u0000' + key(y));
    return c ? { mean: c.sum / c.n, n: c.n, min: c.min, max: c.max } : null;
  }));
  return { xs: xv, ys: yv, cells };
}

/** A colour for t in [0,1] on a perceptually ordered blue-to-yellow ramp. */
export function ramp(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((a, j) => Math.round(a + (stops[i + 1][j] - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
