// Accuracy against bits: one swept format parameter across (its values
// ordered by storage bits, or the bits themselves), the chosen final metric
// up, one line per value of another swept parameter (mean over the runs
// that share both, e.g. over seeds). Drawn with uPlot, with the numbers in
// a table underneath.

import uPlot from '../vendor/uPlot.esm.js';
import { h, fill } from './dom.js';
import { num } from './fmt.js';
import { get } from './spec.js';
import { ordered, indexOn } from './axes.js';
import { PALETTE } from './metrics.js';

const NONE = '';

/**
 * The plot's data: {xs, labels, lines: [{label, ys, ns}]}. mode 'ordered':
 * x is the position of the run's value in ordered(xAxis); mode 'bits': x
 * is its bits. Each y is the mean of `metric` over the runs at that x and
 * line value (null where none has it).
 */
export function bitsData(runs, xAxis, lineAxis, metric, mode = 'ordered') {
  const items = ordered(xAxis);
  let xs;
  let labels;
  let xOf;
  if (mode === 'bits' && xAxis.bits) {
    xs = [...new Set(items.map((it) => it.bits))].sort((a, b) => a - b);
    labels = xs.map((b) => `${b} bits: ` + items.filter((it) => it.bits === b).map((it) => it.label).join(', '));
    xOf = (v) => { const i = indexOn(items, v); return i < 0 ? -1 : xs.indexOf(items[i].bits); };
  } else {
    xs = items.map((_, i) => i);
    labels = items.map((it) => (it.bits !== null ? `${it.label} (${it.bits} b)` : it.label));
    xOf = (v) => indexOn(items, v);
  }
  const lineItems = lineAxis ? ordered(lineAxis) : [{ value: null, label: 'all runs' }];
  const lines = lineItems.map((li) => ({ label: lineAxis ? `${lineAxis.path}=${li.label}` : `mean ${metric}`, sum: xs.map(() => 0), ns: xs.map(() => 0) }));
  for (const r of runs) {
    const v = r.summary?.[metric];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const x = xOf(get(r.spec, xAxis.path));
    const l = lineAxis ? indexOn(lineItems, get(r.spec, lineAxis.path)) : 0;
    if (x < 0 || l < 0) continue;
    lines[l].sum[x] += v;
    lines[l].ns[x] += 1;
  }
  return {
    xs, labels,
    lines: lines.map((l) => ({ label: l.label, ns: l.ns, ys: l.sum.map((s, i) => (l.ns[i] ? s / l.ns[i] : null)) }))
      .filter((l) => l.ns.some((n) => n > 0)),
  };
}

