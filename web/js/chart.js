// Line charts of metric series on uPlot (canvas, made for long time series:
// tens of thousands of points redraw in milliseconds). Series recorded at
// different steps are merged onto one x axis with gaps; sparse series (one
// point per epoch) are drawn as points joined across the gaps. The x axis
// is the step or the wall-clock time the server stored each point at. The
// legend gives each series' value under the cursor (its last value when
// the cursor is elsewhere), and the header states each series' last value
// and step in text, which is also what a reader (or a test) can check
// without looking at pixels.

import uPlot from '../vendor/uPlot.esm.js';
import { h, fill } from './dom.js';
import { num } from './fmt.js';
import { seriesStyle } from './metrics.js';

export { PALETTE } from './metrics.js';

/**
 * Merges series {name: {step, value, time?}} onto one x axis: the union of
 * their steps, or with x = 'time' the earliest stored time of each step
 * (sorted by time). Returns {data: [xs, ...ys], steps}, null where a
 * series has no point, and the step of each x.
 */
export function align(names, series, x = 'step') {
  const when = new Map(); // step -> x value
  for (const n of names) {
    const s = series[n];
    for (let k = 0; k < s.step.length; k++) {
      const v = x === 'time' ? s.time?.[k] : s.step[k];
      if (v === undefined || v === null) continue;
      const prev = when.get(s.step[k]);
      if (prev === undefined || v < prev) when.set(s.step[k], v);
    }
  }
  const steps = [...when.keys()].sort((a, b) => when.get(a) - when.get(b) || a - b);
  const pos = new Map();
  steps.forEach((st, i) => pos.set(st, i));
  const ys = names.map((n) => {
    const y = new Array(steps.length).fill(null);
    const s = series[n];
    for (let k = 0; k < s.step.length; k++) {
      const i = pos.get(s.step[k]);
      if (i !== undefined) y[i] = s.value[k];
    }
    return y;
  });
  return { data: [steps.map((st) => when.get(st)), ...ys], steps };
}

/** The last non-null value of `ys` at or before index `i` (the end when i is null). */
export function lastAt(ys, i) {
  for (let k = i === null || i === undefined ? ys.length - 1 : Math.min(i, ys.length - 1); k >= 0; k--) {
    if (ys[k] !== null && ys[k] !== undefined) return ys[k];
  }
  return null;
}

function yScale(scale) {
  if (scale === 'log') return { distr: 3 };
  // asinh: logarithmic above the threshold, linear through zero, so rates of
  // 1e-6 and 0.05 both read and a zero rate stays on the chart.
  if (scale === 'asinh') return { distr: 4, asinh: 1e-6, range: (u, min, max) => [0, Math.max(max, 1e-6)] };
  return {};
}

/**
 * lineChart({title, scale}) -> {el, update(series, {labels, x}), destroy()}.
 * `series` maps a name to {step: [], value: [], time?: []}; `labels`
 * optionally maps a name to its legend text (compare uses "#12 name"); `x`
 * is 'step' (default) or 'time'. `scale`: 'log', 'asinh' or linear.
 */
export function lineChart({ title, scale = null, log = false, height = 220, empty = 'no points yet', styleOf = seriesStyle }) {
  const yKind = scale || (log ? 'log' : null);
  const plotEl = h('div', { class: 'plot' });
  const lastEl = h('div', { class: 'chart-last' });
  const el = h('section', { class: 'card chart', dataset: { chart: title, scale: yKind || 'linear' } },
    h('header', {}, h('h3', {}, title), lastEl), plotEl);
  let plot = null;
  let names = [];
  let xMode = 'step';
  let steps = [];
  let ro = null;

  function create(labels) {
    plot?.destroy();
    const width = Math.max(300, plotEl.clientWidth || el.clientWidth || 600);
    const styles = names.map((n, i) => styleOf(n, i));
    plot = new uPlot({
      width, height,
      scales: { x: { time: xMode === 'time' }, y: yScale(yKind) },
      axes: [
        { label: xMode === 'time' ? 'time' : 'step' },
        {
          // asinh ticks mirror below zero; rates never go there.
          values: (u, vals) => vals.map((v) => (yKind === 'asinh' && v < 0 ? '' : num(v))),
          // Wide enough for the longest tick label (65536, 1.000e-6): nothing clipped.
          size: (u, values) => 18 + 7 * Math.max(3, ...(values || []).map((v) => String(v).length)),
        },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [
        {
          label: xMode === 'time' ? 'time' : 'step',
          value: (u, v, si, di) => {
            if (di === null || di === undefined) return '';
            const step = steps[di];
            return xMode === 'time' ? `step ${step}, ${new Date(v * 1000).toLocaleTimeString()}` : String(step);
          },
        },
        ...names.map((n, i) => ({
          label: labels?.[n] || n,
          stroke: styles[i].stroke,
          dash: styles[i].dash || undefined,
          width: 1.5,
          spanGaps: true,
          points: styles[i].points ? { show: true, size: 6, fill: styles[i].stroke } : { show: false },
          value: (u, v, si, di) => {
            const w = v === null || v === undefined ? lastAt(u.data[si], di) : v;
            return w === null ? '—' : num(w);
          },
        })),
      ],
    }, null, plotEl);
    if (!ro && typeof ResizeObserver !== 'undefined') {
      ro = new ResizeObserver(() => {
        const w = plotEl.clientWidth;
        if (plot && w > 0 && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height });
      });
      ro.observe(plotEl);
    }
  }

  function update(series, opts = {}) {
    const labels = opts.labels;
    const x = opts.x || 'step';
    const present = Object.keys(series).filter((n) => series[n].step.length > 0);
    if (present.length === 0) {
      plot?.destroy();
      plot = null;
      names = [];
      fill(plotEl, h('p', { class: 'muted empty' }, empty));
      fill(lastEl);
      delete el.dataset.lastStep;
      return;
    }
    const changed = present.length !== names.length || present.some((n, i) => n !== names[i]) || x !== xMode;
    if (changed || !plot) {
      names = present;
      xMode = x;
      fill(plotEl);
      create(labels);
    }
    const a = align(names, series, xMode);
    steps = a.steps;
    plot.setData(a.data);
    let lastStep = -Infinity;
    fill(lastEl, names.map((n, i) => {
      const s = series[n];
      const k = s.step.length - 1;
      lastStep = Math.max(lastStep, s.step[k]);
      return h('span', { class: 'last', style: { color: styleOf(n, i).stroke } },
        `${labels?.[n] || n} ${num(s.value[k])} @ ${s.step[k]}`);
    }));
    el.dataset.lastStep = String(lastStep);
    el.dataset.series = names.join(',');
    el.dataset.points = names.filter((n, i) => styleOf(n, i).points).join(',');
  }

  return {
    el,
    update,
    destroy() { ro?.disconnect(); plot?.destroy(); plot = null; },
  };
}
