// Sweep detail: progress, the runs table (CSV download), the grid of two
// swept parameters, accuracy against bits, parallel coordinates and the
// accuracy-vs-cost Pareto front; the HTML report and the results table
// (GET /sweeps/{id}/results, the table qlab export writes) as CSV; the
// sweep's tags and note (editable). Runs are read once with
// their specs; live updates re-read the list without specs (states and
// summaries change, specs never do) at most every two seconds.

import { api, listAll } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { time } from '../fmt.js';
import { progressBar } from '../progress.js';
import { runsTable } from '../runs_table.js';
import { heatmap } from '../heatmap.js';
import { scatter } from '../scatter.js';
import { bitsPlot } from '../bits_plot.js';
import { parCoords } from '../parcoords.js';
import { axesFrom, withBits, ordered } from '../axes.js';
import { isLayerMetric } from '../metrics.js';
import { varying } from '../spec.js';
import { subscribe } from '../sse.js';
import { downloadReport } from '../report_link.js';
import { download } from '../csv.js';
import { organizer } from '../organize.js';

function metricNames(runs) {
  const s = new Set();
  for (const r of runs) for (const k of Object.keys(r.summary || {})) if (!isLayerMetric(k)) s.add(k);
  return [...s].sort();
}

export async function render(root, [idText], ctx) {
  const id = Number(idText);
  let sweep = (await api(`/sweeps/${id}`)).sweep;
  if (!ctx.alive) return;
  let runs = await listAll('/runs', 'runs', { sweep: id, spec: 1 });
  if (!ctx.alive) return;
  const axes = await withBits(axesFrom(sweep, runs));
  if (!ctx.alive) return;
  const swept = axes.map((a) => a.path);
  const paths = () => [...swept, ...varying(runs.map((r) => r.spec)).filter((p) => !swept.includes(p))];

  const progress = h('div');
  const table = runsTable({ swept, csvName: `sweep-${id}-runs.csv` });
  const grid = heatmap();
  const sc = scatter();
  const bits = bitsPlot();
  const pc = parCoords();
  ctx.onCleanup(() => bits.destroy());
  const org = organizer({
    kind: 'sweeps', id, obj: sweep,
    onSaved: (s) => { sweep = { ...sweep, ...s }; drawHead(); },
    onDeleted: () => { location.hash = '#/sweeps'; },
  });
  const head = h('div', { class: 'page-head' });

  function drawHead() {
    fill(head, h('h1', {}, sweep.name), h('span', { class: 'muted' }, `sweep ${id} · ${sweep.method} · ${sweep.runs} runs · created ${time(sweep.created)}`),
      h('span', { class: 'spacer' }), results, report, cancel);
    org.update(sweep);
  }

  function draw() {
    drawHead();
    fill(progress, progressBar(sweep.counts, sweep.runs));
    table.setRuns(runs);
    const metrics = metricNames(runs);
    grid.setRuns(runs, paths(), metrics, (p) => {
      const a = axes.find((x) => x.path === p);
      return a ? ordered(a).map((it) => it.value) : null;
    });
    sc.setRuns(runs, metrics);
    bits.setRuns(runs, axes, metrics);
    pc.setRuns(runs, axes, metrics);
  }

  const cancel = h('button', {
    class: 'ghost danger',
    onclick: async () => {
      if (!confirm(`Cancel every unfinished run of sweep ${id}?`)) return;
      try { await api(`/sweeps/${id}/cancel`, { method: 'POST' }); if (ctx.alive) refresh(); } catch (e) { ctx.error(e); }
    },
  }, 'Cancel sweep');
  const report = h('button', {
    class: 'ghost report',
    title: 'one self-contained HTML page: results, plots, the sweep and software versions (qlab report does the same)',
    onclick: async (e) => {
      const b = e.currentTarget;
      b.disabled = true;
      b.textContent = 'Building report…';
      try { await downloadReport(id); } catch (err) { ctx.error(err); } finally {
        b.disabled = false;
        b.textContent = 'HTML report';
      }
    },
  }, 'HTML report');
  const results = h('button', {
    class: 'ghost results-csv',
    title: 'one row per run: spec fields, final and best metrics, state, worker, timings, cost (qlab export --csv writes the same)',
    onclick: async () => {
      try { download(`sweep-${id}-results.csv`, await api(`/sweeps/${id}/results`, { query: { format: 'csv' }, raw: true })); } catch (err) { ctx.error(err); }
    },
  }, 'Results CSV');

  fill(root,
    head,
    progress,
    org.el,
    h('details', { class: 'card' }, h('summary', {}, 'Sweep document'), h('pre', { class: 'json' }, JSON.stringify(sweep.sweep, null, 2))),
    h('h2', {}, 'Runs'),
    table.el,
    h('div', { class: 'two' }, grid.el, sc.el),
    bits.el,
    pc.el);
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
