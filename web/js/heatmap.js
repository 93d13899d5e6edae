// The grid view of a sweep: one swept parameter across, another down, a
// final metric in each cell as a colour and a number (mean over the runs
// sharing both values, e.g. over the seeds).

import { h, fill } from './dom.js';
import { gridOf, ramp } from './grid.js';
import { get } from './spec.js';
import { num, text } from './fmt.js';

const NONE = '';

function select(options, value, onchange, name) {
  return h('select', { name, onchange: (e) => onchange(e.target.value) },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

/** heatmap() -> {el, setRuns(runs, paths, metrics, order)} */
export function heatmap() {
  const el = h('section', { class: 'card heatmap' });
  let runs = [];
  let paths = [];
  let metrics = [];
  let x = null;
  let y = null;
  let metric = null;
  let orderOf = () => null;

  function draw() {
    if (paths.length === 0) {
      fill(el, h('h3', {}, 'Grid'), h('p', { class: 'muted' }, 'No spec field varies across these runs.'));
      return;
    }
    if (!paths.includes(x)) x = paths[0];
    if (y !== NONE && !paths.includes(y)) y = paths.find((p) => p !== x) ?? NONE;
    if (!metrics.includes(metric)) metric = metrics.includes('val_acc') ? 'val_acc' : metrics[0] || null;
    const opts = paths.map((p) => [p, p]);
    const controls = h('div', { class: 'toolbar' },
      h('label', {}, 'across ', select(opts, x, (v) => { x = v; draw(); }, 'grid-x')),
      h('label', {}, 'down ', select([[NONE, '(nothing)'], ...opts], y, (v) => { y = v; draw(); }, 'grid-y')),
      h('label', {}, 'metric ', select(metrics.map((m) => [m, m]), metric, (v) => { metric = v; draw(); }, 'grid-metric')));
    if (!metric) {
      fill(el, h('h3', {}, 'Grid'), controls, h('p', { class: 'muted' }, 'No run has reported a metric yet.'));
      return;
    }
    const g = gridOf(runs, (r) => get(r.spec, x), (r) => (y === NONE ? '' : get(r.spec, y)),
      (r) => r.summary?.[metric], orderOf(x), y === NONE ? null : orderOf(y));
    const vals = g.cells.flat().filter(Boolean).map((c) => c.mean);
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    const t = (v) => (hi > lo ? (v - lo) / (hi - lo) : 1);
    const table = h('table', { class: 'heat' },
      h('thead', {}, h('tr', {}, h('th', { class: 'corner' }, y === NONE ? '' : `${y} ↓ / ${x} →`),
        g.xs.map((xv) => h('th', {}, text(xv))))),
      h('tbody', {}, g.ys.map((yv, i) => h('tr', {}, h('th', {}, text(yv)),
        g.cells[i].map((c) => (c
          ? h('td', {
            style: { background: ramp(t(c.mean)), color: t(c.mean) > 0.6 ? '#111' : '#fff' },
            title: `${metric}: mean ${num(c.mean)} over ${c.n} run(s), min ${num(c.min)}, max ${num(c.max)}`,
          }, num(c.mean), c.n > 1 ? h('small', {}, ` n=${c.n}`) : null)
          : h('td', { class: 'muted' }, '—')))))));
    fill(el, h('h3', {}, 'Grid'), controls,
      vals.length ? table : h('p', { class: 'muted' }, `No run has reported ${metric} yet.`),
      vals.length ? h('p', { class: 'muted legend' }, `colour: ${metric} from ${num(lo)} (dark) to ${num(hi)} (bright)`) : null);
  }

  return {
    el,
    /** `order(path)`: the values of a swept path in axis order, or null. */
    setRuns(next, nextPaths, nextMetrics, order) {
      runs = next;
      if (order) orderOf = order;
      paths = nextPaths;
      metrics = nextMetrics;
      draw();
    },
  };
}
