// A sortable, filterable, virtualized table. Only the rows in view (plus a
// margin) are in the DOM, so 1 000 or 10 000 runs scroll and sort without
// freezing; cell values are read once per setRows, so sorting compares
// plain values instead of walking specs.

import { h, fill, debounce } from './dom.js';
import { compile, compare } from './filter.js';
import { text } from './fmt.js';

const ROW_H = 30;     // px; fixed so the scroll position maps to a row index
const OVERSCAN = 10;  // rows rendered beyond each edge of the viewport

/**
 * createTable({columns, rowKey, selectable, onSelect, height}) ->
 *   {el, setRows(rows), setColumns(cols), selected(): Set, view(): rows}
 * A column is {key, label, get(row), render?(value, row) -> Node|string,
 * title?, num?, placeholder?}.
 */
export function createTable({ columns, rowKey = (r) => r.id, selectable = false, onSelect, height = 560 }) {
  let cols = columns;
  let rows = [];
  let values = [];          // values[c][r]: cell values, read once per setRows
  let order = [];           // indices into rows, filtered and sorted
  let sort = { key: null, dir: 1 };
  const filters = new Map();
  const selected = new Set();

  const count = h('span', { class: 'muted table-count' });
  const thead = h('thead');
  const tbody = h('tbody');
  const table = h('table', { class: 'grid' }, thead, tbody);
  const scroller = h('div', { class: 'table-scroll', style: { maxHeight: height + 'px' } }, table);
  const el = h('div', { class: 'vtable' }, scroller, h('div', { class: 'table-foot' }, count));
  let frame = 0;
  scroller.addEventListener('scroll', () => {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; renderBody(); });
  });

  function readValues() {
    values = cols.map((c) => rows.map((r) => c.get(r)));
  }

  function recompute() {
    const preds = cols.map((c) => compile(filters.get(c.key)));
    const active = preds.map((p, ci) => [p, ci]).filter(([p]) => p);
    order = [];
    for (let r = 0; r < rows.length; r++) {
      if (active.every(([p, ci]) => p(values[ci][r]))) order.push(r);
    }
    const ci = cols.findIndex((c) => c.key === sort.key);
    if (ci >= 0) {
      const v = values[ci];
      order.sort((a, b) => compare(v[a], v[b], sort.dir) || a - b);
    }
    count.textContent = order.length === rows.length
      ? `${rows.length} rows` : `${order.length} of ${rows.length} rows`;
    el.dataset.rows = String(order.length);
    renderBody();
  }

  const refilter = debounce(recompute, 120);

  function renderHead() {
    const sortRow = h('tr', {},
      selectable && h('th', { class: 'sel' }, h('input', {
        type: 'checkbox', title: 'select all shown',
        onchange: (e) => {
          for (const r of order) {
            const k = rowKey(rows[r]);
            if (e.target.checked) selected.add(k); else selected.delete(k);
          }
          renderBody();
          onSelect?.(selected);
        },
      })),
      cols.map((c) => h('th', {
        class: 'sortable' + (c.num ? ' num' : ''),
        title: c.title || c.key,
        dataset: { key: c.key, sort: sort.key === c.key ? (sort.dir > 0 ? 'asc' : 'desc') : '' },
        onclick: () => {
          sort = sort.key === c.key ? { key: c.key, dir: -sort.dir } : { key: c.key, dir: 1 };
          renderHead();
          recompute();
        },
      }, c.label)));
    const filterRow = h('tr', { class: 'filters' },
      selectable && h('th', { class: 'sel' }),
      cols.map((c) => h('th', {}, h('input', {
        type: 'search', placeholder: c.placeholder || 'filter', value: filters.get(c.key) || '',
        dataset: { filter: c.key },
        title: 'text, =exact, !=x, >n, >=n, <n, <=n, a..b, empty',
        oninput: (e) => { filters.set(c.key, e.target.value); refilter(); },
      }))));
    fill(thead, sortRow, filterRow);
  }

  function renderBody() {
    const ncols = cols.length + (selectable ? 1 : 0);
    const top = scroller.scrollTop;
    const view = scroller.clientHeight || height;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(order.length, Math.ceil((top + view) / ROW_H) + OVERSCAN);
    const spacer = (n) => h('tr', { class: 'spacer', style: { height: n * ROW_H + 'px' } },
      h('td', { colspan: ncols }));
    const trs = [];
    if (first > 0) trs.push(spacer(first));
    for (let i = first; i < last; i++) {
      const r = order[i];
      const row = rows[r];
      const k = rowKey(row);
      trs.push(h('tr', { dataset: { key: k }, style: { height: ROW_H + 'px' } },
        selectable && h('td', { class: 'sel' }, h('input', {
          type: 'checkbox', checked: selected.has(k),
          onchange: (e) => {
            if (e.target.checked) selected.add(k); else selected.delete(k);
            onSelect?.(selected);
          },
        })),
        cols.map((c, ci) => {
          const v = values[ci][r];
          return h('td', { class: c.num ? 'num' : '' }, c.render ? c.render(v, row) : text(v));
        })));
    }
    if (last < order.length) trs.push(spacer(order.length - last));
    if (order.length === 0) {
      trs.push(h('tr', {}, h('td', { colspan: ncols, class: 'muted empty' },
        rows.length ? 'no row matches the filters' : 'no rows')));
    }
    fill(tbody, trs);
  }

  renderHead();
  return {
    el,
    setRows(next) { rows = next; readValues(); recompute(); },
    setColumns(next) {
      cols = next;
      for (const k of [...filters.keys()]) if (!cols.some((c) => c.key === k)) filters.delete(k);
      readValues();
      renderHead();
      recompute();
    },
    columns: () => cols,
    selected: () => selected,
    view: () => order.map((r) => rows[r]),
  };
}
