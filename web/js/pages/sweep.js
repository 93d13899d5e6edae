// Sweep detail: progress, the runs table, the two-parameter grid and the
// accuracy-vs-cost scatter. Runs are read once with their specs; live
// updates re-read the list without specs (states and summaries change,
// specs never do) at most every two seconds.

import { api, listAll } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { time } from '../fmt.js';
import { progressBar } from '../progress.js';
import { runsTable } from '../runs_table.js';
import { heatmap } from '../heatmap.js';
import { scatter } from '../scatter.js';
import { varying } from '../spec.js';
import { subscribe } from '../sse.js';

function metricNames(runs) {
  const s = new Set();
  for (const r of runs) for (const k of Object.keys(r.summary || {})) s.add(k);
  return [...s].sort();
}

export async function render(root, [idText], ctx) {
  const id = Number(idText);
  let sweep = (await api(`/sweeps/${id}`)).sweep;
  if (!ctx.alive) return;
  let runs = await listAll('/runs', 'runs', { sweep: id, spec: 1 });
  if (!ctx.alive) return;
  const swept = Object.keys(sweep.sweep?.parameters || {});
  const paths = () => [...swept, ...varying(runs.map((r) => r.spec)).filter((p) => !swept.includes(p))];

  const progress = h('div');
  const table = runsTable({ swept });
  const grid = heatmap();
  const sc = scatter();

  function draw() {
    fill(progress, progressBar(sweep.counts, sweep.runs));
    table.setRuns(runs);
    const metrics = metricNames(runs);
    grid.setRuns(runs, paths(), metrics);
    sc.setRuns(runs, metrics);
  }

  const cancel = h('button', {
    class: 'ghost danger',
    onclick: async () => {
      if (!confirm(`Cancel every unfinished run of sweep ${id}?`)) return;
      try { await api(`/sweeps/${id}/cancel`, { method: 'POST' }); if (ctx.alive) refresh(); } catch (e) { ctx.error(e); }
    },
  }, 'Cancel sweep');

  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, sweep.name), h('span', { class: 'muted' }, `sweep ${id} · ${sweep.method} · ${sweep.runs} runs · created ${time(sweep.created)}`),
      h('span', { class: 'spacer' }), cancel),
    progress,
    h('details', { class: 'card' }, h('summary', {}, 'Sweep document'), h('pre', { class: 'json' }, JSON.stringify(sweep.sweep, null, 2))),
    h('h2', {}, 'Runs'),
    table.el,
    h('div', { class: 'two' }, grid.el, sc.el));
  draw();

  // Merge fresh states and summaries into the runs we have (they keep their specs).
  const refresh = throttle(async () => {
    if (!ctx.alive) return;
    try {
      const [s, fresh] = await Promise.all([api(`/sweeps/${id}`), listAll('/runs', 'runs', { sweep: id })]);
      if (!ctx.alive) return;
      const byId = new Map(runs.map((r) => [r.id, r]));
      sweep = s.sweep;
      runs = fresh.map((r) => ({ ...r, spec: byId.get(r.id)?.spec }));
      draw();
    } catch (e) { ctx.error(e); }
  }, 2000);
  const mine = new Set(runs.map((r) => r.id));
  ctx.onCleanup(subscribe('/events', {
    run: (d) => { if (d.sweep === id) refresh(); },
    metrics: (d) => { if (mine.has(d.run)) refresh(); },
    sweep: (d) => { if (d.sweep === id) refresh(); },
  }));
}
