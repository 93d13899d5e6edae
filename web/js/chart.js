// Line charts of metric series on uPlot (canvas, made for long time series:
// tens of thousands of points redraw in milliseconds). Series that were
// recorded at different steps are merged onto one step axis with gaps, and
// the header states each series' last value and step in text, which is also
// what a reader (or a test) can check without looking at pixels.

import uPlot from '../vendor/uPlot.esm.js';
import { h, fill } from './dom.js';
import { num } from './fmt.js';

export const PALETTE = ['#2b5fb4', '#d9480f', '#2f9e44', '#ae3ec9', '#e8590c', '#1098ad',
  '#c2255c', '#5c940d', '#495057', '#f08c00', '#3b5bdb', '#0ca678'];

/** Merges series {name: {step, value}} onto the union of their steps. */
export function align(names, series) {
  const steps = new Set();
  for (const n of names) for (const s of series[n].step) steps.add(s);
  const xs = Float64Array.from(steps).sort();
  const pos = new Map();
  xs.forEach((x, i) => pos.set(x, i));
  const ys = names.map((n) => {
    const y = new Array(xs.length).fill(null);
    const s = series[n];
    for (let k = 0; k < s.step.length; k++) y[pos.get(s.step[k])] = s.value[k];
    return y;
  });
  return [Array.from(xs), ...ys];
}

/**
 * lineChart({title, log}) -> {el, update(series, labels?), destroy()}.
 * `series` maps a name to {step: [], value: []}; `labels` optionally maps a
 * name to its legend text (compare uses "#12 name").
 */
export function lineChart({ title, log = false, height = 220, empty = 'no points yet' }) {
  const plotEl = h('div', { class: 'plot' });
  const lastEl = h('div', { class: 'chart-last' });
  const el = h('section', { class: 'card chart', dataset: { chart: title } },
    h('header', {}, h('h3', {}, title), lastEl), plotEl);
  let plot = null;
  let names = [];
  let ro = null;

  function create(labels) {
    plot?.destroy();
    const width = Math.max(300, plotEl.clientWidth || el.clientWidth || 600);
    plot = new uPlot({
      width, height,
      scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
      axes: [{ label: 'step' }, { size: 70, values: (u, vals) => vals.map(num) }],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [{ label: 'step', value: (u, v) => (v === null ? '' : String(v)) },
        ...names.map((n, i) => ({
          label: labels?.[n] || n,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          points: { show: false },
          value: (u, v) => (v === null ? '' : num(v)),
        }))],
    }, null, plotEl);
    if (!ro && typeof ResizeObserver !== 'undefined') {
      ro = new ResizeObserver(() => {
        const w = plotEl.clientWidth;
        if (plot && w > 0 && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height });
      });
      ro.observe(plotEl);
    }
  }

  function update(series, labels) {
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
    const changed = present.length !== names.length || present.some((n, i) => n !== names[i]);
    if (changed || !plot) {
      names = present;
      fill(plotEl);
      create(labels);
    }
    plot.setData(align(names, series));
    let lastStep = -Infinity;
    fill(lastEl, names.map((n, i) => {
      const s = series[n];
      const k = s.step.length - 1;
      lastStep = Math.max(lastStep, s.step[k]);
      return h('span', { class: 'last', style: { color: PALETTE[i % PALETTE.length] } },
        `${labels?.[n] || n} ${num(s.value[k])} @ ${s.step[k]}`);
    }));
    el.dataset.lastStep = String(lastStep);
  }

  return {
    el,
    update,
    destroy() { ro?.disconnect(); plot?.destroy(); plot = null; },
  };
}
