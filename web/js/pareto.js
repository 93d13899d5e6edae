// The accuracy-vs-cost Pareto front: the runs no other run beats on both
// (lower or equal cost and higher or equal accuracy, one strictly).

/**
 * points: [{x: cost, y: accuracy, ...}] -> the indices on the front, by
 * increasing cost. Points without a finite x or y are ignored.
 */
export function paretoFront(points) {
  const idx = points
    .map((p, i) => i)
    .filter((i) => Number.isFinite(points[i].x) && Number.isFinite(points[i].y))
    .sort((i, j) => points[i].x - points[j].x || points[j].y - points[i].y);
  const front = [];
  let best = -Infinity;
  for (const i of idx) {
    if (points[i].y > best) {
      front.push(i);
      best = points[i].y;
    }
  }
  return front;
}

/** A cost object's numeric fields by dotted path ({fwd: {luts: 3}} -> [["fwd.luts", 3]]). */
export function costFields(cost, prefix = '', out = []) {
  if (!cost || typeof cost !== 'object') return out;
  for (const [k, v] of Object.entries(cost)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number' && Number.isFinite(v)) out.push([p, v]);
    else if (v && typeof v === 'object' && !Array.isArray(v)) costFields(v, p, out);
  }
  return out;
}

/**
 * A run's cost as a number. The server's cost object (docs/cost.md) holds
 * the sums over the run's three MAC units: `lut`, `ff`, `dsp`, `gates` and
 * `lut_calibrated`, null while they are pending or not expressible; `key`
 * picks the field (a dotted path into nested objects; the first numeric one
 * when no key is given), so whatever figures a cost model gives still plot.
 * A run without that field gives null (never another figure: a pending
 * run's per-group LUTs are not its sum). A bare number is taken as is; null
 * (no cost model on the server) gives null.
 */
export function costValue(cost, key) {
  if (typeof cost === 'number') return cost;
  const fields = costFields(cost);
  if (key) {
    const hit = fields.find(([k]) => k === key);
    return hit ? hit[1] : null;
  }
  return fields.length ? fields[0][1] : null;
}

/** The x axes the Pareto view offers, in order, with their labels. */
export const COST_AXES = [
  ['lut', 'LUTs (Yosys, UltraScale+)'],
  ['gates', 'gates (generic, weighted)'],
  ['lut_calibrated', 'LUTs, calibrated to the published ZCU104 figures'],
];

/**
 * The numeric fields found in any run's cost object (choices for the x
 * axis, dotted paths): those of COST_AXES first, in that order, then any
 * other.
 */
export function costKeys(runs) {
  const keys = new Set();
  for (const r of runs) for (const [k] of costFields(r.cost)) keys.add(k);
  const known = COST_AXES.map(([k]) => k).filter((k) => keys.has(k));
  // The server's per-group figures and its FF/DSP sums are in the run page's
  // cost line, not x axes of their own.
  const skip = (k) => known.includes(k) || (known.length && (['ff', 'dsp'].includes(k) || k.startsWith('groups.')));
  return [...known, ...[...keys].filter((k) => !skip(k))];
}

/** Counts of the runs whose cost is not a figure yet, by the reason. */
export function costWaiting(runs) {
  const out = { pending: 0, unavailable: 0, unsupported: 0, failed: 0 };
  for (const r of runs) {
    const st = r.cost && typeof r.cost === 'object' ? r.cost.status : null;
    if (st && st in out) out[st]++;
  }
  return out;
}

/** One line saying what a run's cost is, for the run page and tooltips. */
export function costText(cost) {
  if (cost === null || cost === undefined) return 'no cost: the server has no hardware cost model (hw/ not found)';
  if (typeof cost !== 'object') return String(cost);
  const groups = Object.entries(cost.groups || {});
  if (cost.status === 'ok') {
    const cal = typeof cost.lut_calibrated === 'number' ? `, ${cost.lut_calibrated} LUT calibrated` : '';
    return `${cost.lut} LUT, ${cost.ff} FF, ${cost.dsp} DSP, ${cost.gates} gates${cal}: ` +
      `the three MAC units (${groups.map(([g, e]) => `${g} ${e.lut} LUT`).join(', ')}), ${cost.tool}`;
  }
  const why = groups.map(([g, e]) => e.error || e.pending ? `${g}: ${e.error || e.pending}` : null).filter(Boolean);
  return `${cost.status}${why.length ? ' (' + why.join('; ') + ')' : ''}`;
}
