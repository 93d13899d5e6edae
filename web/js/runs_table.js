// The runs table of the sweep and runs pages: the run's identity and state,
// the spec fields that vary (or any other spec field the user adds), every
// final metric from the summary, and the cost. Selected runs open in
// Compare.

import { h, fill } from './dom.js';
import { createTable } from './table.js';
import { flatten, get, varying } from './spec.js';
import { num, text } from './fmt.js';
import { costValue, costText } from './pareto.js';
import { isLayerMetric } from './metrics.js';
import { toCsv, download } from './csv.js';

export function stateBadge(state) {
  return h('span', { class: `state state-${state}` }, state);
}

// Metrics most people look for first; the rest follow alphabetically.
const FIRST_METRICS = ['val_acc', 'val_loss', 'train_acc', 'train_loss'];

function metricNames(runs) {
  const names = new Set();
  // Per-layer counters (dozens a run) have the run page's heatmap, not columns.
  for (const r of runs) for (const k of Object.keys(r.summary || {})) if (!isLayerMetric(k)) names.add(k);
  const first = FIRST_METRICS.filter((n) => names.has(n));
  return [...first, ...[...names].filter((n) => !first.includes(n)).sort()];
}

const baseColumns = () => [
  { key: 'id', label: 'id', num: true, get: (r) => r.id, render: (v) => h('a', { href: `#/runs/${v}` }, String(v)) },
  { key: 'name', label: 'name', get: (r) => r.name, render: (v, r) => h('a', { href: `#/runs/${r.id}` }, v) },
  { key: 'state', label: 'state', get: (r) => r.state, render: (v) => stateBadge(v) },
  { key: 'worker', label: 'worker', num: true, get: (r) => r.worker },
  { key: 'attempt', label: 'attempt', num: true, get: (r) => r.attempt },
];

// Shown once any run has tags; the filter box matches a tag as a substring.
const tagsColumn = {
  key: 'tags', label: 'tags', get: (r) => (r.tags && r.tags.length ? r.tags.join(' ') : undefined),
  render: (v) => (v ? v.split(' ').map((t) => h('span', { class: 'chip tag' }, t)) : ''),
};

const specColumn = (path) => ({
  key: 'spec:' + path, label: path.split('.').slice(-2).join('.'), title: path,
  get: (r) => get(r.spec, path), render: (v) => text(v),
});

const metricColumn = (name) => ({
  key: 'metric:' + name, label: name, num: true, placeholder: '>0.8', title: `summary.${name} (last value)`,
  get: (r) => (r.summary ? r.summary[name] : undefined), render: (v) => num(v),
});

const costColumn = {
  key: 'cost', label: 'LUTs', num: true,
  title: "LUTs of the run's three MAC units (forward, grad-input, grad-weight), synthesized with Yosys (docs/cost.md)",
  get: (r) => costValue(r.cost, 'lut'),
  render: (v, r) => (v === null || v === undefined
    ? h('span', { class: 'muted', title: costText(r.cost) }, r.cost && r.cost.status ? r.cost.status : '—')
    : h('span', { title: costText(r.cost) }, num(v))),
};

/**
 * runsTable({swept, csvName}) -> {el, setRuns(runs)}. `swept`: dotted paths
 * shown as columns first (a sweep's parameters); otherwise the paths that
 * vary. "Download CSV" saves the rows in view (filtered and sorted) with
 * the columns shown, values unrounded.
 */
export function runsTable({ swept = [], height, csvName = 'runs.csv' } = {}) {
  let runs = [];
  const extra = [];
  const compareLink = h('a', { class: 'button disabled', href: '#/compare' }, 'Compare selected');
  const table = createTable({
    columns: baseColumns(),
    selectable: true,
    height,
    onSelect: (sel) => {
      compareLink.href = `#/compare?runs=${[...sel].join(',')}`;
      compareLink.classList.toggle('disabled', sel.size === 0);
      compareLink.textContent = `Compare selected (${sel.size})`;
    },
  });
  const pathList = h('datalist', { id: 'spec-paths' });
  const addInput = h('input', {
    list: 'spec-paths', placeholder: 'add a spec field column, e.g. train.optimizer.lr', size: 40,
    onchange: (e) => {
      const p = e.target.value.trim();
      if (p && !extra.includes(p)) { extra.push(p); table.setColumns(columns()); }
      e.target.value = '';
    },
  });
  const csvButton = h('button', {
    type: 'button', class: 'ghost csv',
    onclick: () => download(csvName, toCsv(table.columns().map((c) => ({ label: c.title && c.key.startsWith('spec:') ? c.title : c.label, get: c.get })), table.view())),
  }, 'Download CSV');
  const el = h('div', { class: 'runs-table' },
    h('div', { class: 'toolbar' }, addInput, pathList, h('span', { class: 'spacer' }), csvButton, compareLink),
    table.el);

  function columns() {
    const specs = runs.map((r) => r.spec).filter(Boolean);
    const paths = [...swept, ...varying(specs).filter((p) => !swept.includes(p)).slice(0, 8)];
    for (const p of extra) if (!paths.includes(p)) paths.push(p);
    const tags = runs.some((r) => r.tags && r.tags.length) ? [tagsColumn] : [];
    return [...baseColumns(), ...tags, ...paths.map(specColumn), ...metricNames(runs).map(metricColumn), costColumn];
  }

  return {
    el,
    table,
    setRuns(next) {
      runs = next;
      const cols = columns();
      const keys = cols.map((c) => c.key).join();
      if (keys !== table.columns().map((c) => c.key).join()) table.setColumns(cols);
      table.setRows(runs);
      const any = runs.find((r) => r.spec);
      if (any && !pathList.childElementCount) {
        fill(pathList, [...flatten(any.spec).keys()].map((p) => h('option', { value: p })));
      }
    },
  };
}
