// Parallel coordinates over a sweep: one vertical axis per swept parameter
// (format axes ordered by bits, numbers to scale, anything else in the
// sweep's order) and a last one for the chosen final metric; each run is a
// line through its values, coloured by the metric, so the parameter
// combinations that train well stand out as one bright bundle. Lines link
// to their runs. SVG: a sweep has at most thousands of lines.

import { h, fill } from './dom.js';
import { num } from './fmt.js';
import { get } from './spec.js';
import { ordered, indexOn } from './axes.js';
import { ramp } from './grid.js';

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of kids) if (c) el.append(c);
  return el;
}

/**
 * Each axis as a function from a run to [0, 1] (bottom to top) and its
 * tick labels: [{label, pos(run) -> t|null, ticks: [{t, text}]}].
 */
export function coordAxes(axes, metric, runs) {
  const out = axes.map((a) => {
    if (a.numeric && !a.bits) {
      const lo = Math.min(...a.values);
      const hi = Math.max(...a.values);
      const t = (v) => (typeof v === 'number' ? (hi > lo ? (v - lo) / (hi - lo) : 0.5) : null);
      return { label: a.path, pos: (r) => t(get(r.spec, a.path)), ticks: [...new Set(a.values)].map((v) => ({ t: t(v), text: num(v) })) };
    }
    const items = ordered(a);
    const t = (i) => (items.length > 1 ? i / (items.length - 1) : 0.5);
    return {
      label: a.path,
      pos: (r) => { const i = indexOn(items, get(r.spec, a.path)); return i < 0 ? null : t(i); },
      ticks: items.map((it, i) => ({ t: t(i), text: it.label })),
    };
  });
  const vals = runs.map((r) => r.summary?.[metric]).filter((v) => typeof v === 'number' && Number.isFinite(v));
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const t = (v) => (typeof v === 'number' && Number.isFinite(v) ? (hi > lo ? (v - lo) / (hi - lo) : 0.5) : null);
  out.push({
    label: metric, metric: true, pos: (r) => t(r.summary?.[metric]),
    ticks: vals.length ? [{ t: 0, text: num(lo) }, { t: 0.5, text: num((lo + hi) / 2) }, { t: 1, text: num(hi) }] : [],
  });
  return out;
}

/** parCoords() -> {el, setRuns(runs, axes, metrics)} */
export function parCoords() {
  const el = h('section', { class: 'card parcoords', dataset: { chart: 'Parallel coordinates' } });
  let runs = [];
  let axes = [];
  let metrics = [];
  let metric = null;

  function draw() {
    const head = h('h3', {}, 'Parallel coordinates');
    if (!metrics.includes(metric)) metric = metrics.includes('val_acc') ? 'val_acc' : metrics[0] || null;
    if (!axes.length || !metric) {
      fill(el, head, h('p', { class: 'muted' }, !axes.length ? 'This sweep varies no parameter.' : 'No run has reported a metric yet.'));
      return;
    }
    const controls = h('div', { class: 'toolbar' }, h('label', {}, 'colour and last axis ',
      h('select', { name: 'pc-metric', onchange: (e) => { metric = e.target.value; draw(); } },
        metrics.map((m) => h('option', { value: m, selected: m === metric }, m)))));
    const cols = coordAxes(axes, metric, runs);
    const W = Math.max(640, 200 * cols.length);
    const H = 300;
    const T = 34;
    const B = 16;
    const L = 20;
    const R = 70;
    const x = (i) => L + (cols.length > 1 ? (i * (W - L - R)) / (cols.length - 1) : (W - L - R) / 2);
    const y = (t) => T + (1 - t) * (H - T - B);
    const metricCol = cols[cols.length - 1];
    const shown = runs.filter((r) => metricCol.pos(r) !== null);
    // Worst first, so the best lines are drawn on top.
    shown.sort((a, b) => metricCol.pos(a) - metricCol.pos(b));
    const lines = shown.map((r) => {
      const pts = cols.map((c, i) => [x(i), c.pos(r)]).filter(([, t]) => t !== null).map(([px, t]) => `${px.toFixed(1)},${y(t).toFixed(1)}`);
      const m = metricCol.pos(r);
      return s('a', { href: `#/runs/${r.id}` },
        s('polyline', { points: pts.join(' '), class: 'pc-line', stroke: ramp(m), 'data-run': r.id },
          s('title', {}, `#${r.id} ${r.name}\n${metric} ${num(r.summary[metric])}`)));
    });
    const axesEls = cols.map((c, i) => s('g', { class: 'pc-axis' },
      s('line', { x1: x(i), x2: x(i), y1: T, y2: H - B }),
      s('text', {
        x: x(i), y: 14, class: 'pc-label',
        // The outer labels grow inward, so none is cut at the edges.
        'text-anchor': cols.length > 1 && i === 0 ? 'start' : i === cols.length - 1 && cols.length > 1 ? 'end' : 'middle',
      }, c.label),
      ...c.ticks.map((tk) => s('text', { x: x(i) + 5, y: y(tk.t) + 4, class: 'pc-tick' }, tk.text))));
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'pc-plot', role: 'img', style: `max-width: ${W}px` }, ...lines, ...axesEls);
    el.dataset.axes = cols.map((c) => c.label).join(',');
    el.dataset.lines = String(lines.length);
    fill(el, head, controls, svg, h('p', { class: 'muted small' },
      `${lines.length} runs with ${metric}; colour from ${metricCol.ticks[0]?.text ?? ''} (dark) to ${metricCol.ticks[2]?.text ?? ''} (bright). A line links to its run.`));
  }

  return {
    el,
    setRuns(nextRuns, nextAxes, nextMetrics) { runs = nextRuns; axes = nextAxes; metrics = nextMetrics; draw(); },
  };
}