function select(options, value, onchange, name) {
  return h('select', { name, onchange: (e) => onchange(e.target.value) },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

/** bitsPlot() -> {el, setRuns(runs, axes, metrics), destroy()} */
export function bitsPlot() {
  const el = h('section', { class: 'card bits-plot', dataset: { chart: 'Accuracy vs bits' } });
  let runs = [];
  let axes = [];
  let metrics = [];
  let xKey = null;
  let lineKey = null;
  let metric = null;
  let mode = 'ordered';
  let plot = null;
  let ro = null;

  function draw() {
    plot?.destroy();
    plot = null;
    const head = h('h3', {}, 'Accuracy vs bits');
    const candidates = axes.filter((a) => a.bits).concat(axes.filter((a) => !a.bits));
    if (!candidates.length) {
      fill(el, head, h('p', { class: 'muted' }, 'This sweep varies no parameter.'));
      return;
    }
    if (!candidates.some((a) => a.key === xKey)) xKey = candidates[0].key;
    const xAxis = axes.find((a) => a.key === xKey);
    const others = axes.filter((a) => a.key !== xKey);
    if (lineKey === null || (lineKey !== NONE && !others.some((a) => a.key === lineKey))) {
      lineKey = others.find((a) => !/seed/.test(a.path))?.key ?? NONE;
    }
    const lineAxis = others.find((a) => a.key === lineKey) || null;
    if (!metrics.includes(metric)) metric = metrics.includes('val_acc') ? 'val_acc' : metrics[0] || null;
    if (!xAxis.bits) mode = 'ordered';
    const controls = h('div', { class: 'toolbar' },
      h('label', {}, 'across ', select(candidates.map((a) => [a.key, a.bits ? `${a.path} (bits)` : a.path]), xKey, (v) => { xKey = v; draw(); }, 'bits-x')),
      xAxis.bits ? h('label', {}, 'x ', select([['ordered', 'values, ordered by bits'], ['bits', 'total bits']], mode, (v) => { mode = v; draw(); }, 'bits-mode')) : null,
      h('label', {}, 'one line per ', select([[NONE, '(mean over all)'], ...others.map((a) => [a.key, a.path])], lineKey, (v) => { lineKey = v; draw(); }, 'bits-lines')),
      h('label', {}, 'metric ', select(metrics.map((m) => [m, m]), metric, (v) => { metric = v; draw(); }, 'bits-metric')));
    if (!metric) {
      fill(el, head, controls, h('p', { class: 'muted' }, 'No run has reported a metric yet.'));
      return;
    }
    const d = bitsData(runs, xAxis, lineAxis, metric, mode);
    el.dataset.xLabels = d.labels.join('|');
    el.dataset.lines = String(d.lines.length);
    if (!d.lines.length) {
      fill(el, head, controls, h('p', { class: 'muted' }, `No run has reported ${metric} yet.`));
      return;
    }
    const plotEl = h('div', { class: 'plot' });
    const table = h('table', { class: 'grid compact bits-table' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), d.labels.map((l) => h('th', { class: 'num' }, l)))),
      h('tbody', {}, d.lines.map((l) => h('tr', {}, h('th', {}, l.label),
        l.ys.map((y, i) => h('td', { class: 'num', title: `${l.ns[i]} run(s)` }, y === null ? '—' : num(y)))))));
    fill(el, head, controls, plotEl, table,
      h('p', { class: 'muted small' }, `${metric}: mean over the runs at each point; ${mode === 'bits' ? 'formats of equal width share a point' : 'formats ordered by storage bits (an element\'s, for block formats)'}.`));
    const ordinal = mode !== 'bits';
    const width = Math.max(320, el.clientWidth - 32 || 600);
    plot = new uPlot({
      width, height: 260,
      scales: { x: { time: false, range: ordinal ? [-0.5, d.xs.length - 0.5] : undefined } },
      axes: [
        {
          label: ordinal ? xAxis.path : `${xAxis.path}: bits`,
          splits: () => d.xs,
          values: (u, splits) => splits.map((x) => (ordinal ? d.labels[x]?.replace(/ \(\d+ b\)$/, '') : String(x))),
          rotate: 0,
        },
        { label: metric, values: (u, vals) => vals.map(num), size: 70 },
      ],
      legend: { live: true },
      series: [
        { label: ordinal ? xAxis.path : 'bits', value: (u, v) => (v === null || v === undefined ? '' : ordinal ? d.labels[v] : `${v} bits`) },
        ...d.lines.map((l, i) => ({
          label: l.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: true,
          points: { show: true, size: 8, fill: PALETTE[i % PALETTE.length] },
          value: (u, v) => (v === null || v === undefined ? '—' : num(v)),
        })),
      ],
    }, [d.xs, ...d.lines.map((l) => l.ys)], plotEl);
    if (!ro && typeof ResizeObserver !== 'undefined') {
      ro = new ResizeObserver(() => {
        const w = el.clientWidth - 32;
        if (plot && w > 0 && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height: 260 });
      });
      ro.observe(el);
    }
  }

  return {
    el,
    setRuns(nextRuns, nextAxes, nextMetrics) {
      runs = nextRuns;
      axes = nextAxes;
      metrics = nextMetrics;
      draw();
    },
    destroy() { ro?.disconnect(); plot?.destroy(); },
  };
}
