// The REST client: every request of the dashboard goes through `api()`, which
// adds the bearer token, decodes the JSON error shape of docs/api.md into an
// ApiError (code, message, field) and reports 401s so the app can ask for a
// token.

const TOKEN_KEY = 'qlab.token';
const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.field = field || '';
  }
}

export function getToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

let unauthorizedHook = () => {};
/** `fn(err)` is called on every 401, once per failing request. */
export function onUnauthorized(fn) { unauthorizedHook = fn; }

/** Builds "/api/v1/path?k=v" from a query object (arrays repeat the key). */
export function url(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) q.append(k, String(x));
  }
  const s = q.toString();
  return BASE + path + (s ? '?' + s : '');
}

/**
 * api('/runs/1') -> parsed JSON; api('/sweeps', {method: 'POST', body: {...}}).
 * Throws ApiError for any non-2xx answer and for network failures (status 0).
 * `raw: true` returns the body as text (a CSV export) instead of JSON.
 */
export async function api(path, { method = 'GET', body, query, signal, raw = false } = {}) {
  const headers = {};
  const token = getToken();
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url(path, query), {
      method, headers, signal,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach the server (${e.message})`);
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (raw && res.ok) return text;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code, e.message || text.slice(0, 200), e.field);
    if (res.status === 401) unauthorizedHook(err);
    throw err;
  }
  return data;
}

/** Follows `next_cursor` until `max` items of `key` were read. */
export async function listAll(path, key, query = {}, { max = 10000, signal } = {}) {
  const out = [];
  let cursor;
  do {
    const page = await api(path, { query: { ...query, limit: 1000, cursor }, signal });
    out.push(...(page[key] || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

/** EventSource cannot send headers: the server accepts ?token= on GETs. */
export function eventsUrl(path, query = {}) {
  const token = getToken();
  return url(path, token ? { ...query, token } : query);
}
