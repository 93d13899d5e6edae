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
 * A run's cost as a number. `cost` is null until the server has a cost
 * model; when it is an object, `key` picks the field (a dotted path into
 * nested objects; the first numeric one by default), so whatever figures a
 * cost model gives (LUTs, FFs, DSPs, gates, per GEMM group) still plot.
 */
export function costValue(cost, key) {
  if (typeof cost === 'number') return cost;
  const fields = costFields(cost);
  if (key) {
    const hit = fields.find(([k]) => k === key);
    if (hit) return hit[1];
  }
  return fields.length ? fields[0][1] : null;
}

/** The numeric fields found in any run's cost object (choices for the x axis). */
export function costKeys(runs) {
  const keys = new Set();
  for (const r of runs) for (const [k] of costFields(r.cost)) keys.add(k);
  return [...keys];
}
