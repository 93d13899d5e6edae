// What the submit page checks while the user types, before anything is
// posted: JSON syntax (with line and column) and every format string,
// through POST /formats/validate so the rules are the server's own. Each
// problem carries the JSON pointer of its field; the server's answer to a
// refused submission has the same shape.

import { api, ApiError } from './api.js';
import { parse, JsonSyntaxError } from './jsonpos.js';

// Keys whose string values are format strings (docs/spec.md); the words
// that are not formats there ('auto', 'exact', 'native') are left alone.
const FORMAT_KEYS = new Set(['weights', 'activations', 'errors', 'acc', 'product', 'master_weights', 'weight_update', 'momentum']);
const NOT_FORMATS = new Set(['auto', 'exact', 'native']);

const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** [{pointer, format}] for every format string of an experiment or sweep. */
export function formatFields(doc) {
  const out = [];
  const walk = (v, ptr, key) => {
    if (typeof v === 'string') {
      if (FORMAT_KEYS.has(key) && !NOT_FORMATS.has(v)) out.push({ pointer: ptr, format: v });
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, `${ptr}/${esc(String(k))}`, Array.isArray(v) ? key : k);
    }
  };
  if (doc && typeof doc === 'object' && doc.base) {
    walk(doc.base, '/base', '');
    // A sweep parameter's values are formats when its path ends in a format key.
    for (const [path, p] of Object.entries(doc.parameters || {})) {
      const last = path.split('.').pop();
      if (!FORMAT_KEYS.has(last) || !Array.isArray(p?.values)) continue;
      p.values.forEach((v, i) => {
        if (typeof v === 'string' && !NOT_FORMATS.has(v)) out.push({ pointer: `/parameters/${esc(path)}/values/${i}`, format: v });
      });
    }
  } else {
    walk(doc, '', '');
  }
  return out;
}

const cache = new Map();   // format string -> Promise<null | message>

function checkFormat(format) {
  if (!cache.has(format)) {
    cache.set(format, api('/formats/validate', { method: 'POST', body: { format } })
      .then(() => null)
      .catch((e) => {
        if (e instanceof ApiError && e.status === 400) return e.message;
        cache.delete(format);     // a network or auth failure is not an answer
        throw e;
      }));
  }
  return cache.get(format);
}

/**
 * check(text) -> {doc, spans, kind, problems: [{pointer, message, offset?}]}.
 * kind is 'sweep' (has "base"), 'experiment' or null when not parsable.
 */
export async function check(text) {
  let parsed;
  try {
    parsed = parse(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { doc: null, spans: new Map(), kind: null, problems: [{ pointer: '', message: e.message, offset: e.offset }] };
    throw e;
  }
  const doc = parsed.value;
  const problems = [];
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push({ pointer: '', message: 'the document must be a JSON object (an experiment or a sweep)' });
  } else if (typeof doc.name !== 'string' || !doc.name) {
    problems.push({ pointer: '/name', message: 'name is required: 1..128 printable characters' });
  }
  const fields = doc && typeof doc === 'object' ? formatFields(doc) : [];
  const answers = await Promise.all(fields.map((f) => checkFormat(f.format)));
  fields.forEach((f, i) => { if (answers[i]) problems.push({ pointer: f.pointer, message: answers[i] }); });
  return { doc, spans: parsed.spans, kind: doc && doc.base ? 'sweep' : 'experiment', problems };
}

/** Runs a grid sweep would create (product of the value counts), or null. */
export function sweepSize(doc) {
  if (!doc?.base) return null;
  if (doc.method === 'random') return doc.samples ?? null;
  return Object.values(doc.parameters || {}).reduce((n, p) => n * (Array.isArray(p?.values) ? p.values.length : 1), 1);
}
