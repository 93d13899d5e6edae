// The axes of a sweep: for each swept parameter, the values its runs get in
// a meaningful order and, when every value is a number format, each
// value's storage bits. The server gives them with the sweep
// (qc_sweep_axes, docs/sweeps.md) where it can; otherwise they are read off
// the runs (values in run order, which is the expansion order) and the
// bits asked of POST /formats/validate. Plots of accuracy against bits,
// parallel coordinates and the report all use this one shape:
//   [{key, path, values: [...], bits: [...]|null, numeric}]

import { api } from './api.js';
import { get } from './spec.js';

const same = (a, b) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** The first dotted path of a parameter key ("a.b,c.d" ties several paths to one value). */
export function keyPath(key) {
  return key.split(',')[0].trim();
}

/** Axes from the sweep document and its runs (no server round trip); bits left null. */
export function axesFrom(sweep, runs) {
  const doc = sweep.sweep || {};
  const given = sweep.axes || doc.axes || null; // the server's qc_sweep_axes, when it sends them
  const keys = Object.keys(doc.parameters || {});
  const byId = [...runs].sort((a, b) => a.id - b.id);
  return keys.map((key) => {
    const path = keyPath(key);
    let values;
    let bits = null;
    if (given && given[key] && Array.isArray(given[key].values)) {
      values = given[key].values;
      bits = Array.isArray(given[key].bits) ? given[key].bits : null;
    } else {
      values = [];
      for (const r of byId) {
        const v = get(r.spec, path);
        if (v !== undefined && !values.some((x) => same(x, v))) values.push(v);
      }
    }
    const numeric = values.length > 0 && values.every((v) => typeof v === 'number');
    return { key, path, values, bits, numeric };
  });
}

const bitsCache = new Map();

/** The storage bits of a format string, from the server's parser (null: not a format). */
export async function formatBits(text) {
  if (!bitsCache.has(text)) {
    bitsCache.set(text, api('/formats/validate', { method: 'POST', body: { format: text } })
      .then((f) => (typeof f?.bits === 'number' ? f.bits : null))
      .catch(() => null));
  }
  return bitsCache.get(text);
}

/** Fills `bits` of every axis whose values are all format strings. */
export async function withBits(axes) {
  for (const a of axes) {
    if (a.bits || a.values.length === 0 || !a.values.every((v) => typeof v === 'string')) continue;
    const bits = await Promise.all(a.values.map(formatBits));
    if (bits.every((b) => typeof b === 'number')) a.bits = bits;
  }
  return axes;
}

/**
 * The values of an axis in plotting order: by bits where it has them (a
 * stable sort, so equal widths keep the sweep's order), else as given.
 * Returns [{value, bits, label}].
 */
export function ordered(axis) {
  const items = axis.values.map((value, i) => ({ value, bits: axis.bits ? axis.bits[i] : null, i }));
  if (axis.bits) items.sort((a, b) => a.bits - b.bits || a.i - b.i);
  return items.map(({ value, bits }) => ({
    value, bits,
    label: typeof value === 'string' ? value : JSON.stringify(value),
  }));
}

/** Index of a run's value on an axis, or -1. */
export function indexOn(axisItems, v) {
  return axisItems.findIndex((it) => same(it.value, v));
}
