// Column filters of the runs table. A filter is typed in a column's header:
//   "e6m5"   substring, case-insensitive
//   "=e6m5"  exact value       "!=fp32"  anything else
//   ">0.8" ">=0.8" "<2" "<=2"  numeric comparisons
//   "0.5..0.9"                 inclusive numeric range
//   "empty" / "!empty"         missing value / any value
// Several filters in one box, separated by spaces, must all hold.

const CMP = /^(>=|<=|>|<|!=|=)(.*)$/;

function term(t) {
  if (t === 'empty') return (v) => v === null || v === undefined || v === '';
  if (t === '!empty') return (v) => !(v === null || v === undefined || v === '');
  const range = /^(-?[\d.eE+-]+)\.\.(-?[\d.eE+-]+)$/.exec(t);
  if (range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    return (v) => typeof v === 'number' && v >= lo && v <= hi;
  }
  const m = CMP.exec(t);
  if (m) {
    const [, op, rhs] = m;
    const n = Number(rhs);
    const numeric = rhs !== '' && Number.isFinite(n);
    const str = (v) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    switch (op) {
      case '=': return (v) => (numeric && typeof v === 'number' ? v === n : str(v).toLowerCase() === rhs.toLowerCase());
      case '!=': return (v) => !(numeric && typeof v === 'number' ? v === n : str(v).toLowerCase() === rhs.toLowerCase());
      case '>': return (v) => typeof v === 'number' && v > n;
      case '>=': return (v) => typeof v === 'number' && v >= n;
      case '<': return (v) => typeof v === 'number' && v < n;
      case '<=': return (v) => typeof v === 'number' && v <= n;
    }
  }
  const needle = t.toLowerCase();
  return (v) => v !== null && v !== undefined &&
    (typeof v === 'object' ? JSON.stringify(v) : String(v)).toLowerCase().includes(needle);
}

/** Compiles filter text into a predicate on one cell value; null when empty. */
export function compile(textIn) {
  const terms = String(textIn || '').trim().split(/\s+/).filter(Boolean);
  if (terms.length === 0) return null;
  const preds = terms.map(term);
  return (v) => preds.every((p) => p(v));
}

/**
 * Orders two cell values: numbers numerically, strings naturally ("q8.13"
 * before "q16.16"), missing values last whatever the direction.
 */
export function compare(a, b, dir = 1) {
  const am = a === null || a === undefined || a === '';
  const bm = b === null || b === undefined || b === '';
  if (am || bm) return am && bm ? 0 : am ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return (a - b) * dir;
  const sa = typeof a === 'object' ? JSON.stringify(a) : String(a);
  const sb = typeof b === 'object' ? JSON.stringify(b) : String(b);
  return collator.compare(sa, sb) * dir;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
