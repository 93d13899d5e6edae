// Runs: every run (standalone experiments and sweep members), filterable by
// state and by the server's filter grammar (?filter=, docs/api.md "Filters":
// tags, spec fields, metrics), and by any column in the table. The tags of
// the runs shown are chips that filter on them.

import { listAll, ApiError } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { runsTable } from '../runs_table.js';
import { STATES } from '../progress.js';
import { subscribe } from '../sse.js';
import { tagFilter } from '../organize.js';

/** The hash of the runs list with this state and filter. */
function href(state, filter) {
  const q = new URLSearchParams();
  if (state) q.set('state', state);
  if (filter) q.set('filter', filter);
  const s = q.toString();
  return '#/runs' + (s ? '?' + s : '');
}

export async function render(root, params, ctx) {
  const state = ctx.query.get('state') || '';
  const filter = ctx.query.get('filter') || '';
  const table = runsTable({});
  const problem = h('p', { class: 'error filter-error', role: 'alert', hidden: true });
  const read = (spec) => listAll('/runs', 'runs', { spec: spec ? 1 : undefined, state, filter }, { max: 5000 });
  let runs = [];
  try {
    runs = await read(true);
  } catch (e) {
    // A filter the server refuses names what is wrong; the page stays usable.
    if (!(e instanceof ApiError) || e.status !== 400) throw e;
    problem.hidden = false;
    problem.textContent = `${e.code}${e.field ? ' at ' + e.field : ''}: ${e.message}`;
  }
  if (!ctx.alive) return;
  const stateLinks = h('div', { class: 'toolbar' }, 'state: ',
    ['', ...STATES].map((s) => h('a', { href: href(s, filter), class: s === state ? 'active chip' : 'chip' }, s || 'all')));
  const input = h('input', {
    type: 'search', name: 'filter', value: filter, size: 70,
    placeholder: 'tag = "good" and arith.forward.mac.acc = "e6m5" and metric.val_acc > 0.8',
    title: 'conditions joined with "and" over run columns, tag, metric.NAME, best.NAME and spec fields (docs/api.md, "Filters")',
  });
  const form = h('form', {
    class: 'toolbar run-filter',
    onsubmit: (e) => { e.preventDefault(); location.hash = href(state, input.value.trim()); },
  }, 'filter: ', input, h('button', { type: 'submit', class: 'ghost' }, 'Apply'),
  filter ? h('a', { class: 'button ghost clear', href: href(state, '') }, 'Clear') : null);
  const tagChips = h('div', { class: 'toolbar tag-chips' });
  function drawTags() {
    const tags = [...new Set(runs.flatMap((r) => r.tags || []))].sort();
    fill(tagChips, tags.length ? ['tags: ', tags.map((t) => h('a', {
      class: 'chip tag' + (filter === tagFilter(t) ? ' active' : ''), href: href(state, tagFilter(t)), dataset: { tag: t },
    }, t))] : null);
    tagChips.hidden = !tags.length;
  }
  fill(root, h('div', { class: 'page-head' }, h('h1', {}, 'Runs')), stateLinks, form, problem, tagChips, table.el);
  table.setRuns(runs);
  drawTags();
  if (!problem.hidden) return;
  const refresh = throttle(async () => {
    try {
      const fresh = await read(false);
      if (!ctx.alive) return;
      const byId = new Map(runs.map((r) => [r.id, r]));
      // New runs have no spec yet in this list; they get one on the next visit.
      runs = fresh.map((r) => ({ ...r, spec: byId.get(r.id)?.spec }));
      table.setRuns(runs);
      drawTags();
    } catch (e) { ctx.error(e); }
  }, 3000);
  ctx.onCleanup(subscribe('/events', { run: refresh }));
}
