// The dashboard shell: hash routing to one page module at a time, the token
// dialog, and the error banner. Each page gets a context whose cleanups run
// when the user navigates away, so event streams and timers never outlive
// their page. A page left while it awaits finds ctx.alive false when it
// resumes and must stop there (never draw into the next page); a cleanup it
// registers after it was left runs at once.

import { onUnauthorized, getToken, setToken, ApiError } from './api.js';
import * as sweeps from './pages/sweeps.js';
import * as sweep from './pages/sweep.js';
import * as runs from './pages/runs.js';
import * as run from './pages/run.js';
import * as compare from './pages/compare.js';
import * as workers from './pages/workers.js';
import * as submit from './pages/submit.js';
import { h, fill } from './dom.js';

const ROUTES = [
  [/^\/?$/, sweeps, 'sweeps'],
  [/^\/sweeps$/, sweeps, 'sweeps'],
  [/^\/sweeps\/(\d+)$/, sweep, 'sweeps'],
  [/^\/runs$/, runs, 'runs'],
  [/^\/runs\/(\d+)$/, run, 'runs'],
  [/^\/compare$/, compare, 'compare'],
  [/^\/workers$/, workers, 'workers'],
  [/^\/submit$/, submit, 'submit'],
];

const page = document.getElementById('page');
const banner = document.getElementById('banner');
let current = null;   // the context of the page on screen

/** Shows an error above the page; null hides it. */
export function showError(err) {
  if (!err) { banner.hidden = true; return; }
  banner.hidden = false;
  fill(banner, h('strong', {}, err instanceof ApiError && err.code ? err.code + ': ' : 'error: '),
    err.message || String(err), h('button', { class: 'ghost', onclick: () => showError(null) }, '×'));
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/sweeps';
  const [path, qs] = raw.split('?');
  return { path, query: new URLSearchParams(qs || '') };
}

async function route() {
  current?.cleanup();
  showError(null);
  const { path, query } = parseHash();
  const hit = ROUTES.map(([re, mod, nav]) => [re.exec(path), mod, nav]).find(([m]) => m);
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', hit && a.dataset.nav === hit[2]);
  const cleanups = [];
  const ctx = {
    query,
    alive: true,
    onCleanup(fn) {
      if (ctx.alive) { cleanups.push(fn); return; }
      try { fn(); } catch { /* page gone */ }
    },
    cleanup() { ctx.alive = false; for (const fn of cleanups.splice(0)) { try { fn(); } catch { /* page gone */ } } },
    error: showError,
  };
  current = ctx;
  fill(page, h('p', { class: 'muted' }, 'Loading…'));
  if (!hit) {
    fill(page, h('h1', {}, 'Not found'), h('p', {}, `No page at ${path}.`));
    return;
  }
  const [m, mod] = hit;
  try {
    await mod.render(page, m.slice(1), ctx);
    if (!ctx.alive) return; // left while rendering: the next page owns #page
    page.dataset.page = hit[2];
    page.dataset.ready = path;
  } catch (err) {
    if (!ctx.alive) return;
    if (err instanceof ApiError && err.status === 401) {
      fill(page, h('p', { class: 'muted' }, 'This server needs a token.'));
    } else {
      fill(page, h('h1', {}, 'Could not load this page'), h('p', { class: 'error' }, err.message || String(err)));
    }
  }
}

// ---- token ---------------------------------------------------------------

const dialog = document.getElementById('token-dialog');
const tokenInput = document.getElementById('token-input');
const tokenError = document.getElementById('token-error');

function askToken(reason) {
  if (dialog.open) return;
  tokenInput.value = getToken();
  tokenError.textContent = reason || '';
  dialog.showModal();
}

dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'save') setToken(tokenInput.value.trim());
  else if (dialog.returnValue === 'clear') setToken('');
  else return;
  route();
});

onUnauthorized((err) => askToken(getToken() ? `The server refused the stored token: ${err.message}` : ''));
document.getElementById('token-button').addEventListener('click', () => askToken(''));

window.addEventListener('hashchange', route);
route();
