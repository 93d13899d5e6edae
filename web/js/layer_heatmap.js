// The per-layer counters of a run as a heatmap: one row per layer and GEMM
// group (conv2 fwd, conv2 bwd, ...), one column per logged step (or per
// bucket of steps on long runs), the colour the rate of the chosen counter
// on a log scale, zero in grey. The hottest row is named in text under it,
// so the layer that swamps or overflows shows at a glance (and a test can
// read it). Drawn on a canvas: thousands of cells stay cheap.

import { h, fill } from './dom.js';
import { num } from './fmt.js';
import { ramp } from './grid.js';
import { parseLayerMetric, GEMM_GROUPS, COUNTERS } from './metrics.js';

const collator = new Intl.Collator(undefined, { numeric: true });
const ROW_H = 16;
const MAX_COLS = 240;

/**
 * The heatmap's data for one counter: {rows: [{layer, group, key}], steps,
 * cells: rows x columns of rate|null (mean over the steps of a column),
 * max, minPositive}. `series` is a run's series by name.
 */
export function layerGrid(series, counter, maxCols = MAX_COLS) {
  const rows = [];
  for (const name of Object.keys(series)) {
    const p = parseLayerMetric(name);
    if (p && p.counter === counter) rows.push({ layer: p.layer, group: p.group, key: `${p.layer}/${p.group}`, name });
  }
  rows.sort((a, b) => collator.compare(a.layer, b.layer) || GEMM_GROUPS.indexOf(a.group) - GEMM_GROUPS.indexOf(b.group));
  const stepSet = new Set();
  for (const r of rows) for (const s of series[r.name].step) stepSet.add(s);
  const all = [...stepSet].sort((a, b) => a - b);
  const per = Math.max(1, Math.ceil(all.length / maxCols));
  const steps = [];
  const colOf = new Map();
  all.forEach((s, i) => {
    const c = Math.floor(i / per);
    colOf.set(s, c);
    steps[c] = s; // a column is labelled by its last step
  });
  let max = 0;
  let minPositive = Infinity;
  const cells = rows.map((r) => {
    const sum = new Array(steps.length).fill(0);
    const n = new Array(steps.length).fill(0);
    const s = series[r.name];
    for (let k = 0; k < s.step.length; k++) {
      const v = s.value[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      const c = colOf.get(s.step[k]);
      sum[c] += v;
      n[c] += 1;
    }
    return sum.map((x, c) => {
      if (!n[c]) return null;
      const v = x / n[c];
      if (v > max) max = v;
      if (v > 0 && v < minPositive) minPositive = v;
      return v;
    });
  });
  return { rows, steps, cells, max, minPositive: Number.isFinite(minPositive) ? minPositive : null };
}

/** The row with the largest mean rate, or null when every rate is zero. */
export function hottest(grid) {
  let best = null;
  grid.rows.forEach((r, i) => {
    const vs = grid.cells[i].filter((v) => v !== null);
    if (!vs.length) return;
    const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
    if (mean > 0 && (!best || mean > best.mean)) best = { ...r, mean, max: Math.max(...vs) };
  });
  return best;
}

/** layerHeatmap() -> {el, update(series), destroy()} */
export function layerHeatmap() {
  const el = h('section', { class: 'card layer-heatmap', dataset: { chart: 'Per-layer counters' } });
  let counter = null;
  let series = {};
  let grid = null;
  let ro = null;
  const canvas = h('canvas', { class: 'heat-canvas' });
  const labels = h('div', { class: 'heat-rows' });
  const status = h('p', { class: 'muted small heat-status' }, 'point at a cell for its value');
  const hot = h('p', { class: 'heat-hot' });
  const scaleEl = h('div', { class: 'heat-scale small' });

  function present() {
    const have = new Set();
    for (const n of Object.keys(series)) {
      const p = parseLayerMetric(n);
      if (p) have.add(p.counter);
    }
    return COUNTERS.filter((c) => have.has(c));
  }

  // Log colour scale over [lo, max], lo at most six decades below the max.
  function colour(v) {
    if (v === null) return '#f1f3f5';
    if (v <= 0) return '#ced4da';
    const hi = Math.log10(grid.max);
    const lo = Math.max(Math.log10(grid.minPositive), hi - 6);
    return ramp(hi > lo ? (Math.log10(v) - lo) / (hi - lo) : 1);
  }

  function paint() {
    if (!grid || !grid.rows.length) return;
    const width = Math.max(200, canvas.parentElement?.clientWidth || 600);
    const ncol = grid.steps.length;
    const cw = width / Math.max(1, ncol);
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(grid.rows.length * ROW_H * dpr);
    canvas.style.width = width + 'px';
    canvas.style.height = grid.rows.length * ROW_H + 'px';
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    grid.cells.forEach((row, i) => row.forEach((v, c) => {
      g.fillStyle = colour(v);
      g.fillRect(c * cw, i * ROW_H, Math.ceil(cw), ROW_H - 1);
    }));
  }

  function onMove(e) {
    if (!grid || !grid.rows.length) return;
    const r = canvas.getBoundingClientRect();
    const c = Math.floor(((e.clientX - r.left) / r.width) * grid.steps.length);
    const i = Math.floor((e.clientY - r.top) / ROW_H);
    const row = grid.rows[i];
    if (!row || c < 0 || c >= grid.steps.length) return;
    const v = grid.cells[i][c];
    status.textContent = `${row.layer} ${row.group} ${counter} rate ${v === null ? 'not logged' : num(v)} at step ${grid.steps[c]}`;
  }
  canvas.addEventListener('mousemove', onMove);

  function draw() {
    const counters = present();
    if (!counters.length) {
      fill(el, h('h3', {}, 'Per-layer counters'), h('p', { class: 'muted empty' },
        'No per-layer counters yet (runs report them with every step line: layers_<layer>_<group>_<counter>_rate).'));
      el.dataset.rows = '';
      return;
    }
    if (!counters.includes(counter)) {
      // The counter with the most activity first.
      counter = counters.map((c) => [c, layerGrid(series, c).max]).sort((a, b) => b[1] - a[1])[0][0];
    }
    grid = layerGrid(series, counter);
    const best = hottest(grid);
    el.dataset.counter = counter;
    el.dataset.rows = grid.rows.map((r) => r.key).join(',');
    el.dataset.hot = best ? best.key : '';
    fill(labels, grid.rows.map((r) => h('div', { class: 'heat-row' + (best && best.key === r.key ? ' hot' : ''), style: { height: ROW_H + 'px' } },
      `${r.layer} ${r.group}`)));
    fill(hot, best
      ? [h('strong', {}, `${best.layer} ${best.group}`), ` has the highest ${counter} rate: mean ${num(best.mean)}, max ${num(best.max)}`]
      : `every ${counter} rate is zero`);
    const lo = grid.minPositive === null ? null : Math.max(grid.minPositive, grid.max / 1e6);
    fill(scaleEl, h('span', { class: 'swatch', style: { background: '#ced4da' } }), ' 0 ',
      lo === null ? null : [h('span', { class: 'swatch', style: { background: ramp(0) } }), ` ${num(lo)} `,
        h('span', { class: 'ramp' }), h('span', { class: 'swatch', style: { background: ramp(1) } }), ` ${num(grid.max)} (log scale)`]);
    fill(el,
      h('header', { class: 'heat-head' }, h('h3', {}, 'Per-layer counters'),
        h('div', { class: 'toolbar' }, counters.map((c) => h('button', {
          class: 'ghost' + (c === counter ? ' active' : ''), type: 'button', dataset: { counter: c },
          onclick: () => { counter = c; draw(); },
        }, c)))),
      h('div', { class: 'heat-body' }, labels, h('div', { class: 'heat-plot' }, canvas,
        h('div', { class: 'heat-axis muted small' }, h('span', {}, `step ${grid.steps[0]}`), h('span', {}, `step ${grid.steps[grid.steps.length - 1]}`)))),
      scaleEl, hot, status);
    paint();
    if (!ro && typeof ResizeObserver !== 'undefined') {
      ro = new ResizeObserver(() => paint());
      ro.observe(el);
    }
  }

  return {
    el,
    update(next) { series = next; draw(); },
    destroy() { ro?.disconnect(); },
  };
}
