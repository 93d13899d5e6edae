// The dashboard's "HTML report" button: the same self-contained page as
// `qlab report SWEEP -o report.html`, built here from the same template
// (web/report/report.html), renderer (report.js) and inlined uPlot, with
// the data read through the API, and offered as a download.

import { api, listAll } from './api.js';
import { download } from './csv.js';

// The metric series a report plots (docs/dashboard.md), downsampled.
export const REPORT_SERIES = ['loss_scale', 'train_loss', 'val_acc',
  ...['fwd', 'bwd', 'wgrad'].flatMap((g) => ['overflow', 'underflow', 'swamping'].map((c) => `${g}_${c}_rate`))];
export const REPORT_POINTS = 300;

async function text(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} (is web/vendor/ installed? make deps)`);
  return res.text();
}

/**
 * Fills the template's markers. Inserted text is taken as is (never read
 * as a replacement pattern), and "<" in the JSON is escaped so no string
 * can close the script element it sits in.
 */
export function fillTemplate(template, { title, css, uplot, script, data }) {
  const parts = {
    '<!--QLAB:TITLE-->': title.replace(/&/g, '&amp;').replace(/</g, '&lt;'),
    '/*QLAB:UPLOT_CSS*/': css,
    '/*QLAB:UPLOT_JS*/': uplot,
    '/*QLAB:DATA*/': JSON.stringify(data).replace(/</g, '\\u003c'),
    '/*QLAB:REPORT_JS*/': script,
  };
  let out = template;
  for (const [marker, value] of Object.entries(parts)) {
    const i = out.indexOf(marker);
    if (i < 0) throw new Error(`report template: no ${marker}`);
    out = out.slice(0, i) + value + out.slice(i + marker.length);
  }
  return out;
}

/** Axes as the server's qc_sweep_axes gives them, or read off the runs. */
function axesOf(sweep, runs) {
  if (sweep.axes) return sweep.axes;
  const out = {};
  for (const key of Object.keys(sweep.sweep?.parameters || {})) {
    const path = key.split(',')[0].trim();
    const values = [];
    for (const r of [...runs].sort((a, b) => a.id - b.id)) {
      let v = r.spec;
      for (const seg of path.split('.')) v = v && typeof v === 'object' ? v[seg] : undefined;
      if (v !== undefined && !values.some((x) => JSON.stringify(x) === JSON.stringify(v))) values.push(v);
    }
    out[key] = { values };
  }
  return out;
}

async function withBits(axes) {
  for (const a of Object.values(axes)) {
    if (a.bits || !a.values.length || !a.values.every((v) => typeof v === 'string')) continue;
    const bits = await Promise.all(a.values.map((f) => api('/formats/validate', { method: 'POST', body: { format: f } })
      .then((x) => x.bits).catch(() => null)));
    if (bits.every((b) => typeof b === 'number')) a.bits = bits;
  }
  return axes;
}

/** Builds sweep `id`'s report and offers it as sweep-ID-report.html. */
export async function downloadReport(id) {
  const [template, script, uplot, css, versions] = await Promise.all([
    text('report/report.html'), text('report/report.js'), text('vendor/uPlot.iife.min.js'),
    text('vendor/uPlot.min.css'), text('vendor/versions.json').then(JSON.parse).catch(() => ({})),
  ]);
  const sweep = (await api(`/sweeps/${id}`)).sweep;
  const runs = await listAll('/runs', 'runs', { sweep: id, spec: 1 });
  const series = {};
  const layers = {};
  for (const r of runs) {
    const m = await api(`/runs/${r.id}/metrics`, { query: { max_points: REPORT_POINTS } });
    // Steps and values only (the report plots against steps), and each
    // per-layer counter's mean over the run.
    series[r.id] = {};
    layers[r.id] = {};
    for (const [n, s] of Object.entries(m.series || {})) {
      if (REPORT_SERIES.includes(n)) series[r.id][n] = { step: s.step, value: s.value };
      else if (n.startsWith('layers_')) {
        const v = s.value.filter((x) => typeof x === 'number');
        if (v.length) layers[r.id][n] = v.reduce((a, b) => a + b, 0) / v.length;
      }
    }
  }
  const workers = (await api('/workers')).workers.map((w) => ({ name: w.name, version: w.version }));
  const data = {
    generated: Date.now() / 1000,
    generator: 'the qlab dashboard',
    server: location.origin,
    sweep,
    axes: await withBits(axesOf(sweep, runs)),
    runs,
    series,
    layers,
    workers,
    versions: { uPlot: versions.uplot || '?', browser: navigator.userAgent },
  };
  const html = fillTemplate(template, { title: `${sweep.name} — qlab report`, css, uplot, script, data });
  download(`sweep-${id}-report.html`, html, 'text/html');
}
