// Compare: the curves of selected runs overlaid, metric by metric, and the
// spec fields in which they differ.

import { api } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { text } from '../fmt.js';
import { lineChart, PALETTE } from '../chart.js';
import { isSparse } from '../metrics.js';
import { diff } from '../spec.js';
import { subscribe } from '../sse.js';

const DEFAULT_METRICS = ['val_acc', 'train_loss'];

export async function render(root, params, ctx) {
  const ids = (ctx.query.get('runs') || '').split(',').map(Number).filter((n) => n > 0);
  const idInput = h('input', { value: ids.join(','), placeholder: 'run ids, e.g. 3,7,12', size: 30, name: 'runs' });
  const pick = h('form', {
    class: 'toolbar',
    onsubmit: (e) => {
      e.preventDefault();
      location.hash = `#/compare?runs=${idInput.value.replace(/[^\d,]/g, '')}`;
    },
  }, h('label', {}, 'runs ', idInput), h('button', { type: 'submit' }, 'Compare'));

  if (ids.length === 0) {
    fill(root, h('h1', {}, 'Compare'), pick,
      h('p', { class: 'muted' }, 'Select runs in a sweep\'s table and press "Compare selected", or type run ids.'));
    return;
  }

  const runs = (await Promise.all(ids.map((i) => api(`/runs/${i}`)))).map((x) => x.run);
  if (!ctx.alive) return;
  const metrics = new Map();
  const loadMetrics = async (r) => metrics.set(r.id, (await api(`/runs/${r.id}/metrics`, { query: { max_points: 1000 } })).series || {});
  await Promise.all(runs.map(loadMetrics));
  if (!ctx.alive) return;

  const names = [...new Set(runs.flatMap((r) => Object.keys(metrics.get(r.id))))].sort();
  const chosen = new Set(DEFAULT_METRICS.filter((n) => names.includes(n)));
  if (chosen.size === 0) names.slice(0, 2).forEach((n) => chosen.add(n));
  const labels = Object.fromEntries(runs.map((r) => [`#${r.id}`, `#${r.id} ${r.name}`]));
  const chartBox = h('div', { class: 'charts' });
  let charts = [];
  ctx.onCleanup(() => charts.forEach(({ c }) => c.destroy()));

  function drawCharts() {
    charts.forEach(({ c }) => c.destroy());
    charts = [...chosen].map((m) => ({
      m,
      // One colour per run; epoch metrics (val_acc) as points.
      c: lineChart({ title: m, styleOf: (n, i) => ({ stroke: PALETTE[i % PALETTE.length], dash: null, points: isSparse(m) }) }),
    }));
    fill(chartBox, charts.map(({ c }) => c.el));
    updateCharts();
  }
  function updateCharts() {
    for (const { c, m } of charts) {
      const series = {};
      for (const r of runs) {
        const s = metrics.get(r.id)[m];
        if (s) series[`#${r.id}`] = s;
      }
      c.update(series, { labels });
    }
  }

  const metricPicker = h('div', { class: 'toolbar metric-picker' }, 'metrics: ',
    names.length ? names.map((n) => h('label', { class: 'chip' }, h('input', {
      type: 'checkbox', checked: chosen.has(n),
      onchange: (e) => { if (e.target.checked) chosen.add(n); else chosen.delete(n); drawCharts(); },
    }), ' ', n)) : h('span', { class: 'muted' }, 'none of these runs has posted a metric yet'));

  const rows = diff(runs.map((r) => r.spec));
  const diffBody = h('tbody');
  let showAll = false;
  function drawDiff() {
    const shown = rows.filter((r) => showAll || (r.differs && r.path !== 'name'));
    fill(diffBody, shown.length ? shown.map((r) => h('tr', { class: r.differs ? 'differs' : '' }, h('th', {}, r.path),
      r.values.map((v) => h('td', {}, v === undefined ? h('span', { class: 'muted' }, '(absent)') : text(v))))) :
      h('tr', {}, h('td', { colspan: runs.length + 1, class: 'muted empty' }, 'The specs are identical apart from their names.')));
  }

  fill(root, h('h1', {}, 'Compare'), pick, metricPicker, chartBox,
    h('section', { class: 'card' },
      h('div', { class: 'page-head' }, h('h3', {}, 'Spec diff'), h('span', { class: 'spacer' }),
        h('label', {}, h('input', { type: 'checkbox', onchange: (e) => { showAll = e.target.checked; drawDiff(); } }), ' show identical fields')),
      h('table', { class: 'grid diff' },
        h('thead', {}, h('tr', {}, h('th', {}, 'field'), runs.map((r) => h('th', {}, h('a', { href: `#/runs/${r.id}` }, `#${r.id} ${r.name}`))))),
        diffBody)));
  drawCharts();
  drawDiff();

  const pending = new Set();
  const reload = throttle(async () => {
    const todo = runs.filter((r) => pending.has(r.id));
    pending.clear();
    try { await Promise.all(todo.map(loadMetrics)); if (ctx.alive) updateCharts(); } catch (e) { ctx.error(e); }
  }, 2000);
  ctx.onCleanup(subscribe('/events', { metrics: (d) => { if (ids.includes(d.run)) { pending.add(d.run); reload(); } } }));
}
