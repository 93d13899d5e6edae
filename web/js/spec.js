// Experiment specs as flat maps of dotted paths (the same paths sweeps and
// the run-list filters use), so any spec field can be a table column, a
// heatmap axis or a row of a spec diff.

/** {a: {b: 1, c: [1, 2]}} -> Map {"a.b" => 1, "a.c" => [1, 2]}; arrays are leaves. */
export function flatten(obj, prefix = '', out = new Map()) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    if (prefix) out.set(prefix, obj);
    return out;
  }
  const keys = Object.keys(obj);
  if (keys.length === 0 && prefix) out.set(prefix, obj);
  for (const k of keys) flatten(obj[k], prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** The value at a dotted path, or undefined. */
export function get(obj, path) {
  let v = obj;
  for (const seg of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[seg];
  }
  return v;
}

function same(a, b) {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Rows {path, values: [one per spec], differs} over the union of the paths
 * of `specs`, in first-seen order (the canonical key order of the schema).
 */
export function diff(specs) {
  const flats = specs.map((s) => flatten(s || {}));
  const paths = [];
  const seen = new Set();
  for (const f of flats) for (const p of f.keys()) if (!seen.has(p)) { seen.add(p); paths.push(p); }
  return paths.map((path) => {
    const values = flats.map((f) => f.get(path));
    return { path, values, differs: values.some((v) => !same(v, values[0])) };
  });
}

/** The dotted paths whose value is not the same in every spec. */
export function varying(specs) {
  return diff(specs).filter((r) => r.differs && r.path !== 'name').map((r) => r.path);
}
