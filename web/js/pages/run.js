// Run detail: what the run is (spec), where it ran (timeline of leases),
// how far it is (step N of M, epoch, images/s, ETA), how it is training
// (one live chart per metric family, against steps or wall-clock time),
// which layer's arithmetic misbehaves (the per-layer counter heatmap) and
// what went wrong (error), and its tags and note (editable). Charts follow the run's event stream; the
// header and timeline re-read the run when its state changes.

import { api } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { time, duration, num } from '../fmt.js';
import { lineChart } from '../chart.js';
import { GROUPS, groupOf, pointCount, isLayerMetric, progressOf } from '../metrics.js';
import { liveMetrics } from '../live_metrics.js';
import { layerHeatmap } from '../layer_heatmap.js';
import { timeline } from '../timeline.js';
import { stateBadge } from '../runs_table.js';
import { subscribe } from '../sse.js';
import { organizer } from '../organize.js';
import { costText } from '../pareto.js';

const FINISHED = new Set(['succeeded', 'failed', 'canceled']);
const X_KEY = 'qlab.run.x';

function clock(t) {
  const d = new Date(t * 1000);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** The progress card: a bar and "step N of M · epoch E of F · R images/s · ETA". */
function progressCard(run, p) {
  const frac = p.step !== null && p.total ? Math.min(1, p.step / p.total) : null;
  const parts = [];
  if (p.step !== null) parts.push(p.total ? `step ${p.step} of ${p.total}` : `step ${p.step}`);
  else parts.push(run.state === 'queued' || run.state === 'leased' ? 'not started' : 'no step logged yet');
  if (p.epoch !== null) parts.push(p.epochs ? `epoch ${p.epoch + 1} of ${p.epochs}` : `epoch ${p.epoch + 1}`);
  if (p.imagesPerS) parts.push(`${num(Math.round(p.imagesPerS))} images/s`);
  let eta = null;
  if (p.etaS !== null) eta = `ETA ${duration(p.etaS)} (about ${clock(Date.now() / 1000 + p.etaS)})`;
  else if (p.done) eta = run.state === 'succeeded' ? 'finished' : `${run.state}`;
  else if (run.state === 'running') eta = 'ETA: measuring';
  return h('section', {
    class: 'card run-progress',
    dataset: { step: p.step ?? '', total: p.total ?? '', eta: p.etaS === null ? '' : String(Math.round(p.etaS)) },
  },
  h('div', { class: 'progress' },
    h('div', { class: 'bar' }, frac === null ? null : h('span', { class: `seg state-${run.state}`, style: { width: `${100 * frac}%` } })),
    h('span', { class: 'counts' }, frac === null ? '' : `${(100 * frac).toFixed(1)}%`)),
  h('p', { class: 'progress-text' }, parts.join(' · '), eta ? h('strong', {}, ` · ${eta}`) : null));
}

export async function render(root, [idText], ctx) {
  const id = Number(idText);
  let run = (await api(`/runs/${id}`)).run;
  if (!ctx.alive) return;

  let xMode = localStorage.getItem(X_KEY) === 'time' ? 'time' : 'step';
  let lastState = null;
  const head = h('div');
  const facts = h('div');
  const progress = h('div');
  const tl = h('div');
  const summary = h('div');
  const chartInfo = h('p', { class: 'muted chart-info' });
  const charts = GROUPS.map((g) => ({ g, c: lineChart({ title: g.title, scale: g.scale }) }));
  const heat = layerHeatmap();
  const org = organizer({
    kind: 'runs', id, obj: run,
    onSaved: (r) => { run = r; drawRun(); },
    onDeleted: () => { location.hash = '#/runs'; },
  });
  ctx.onCleanup(() => { charts.forEach(({ c }) => c.destroy()); heat.destroy(); });

  function drawRun() {
    const actions = [];
    if (!FINISHED.has(run.state)) actions.push(h('button', { class: 'ghost danger', onclick: () => act('cancel') }, 'Cancel'));
    if (run.state === 'failed' || run.state === 'canceled') actions.push(h('button', { class: 'ghost', onclick: () => act('retry') }, 'Retry'));
    fill(head,
      h('div', { class: 'page-head' }, h('h1', {}, run.name), stateBadge(run.state),
        run.cancel_requested ? h('span', { class: 'chip' }, 'cancel requested') : null,
        run.stop_requested ? h('span', { class: 'chip' }, 'stop requested') : null,
        h('span', { class: 'spacer' }),
        h('a', { class: 'button ghost', href: `#/compare?runs=${id}` }, 'Compare'),
        h('a', { class: 'button ghost', href: `#/submit?run=${id}` }, 'Edit as new'),
        actions),
      run.error ? h('div', { class: 'card error-box', role: 'alert' }, h('strong', {}, `${run.state}: `), run.error) : null);
    const dur = run.started ? (run.finished || Date.now() / 1000) - run.started : null;
    const kv = [
      ['run', String(run.id)],
      ['sweep', run.sweep ? h('a', { href: `#/sweeps/${run.sweep}` }, `sweep ${run.sweep}`) : 'none (single experiment)'],
      ['worker', run.worker ? h('a', { href: '#/workers' }, `worker ${run.worker}`) : '—'],
      ['device', run.device || '—'],
      ['attempt', `${run.attempt} of ${run.max_attempts}`],
      ['priority', String(run.priority)],
      ['created', time(run.created)],
      ['started', time(run.started) || '—'],
      ['finished', time(run.finished) || '—'],
      [FINISHED.has(run.state) ? 'ran for' : 'running for', dur === null ? '—' : duration(dur)],
      ['lease deadline', time(run.lease_deadline) || '—'],
      ['cost', costText(run.cost)],
    ];
    // An FPGA run: its board (the spec's, or the one the worker leased it
    // to) and the estimated time on it (docs/fpga.md).
    const sum = run.summary || {};
    const board = (run.spec && run.spec.device && run.spec.device.board) || sum.board;
    if (board || (run.spec && run.spec.device && run.spec.device.kind === 'fpga')) {
      kv.push(['board', `${board || 'any fpga board'}${sum.board_emulated ? ' (emulated)' : ''}`]);
      const per = sum.epoch_board_time_s;
      const epochs = run.spec && run.spec.train ? run.spec.train.epochs : null;
      kv.push(['on-board time', typeof per === 'number'
        ? `${num(per)} s per epoch${epochs ? `, ${num(per * epochs)} s for ${epochs}` : ''} (estimated)`
        : 'after the first epoch']);
    }
    fill(facts, h('dl', { class: 'facts card' }, kv.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
    fill(tl, timeline(run));
    org.update(run);
    // The summary leaves the per-layer counters out (they are series).
    const names = Object.keys(run.summary || {})
      .filter((n) => !isLayerMetric(n) && typeof run.summary[n] === 'number').sort();
    const layers = Object.keys(live.state.series).filter(isLayerMetric).length;
    fill(summary, h('section', { class: 'card' }, h('h3', {}, 'Last values'),
      names.length ? h('table', { class: 'grid compact summary' }, h('tbody', {},
        names.map((n) => h('tr', {}, h('th', {}, n), h('td', { class: 'num' }, num(run.summary[n]))))))
        : h('p', { class: 'muted' }, 'No metric posted yet.'),
      layers ? h('p', { class: 'muted small' }, `and ${layers} per-layer counters (see the heatmap below)`) : null));
    drawProgress();
  }

  function drawProgress() {
    fill(progress, progressCard(run, progressOf(run, live.state.series)));
  }

  async function act(what) {
    try {
      await api(`/runs/${id}/${what}`, { method: 'POST' });
      if (ctx.alive) reread();
    } catch (e) { ctx.error(e); }
  }

  function drawCharts(st) {
    for (const { g, c } of charts) {
      const sub = {};
      for (const [n, s] of Object.entries(st.series)) if (groupOf(n) === g.id) sub[n] = s;
      c.update(sub, { x: xMode });
      // A family this run never reports takes no room.
      c.el.hidden = Object.keys(sub).length === 0 && !['loss', 'acc'].includes(g.id);
    }
    heat.update(st.series);
    chartInfo.textContent = `${pointCount(st.series)} points shown` +
      (st.lastStep !== null ? `, last step ${st.lastStep}` : '') +
      (st.downsampled ? ' (downsampled by the server: each bucket keeps its min and max)' : '');
  }

  const live = liveMetrics(id, (st) => {
    if (!ctx.alive) return;
    drawCharts(st);
    drawRun(); // progress, and the count of per-layer series
  }, ctx.error);

  const reread = throttle(async () => {
    if (!ctx.alive) return;
    try {
      const r = (await api(`/runs/${id}`)).run;
      if (!ctx.alive) return;
      run = r;
      drawRun();
      // The last points of a finished run may arrive with its final state.
      if (FINISHED.has(r.state) && lastState !== r.state) live.poke();
      lastState = r.state;
    } catch (e) { ctx.error(e); }
  }, 1000);

  const xToggle = h('div', { class: 'toolbar x-toggle', role: 'group' }, 'x axis: ',
    ['step', 'time'].map((m) => h('button', {
      type: 'button', class: 'ghost' + (m === xMode ? ' active' : ''), dataset: { x: m },
      onclick: (e) => {
        xMode = m;
        localStorage.setItem(X_KEY, m);
        for (const b of xToggle.querySelectorAll('button')) b.classList.toggle('active', b === e.currentTarget);
        drawCharts(live.state);
      },
    }, m === 'step' ? 'step' : 'wall-clock time')));

  fill(root, head, progress, h('div', { class: 'run-top' }, facts, summary), org.el,
    h('div', { class: 'page-head metrics-head' }, h('h2', {}, 'Metrics'), h('span', { class: 'spacer' }), xToggle),
    chartInfo,
    h('div', { class: 'charts' }, charts.map(({ c }) => c.el)),
    heat.el,
    tl,
    h('details', { class: 'card', open: true }, h('summary', {}, 'Spec'), h('pre', { class: 'json spec' }, JSON.stringify(run.spec, null, 2))));
  lastState = run.state;
  drawRun();
  // Subscribe before the first read, so points posted while it is in flight
  // are read right after it instead of being missed.
  ctx.onCleanup(subscribe(`/runs/${id}/events`, {
    run: () => reread(),
    metrics: () => { live.poke(); reread(); },
  }));
  await live.load();
  if (!ctx.alive) return;
  // Durations, "holding" leases and the ETA age even without events.
  const tick = setInterval(() => { if (!FINISHED.has(run.state)) drawRun(); }, 10000);
  ctx.onCleanup(() => clearInterval(tick));
}
