// The qlab sweep report's renderer. A classic script (the report is one
// file, with no modules to import) that reads the JSON in #qlab-data and
// draws, with uPlot (inlined before it as the global `uPlot`): the results
// table, the grid of two swept parameters, accuracy against bits, the
// Pareto front of accuracy against hardware cost, the loss scale and the
// overflow/underflow/swamping rates of every run, each run's hottest layer,
// the sweep document and the software versions.
//
// The data (written by `qlab report` and by the dashboard, the same shape):
//   {generated, generator, server, sweep: SWEEP (docs/api.md), axes: {key:
//    {values, bits?}} (qc_sweep_axes), runs: [RUN with spec], series: {run
//    id: {name: {step, value}}}, layers: {run id: {layers_... name: its mean
//    over the run}}, workers: [{name, version}], versions: {...}}
(function () {
  'use strict';

  const data = JSON.parse(document.getElementById('qlab-data').textContent);
  const root = document.getElementById('report');
  const PALETTE = ['#2b5fb4', '#d9480f', '#2f9e44', '#ae3ec9', '#1098ad', '#c2255c', '#5c940d',
    '#f08c00', '#3b5bdb', '#0ca678', '#495057', '#e8590c'];
  const FIRST = ['val_acc', 'val_loss', 'train_acc', 'train_loss'];
  const LAYER_RE = /^layers_(.+)_(fwd|bwd|wgrad)_(overflow|underflow|swamping|clip)_rate$/;
  const plots = [];

  // ---- helpers ---------------------------------------------------------

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'style') Object.assign(el.style, v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  function num(v) {
    if (v === null || v === undefined || v === '') return '';
    if (typeof v !== 'number') return String(v);
    if (!Number.isFinite(v)) return String(v);
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a >= 1e6 || a < 1e-3) return Number(v.toPrecision(4)).toExponential(); // 1e-4, 1.235e-5
    if (Number.isInteger(v)) return String(v);
    return String(Number(v.toPrecision(4)));
  }

  function text(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return num(v);
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function get(obj, path) {
    let v = obj;
    for (const seg of path.split('.')) {
      if (v === null || typeof v !== 'object') return undefined;
      v = v[seg];
    }
    return v;
  }

  const same = (a, b) => a === b || JSON.stringify(a) === JSON.stringify(b);
  const collator = new Intl.Collator(undefined, { numeric: true });

  function ramp(t) {
    const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const f = x - i;
    const c = stops[i].map((a, j) => Math.round(a + (stops[i + 1][j] - a) * f));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function time(t) {
    if (!t) return '';
    const d = new Date(t * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  function select(options, value, onchange) {
    return h('select', { onchange: (e) => onchange(e.target.value) },
      options.map(([v, label]) => { const o = h('option', { value: v }, label); o.selected = v === value; return o; }));
  }

  function costFields(cost, prefix = '', out = []) {
    if (typeof cost === 'number') { out.push(['cost', cost]); return out; }
    if (!cost || typeof cost !== 'object') return out;
    for (const [k, v] of Object.entries(cost)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (typeof v === 'number' && Number.isFinite(v)) out.push([p, v]);
      else if (v && typeof v === 'object' && !Array.isArray(v)) costFields(v, p, out);
    }
    return out;
  }

  /** A uPlot in `el`, sized to it, remembered for resizing. */
  function plot(el, opts, d) {
    const width = Math.max(320, el.clientWidth || 600);
    const u = new uPlot({ width, height: opts.height || 260, ...opts }, d, el);
    plots.push([u, el]);
    return u;
  }
  window.addEventListener('resize', () => {
    for (const [u, el] of plots) if (el.isConnected && el.clientWidth > 0) u.setSize({ width: el.clientWidth, height: u.height });
  });

  // ---- the data ----------------------------------------------------------

  const sweep = data.sweep || {};
  const runs = (data.runs || []).slice().sort((a, b) => a.id - b.id);
  const axes = Object.entries(data.axes || {}).map(([key, a]) => {
    const path = key.split(',')[0].trim();
    const items = (a.values || []).map((value, i) => ({ value, bits: Array.isArray(a.bits) ? a.bits[i] : null, i,
      label: typeof value === 'string' ? value : JSON.stringify(value) }));
    const byBits = items.slice();
    if (Array.isArray(a.bits)) byBits.sort((x, y) => x.bits - y.bits || x.i - y.i);
    return { key, path, items: byBits, bits: Array.isArray(a.bits) ? a.bits : null,
      numeric: items.length > 0 && items.every((it) => typeof it.value === 'number') };
  });
  const indexOn = (axis, v) => axis.items.findIndex((it) => same(it.value, v));
  const metricSet = new Set();
  for (const r of runs) for (const k of Object.keys(r.summary || {})) if (!LAYER_RE.test(k)) metricSet.add(k);
  const metrics = [...FIRST.filter((m) => metricSet.has(m)), ...[...metricSet].filter((m) => !FIRST.includes(m)).sort()];
  const mainMetric = metrics.includes('val_acc') ? 'val_acc' : metrics[0] || null;
  // A cost's figures; the server's (docs/cost.md) offer their sums over the
  // three MAC units (LUTs first) and leave the per-group figures out.
  const SUMS = ['lut', 'gates', 'lut_calibrated', 'ff', 'dsp'];
  const allCostKeys = [...new Set(runs.flatMap((r) => costFields(r.cost).map(([k]) => k)))];
  const costKeys = allCostKeys.includes('lut')
    ? [...SUMS.filter((k) => allCostKeys.includes(k)), ...allCostKeys.filter((k) => !SUMS.includes(k) && !k.startsWith('groups.'))]
    : allCostKeys;

  // ---- sections ----------------------------------------------------------

  function header() {
    const counts = Object.entries(sweep.counts || {}).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`).join(', ');
    return [
      h('h1', {}, `${sweep.name || 'sweep'} `, h('span', { class: 'muted' }, `(sweep ${sweep.id})`)),
      h('p', { class: 'muted' }, `${sweep.method || ''} sweep of ${sweep.runs ?? runs.length} runs${counts ? ': ' + counts : ''} · created ${time(sweep.created)} · report generated ${time(data.generated)} by ${data.generator || 'qlab'}${data.server ? ' from ' + data.server : ''}`),
      axes.length ? h('p', {}, 'Varied: ', axes.map((a, i) => [i ? '; ' : '', h('code', {}, a.path), ` (${a.items.length} values${a.bits ? ', ' + Math.min(...a.bits) + '..' + Math.max(...a.bits) + ' bits' : ''})`])) : null,
    ];
  }

  function resultsTable() {
    const cols = [
      { label: 'id', get: (r) => r.id, num: true },
      { label: 'state', get: (r) => r.state, render: (v) => h('span', { class: `state state-${v}` }, v) },
      ...axes.map((a) => ({ label: a.path, get: (r) => get(r.spec, a.path) })),
      ...metrics.map((m) => ({ label: m, get: (r) => r.summary?.[m], num: true })),
      ...costKeys.map((k) => ({ label: `cost ${k}`, get: (r) => (costFields(r.cost).find(([c]) => c === k) || [])[1], num: true })),
    ];
    let sortBy = mainMetric ? cols.findIndex((c) => c.label === mainMetric) : 0;
    let dir = -1;
    const body = h('tbody');
    function fillBody() {
      const rows = runs.slice().sort((a, b) => {
        const x = cols[sortBy].get(a);
        const y = cols[sortBy].get(b);
        if (x === undefined || x === null) return 1;
        if (y === undefined || y === null) return -1;
        return (typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(text(x), text(y))) * dir;
      });
      body.replaceChildren(...rows.map((r) => h('tr', {}, cols.map((c) => {
        const v = c.get(r);
        return h('td', { class: c.num ? 'num' : '' }, c.render ? c.render(v) : text(v));
      }))));
    }
    const head = h('tr', {}, cols.map((c, i) => h('th', {
      class: c.num ? 'num' : '', title: 'sort',
      onclick: () => { dir = sortBy === i ? -dir : -1; sortBy = i; fillBody(); },
    }, c.label)));
    fillBody();
    return h('section', { class: 'card', dataset: { section: 'results' } },
      h('h2', {}, 'Results'),
      h('p', { class: 'muted small' }, `Final values (the last one each run logged); click a column to sort. ${runs.length} runs.`),
      h('div', { class: 'scroll' }, h('table', { class: 'grid results' }, h('thead', {}, head), body)));
  }

  function gridSection() {
    const sec = h('section', { class: 'card', dataset: { section: 'grid' } }, h('h2', {}, 'Grid'));
    if (!axes.length || !mainMetric) return sec.append(h('p', { class: 'muted' }, 'Nothing varies, or no metric yet.')), sec;
    const x = axes[0];
    const y = axes.find((a) => a !== x && !/seed/.test(a.path)) || axes[1] || null;
    const cells = new Map();
    for (const r of runs) {
      const v = r.summary?.[mainMetric];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      const i = indexOn(x, get(r.spec, x.path));
      const j = y ? indexOn(y, get(r.spec, y.path)) : 0;
      if (i < 0 || j < 0) continue;
      const c = cells.get(`${i},${j}`) || { s: 0, n: 0 };
      c.s += v;
      c.n += 1;
      cells.set(`${i},${j}`, c);
    }
    const means = [...cells.values()].map((c) => c.s / c.n);
    const lo = Math.min(...means);
    const hi = Math.max(...means);
    const t = (v) => (hi > lo ? (v - lo) / (hi - lo) : 1);
    const ys = y ? y.items : [{ label: '' }];
    sec.append(
      h('p', { class: 'muted small' }, `${mainMetric}, mean over the runs in each cell${y ? '' : ''}; ${x.path} across${y ? ', ' + y.path + ' down' : ''}${axes.length > (y ? 2 : 1) ? '; other parameters averaged' : ''}.`),
      h('table', { class: 'heat' },
        h('thead', {}, h('tr', {}, h('th', {}, y ? `${y.path} ↓ / ${x.path} →` : ''), x.items.map((it) => h('th', {}, it.label)))),
        h('tbody', {}, ys.map((yi, j) => h('tr', {}, h('th', {}, yi.label), x.items.map((xi, i) => {
          const c = cells.get(`${i},${j}`);
          if (!c) return h('td', { class: 'muted' }, '—');
          const m = c.s / c.n;
          return h('td', { style: { background: ramp(t(m)), color: t(m) > 0.6 ? '#111' : '#fff' }, title: `${c.n} run(s)` }, num(m));
        }))))));
    return sec;
  }

  function bitsSection() {
    const sec = h('section', { class: 'card', dataset: { section: 'bits', plot: 'uplot' } }, h('h2', {}, 'Accuracy vs bits'));
    const xs = axes.filter((a) => a.bits);
    if (!xs.length || !mainMetric) {
      sec.append(h('p', { class: 'muted' }, 'No swept parameter is a number format, so there is no bits axis.'));
      return sec;
    }
    let xKey = xs[0].key;
    let metric = mainMetric;
    const box = h('div');
    function draw() {
      const x = axes.find((a) => a.key === xKey);
      const lineAxis = axes.find((a) => a !== x && !/seed/.test(a.path)) || null;
      const lines = (lineAxis ? lineAxis.items : [{ value: null, label: `mean ${metric}` }]).map((li) => ({
        label: lineAxis ? `${lineAxis.path}=${li.label}` : li.label, s: x.items.map(() => 0), n: x.items.map(() => 0),
      }));
      for (const r of runs) {
        const v = r.summary?.[metric];
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        const i = indexOn(x, get(r.spec, x.path));
        const l = lineAxis ? indexOn(lineAxis, get(r.spec, lineAxis.path)) : 0;
        if (i < 0 || l < 0) continue;
        lines[l].s[i] += v;
        lines[l].n[i] += 1;
      }
      const shown = lines.filter((l) => l.n.some((n) => n));
      const el = h('div');
      box.replaceChildren(el, h('p', { class: 'muted small' },
        `${metric}, mean over the runs at each point${lineAxis ? ', one line per ' + lineAxis.path : ''}; ${x.path} ordered by storage bits.`));
      const labels = x.items.map((it) => `${it.label} (${it.bits} b)`);
      plot(el, {
        scales: { x: { time: false, range: [-0.5, x.items.length - 0.5] } },
        axes: [{ label: x.path, splits: () => x.items.map((_, i) => i), values: (u, sp) => sp.map((i) => labels[i] || '') },
          { label: metric, values: (u, v) => v.map(num), size: 70 }],
        series: [{ label: x.path, value: (u, v) => (v === null || v === undefined ? '' : labels[v]) },
          ...shown.map((l, k) => ({ label: l.label, stroke: PALETTE[k % PALETTE.length], width: 2, spanGaps: true,
            points: { show: true, size: 8, fill: PALETTE[k % PALETTE.length] }, value: (u, v) => (v === null ? '—' : num(v)) }))],
      }, [x.items.map((_, i) => i), ...shown.map((l) => l.s.map((s, i) => (l.n[i] ? s / l.n[i] : null)))]);
    }
    sec.append(h('div', { class: 'toolbar' },
      xs.length > 1 ? h('label', {}, 'across ', select(xs.map((a) => [a.key, a.path]), xKey, (v) => { xKey = v; draw(); })) : null,
      h('label', {}, 'metric ', select(metrics.map((m) => [m, m]), metric, (v) => { metric = v; draw(); }))), box);
    requestAnimationFrame(draw);
    return sec;
  }

  /** Indices of the points nothing beats on lower cost and higher accuracy, by cost. */
  function front(pts) {
    const idx = pts.map((_, i) => i).sort((i, j) => pts[i][0] - pts[j][0] || pts[j][1] - pts[i][1]);
    const out = [];
    let best = -Infinity;
    for (const i of idx) if (pts[i][1] > best) { out.push(i); best = pts[i][1]; }
    return out;
  }

  function paretoSection() {
    const sec = h('section', { class: 'card', dataset: { section: 'pareto', plot: 'uplot' } }, h('h2', {}, 'Accuracy vs hardware cost'));
    if (!costKeys.length || !mainMetric) {
      sec.append(h('p', { class: 'notice' }, 'No run of this sweep carries a hardware cost yet, so there is no Pareto front to draw.'));
      return sec;
    }
    let key = costKeys[0];
    let metric = mainMetric;
    const box = h('div');
    function draw() {
      const pts = [];
      for (const r of runs) {
        const c = (costFields(r.cost).find(([k]) => k === key) || [])[1];
        const v = r.summary?.[metric];
        if (Number.isFinite(c) && Number.isFinite(v)) pts.push([c, v, r]);
      }
      const f = front(pts);
      const onFront = new Set(f);
      // One x array: every point's cost, sorted; the front is a second series.
      const order = pts.map((_, i) => i).sort((i, j) => pts[i][0] - pts[j][0]);
      const xs = order.map((i) => pts[i][0]);
      const all = order.map((i) => pts[i][1]);
      const fr = order.map((i) => (onFront.has(i) ? pts[i][1] : null));
      const el = h('div');
      box.replaceChildren(el, h('p', { class: 'muted small' }, `${f.length} of ${pts.length} runs on the Pareto front: ` +
        f.map((i) => `#${pts[i][2].id} ${pts[i][2].name}`).join('; ')));
      plot(el, {
        mode: 1,
        scales: { x: { time: false } },
        axes: [{ label: `cost: ${key}`, values: (u, v) => v.map(num) }, { label: metric, values: (u, v) => v.map(num), size: 70 }],
        series: [{ label: key, value: (u, v) => num(v) },
          { label: 'runs', stroke: '#3b5bdb', paths: () => null, points: { show: true, size: 7, fill: '#91a7ff' }, value: (u, v) => num(v) },
          { label: 'Pareto front', stroke: '#e8590c', width: 2, dash: [5, 4], spanGaps: true, points: { show: true, size: 9, fill: '#e8590c' }, value: (u, v) => (v === null ? '—' : num(v)) }],
      }, [xs, all, fr]);
    }
    sec.append(h('div', { class: 'toolbar' },
      costKeys.length > 1 ? h('label', {}, 'cost ', select(costKeys.map((k) => [k, k]), key, (v) => { key = v; draw(); })) : null,
      h('label', {}, 'accuracy ', select(metrics.map((m) => [m, m]), metric, (v) => { metric = v; draw(); }))), box);
    requestAnimationFrame(draw);
    return sec;
  }

  /** One series per run of metric `name`, on one step axis. */
  function perRun(name) {
    const steps = new Set();
    const have = runs.filter((r) => data.series?.[r.id]?.[name]?.step?.length);
    for (const r of have) for (const s of data.series[r.id][name].step) steps.add(s);
    const xs = [...steps].sort((a, b) => a - b);
    const pos = new Map(xs.map((s, i) => [s, i]));
    const ys = have.map((r) => {
      const y = new Array(xs.length).fill(null);
      const s = data.series[r.id][name];
      s.step.forEach((st, k) => { y[pos.get(st)] = s.value[k]; });
      return y;
    });
    return { xs, ys, runs: have };
  }

  function runsPlot(el, name, scale) {
    const d = perRun(name);
    if (!d.runs.length) { el.replaceChildren(h('p', { class: 'muted' }, `No run logged ${name}.`)); return; }
    el.replaceChildren();
    const y = scale === 'log' ? { distr: 3 } : scale === 'asinh' ? { distr: 4, asinh: 1e-6, range: (u, lo, hi) => [0, Math.max(hi, 1e-6)] } : {};
    plot(el, {
      height: 240,
      scales: { x: { time: false }, y },
      axes: [{ label: 'step' }, { label: name, values: (u, v) => v.map((x) => (scale === 'asinh' && x < 0 ? '' : num(x))), size: 74 }],
      legend: { live: true },
      series: [{ label: 'step' }, ...d.runs.map((r, i) => ({
        label: `#${r.id}`, stroke: PALETTE[i % PALETTE.length], width: 1.3, spanGaps: true, points: { show: false },
        value: (u, v) => (v === null ? '—' : num(v)),
      }))],
    }, [d.xs, ...d.ys]);
  }

  function trainingSection() {
    const sec = h('section', { class: 'card', dataset: { section: 'training' } }, h('h2', {}, 'Loss scale and counters'),
      h('p', { class: 'muted small' }, 'Every run of the sweep, one line each (legend: run id); counter rates are events per MAC of the chosen GEMM group, on a log scale that keeps zero.'));
    const scaleEl = h('div', { dataset: { plot: 'loss_scale' } });
    let group = 'fwd';
    const counterEls = ['overflow', 'underflow', 'swamping'].map((c) => [c, h('div', { dataset: { plot: c } })]);
    function drawCounters() {
      for (const [c, el] of counterEls) runsPlot(el, `${group}_${c}_rate`, 'asinh');
    }
    sec.append(h('div', { class: 'row' },
      h('div', {}, h('h3', {}, 'Loss scale'), scaleEl),
      ...counterEls.map(([c, el]) => h('div', {}, h('h3', {}, `${c} rate`), el))));
    sec.insertBefore(h('div', { class: 'toolbar' }, h('label', {}, 'GEMM group ',
      select([['fwd', 'forward'], ['bwd', 'backward (grad-input)'], ['wgrad', 'grad-weight']], group, (v) => { group = v; drawCounters(); }))), sec.children[2]);
    requestAnimationFrame(() => { runsPlot(scaleEl, 'loss_scale', 'log'); drawCounters(); });
    return sec;
  }

  function layersSection() {
    const rows = [];
    for (const r of runs) {
      const byCounter = {};
      for (const [k, v] of Object.entries(data.layers?.[r.id] || {})) {
        const m = LAYER_RE.exec(k);
        if (!m || typeof v !== 'number') continue;
        const c = m[3];
        if (!byCounter[c] || v > byCounter[c].v) byCounter[c] = { v, where: `${m[1]} ${m[2]}` };
      }
      if (Object.keys(byCounter).length) rows.push([r, byCounter]);
    }
    const sec = h('section', { class: 'card', dataset: { section: 'layers' } }, h('h2', {}, 'Hottest layer of each run'));
    if (!rows.length) {
      sec.append(h('p', { class: 'muted' }, 'No run reported per-layer counters.'));
      return sec;
    }
    const counters = ['overflow', 'underflow', 'swamping', 'clip'].filter((c) => rows.some(([, b]) => b[c]));
    sec.append(h('p', { class: 'muted small' }, 'For each counter, the layer and GEMM group with the highest rate, averaged over the run.'),
      h('div', { class: 'scroll' }, h('table', { class: 'grid layers' },
        h('thead', {}, h('tr', {}, h('th', {}, 'run'), counters.map((c) => h('th', {}, c)))),
        h('tbody', {}, rows.map(([r, b]) => h('tr', {}, h('td', {}, `#${r.id} ${r.name}`),
          counters.map((c) => h('td', {}, b[c] && b[c].v > 0 ? `${b[c].where}: ${num(b[c].v)}` : 'none'))))))));
    return sec;
  }

  function specSection() {
    return h('section', { class: 'card', dataset: { section: 'spec' } }, h('h2', {}, 'The sweep'),
      h('pre', {}, JSON.stringify(sweep.sweep ?? null, null, 2)));
  }

  function versionsSection() {
    const v = data.versions || {};
    const rows = Object.entries(v).map(([k, x]) => [k, text(x)]);
    const workers = data.workers || [];
    return h('section', { class: 'card', dataset: { section: 'versions' } }, h('h2', {}, 'Software'),
      h('table', { class: 'grid versions' }, h('tbody', {},
        rows.map(([k, x]) => h('tr', {}, h('th', {}, k), h('td', {}, x))),
        workers.map((w) => h('tr', {}, h('th', {}, `worker ${w.name}`), h('td', {}, w.version || '?'))))));
  }

  document.title = `${sweep.name || 'sweep'} — qlab report`;
  root.replaceChildren(...header(), resultsTable(), gridSection(), h('div', { class: 'row' }, bitsSection(), paretoSection()),
    trainingSection(), layersSection(), specSection(), versionsSection());
  // The plots draw in animation frames queued above; this one runs after them.
  requestAnimationFrame(() => { root.dataset.ready = '1'; });
})();
