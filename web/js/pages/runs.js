// Runs: every run (standalone experiments and sweep members), filterable by
// state on the server and by any column in the table.

import { listAll } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { runsTable } from '../runs_table.js';
import { STATES } from '../progress.js';
import { subscribe } from '../sse.js';

export async function render(root, params, ctx) {
  const state = ctx.query.get('state') || '';
  const table = runsTable({});
  let runs = await listAll('/runs', 'runs', { spec: 1, state }, { max: 5000 });
  if (!ctx.alive) return;
  const stateLinks = h('div', { class: 'toolbar' }, 'state: ',
    ['', ...STATES].map((s) => h('a', { href: s ? `#/runs?state=${s}` : '#/runs', class: s === state ? 'active chip' : 'chip' }, s || 'all')));
  fill(root, h('div', { class: 'page-head' }, h('h1', {}, 'Runs')), stateLinks, table.el);
  table.setRuns(runs);
  const refresh = throttle(async () => {
    try {
      const fresh = await listAll('/runs', 'runs', { state }, { max: 5000 });
      if (!ctx.alive) return;
      const byId = new Map(runs.map((r) => [r.id, r]));
      // New runs have no spec yet in this list; they get one on the next visit.
      runs = fresh.map((r) => ({ ...r, spec: byId.get(r.id)?.spec }));
      table.setRuns(runs);
    } catch (e) { ctx.error(e); }
  }, 3000);
  ctx.onCleanup(subscribe('/events', { run: refresh }));
}
