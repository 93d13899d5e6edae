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

/**
 * A run's cost as a number. `cost` is null until the server has a cost
 * model; when it is an object, `key` picks the field (the first numeric one
 * by default), so a future model with several figures still plots.
 */
export function costValue(cost, key) {
  if (typeof cost === 'number') return cost;
  if (!cost || typeof cost !== 'object') return null;
  if (key && typeof cost[key] === 'number') return cost[key];
  for (const v of Object.values(cost)) if (typeof v === 'number') return v;
  return null;
}

/** The numeric keys found in any run's cost object (choices for the x axis). */
export function costKeys(runs) {
  const keys = new Set();
  for (const r of runs) {
    if (r.cost && typeof r.cost === 'object') {
      for (const [k, v] of Object.entries(r.cost)) if (typeof v === 'number') keys.add(k);
    }
  }
  return [...keys];
}
