// Run detail: what the run is (spec), where it ran (timeline of leases),
// how it is training (live charts) and what went wrong (error). Charts
// follow the run's event stream; the header and timeline re-read the run
// when its state changes.

import { api } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { time, duration, num } from '../fmt.js';
import { lineChart } from '../chart.js';
import { GROUPS, groupOf, pointCount } from '../metrics.js';
import { liveMetrics } from '../live_metrics.js';
import { timeline } from '../timeline.js';
import { stateBadge } from '../runs_table.js';
import { subscribe } from '../sse.js';

const FINISHED = new Set(['succeeded', 'failed', 'canceled']);

export async function render(root, [idText], ctx) {
  const id = Number(idText);
  let run = (await api(`/runs/${id}`)).run;
  if (!ctx.alive) return;

  const head = h('div');
  const facts = h('div');
  const tl = h('div');
  const summary = h('div');
  const chartInfo = h('p', { class: 'muted chart-info' });
  const charts = GROUPS.map((g) => ({ g, c: lineChart({ title: g.title, log: g.log }) }));
  ctx.onCleanup(() => charts.forEach(({ c }) => c.destroy()));

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
      ['running for', dur === null ? '—' : duration(dur)],
      ['lease deadline', time(run.lease_deadline) || '—'],
      ['cost', run.cost === null || run.cost === undefined ? 'no cost model yet' : JSON.stringify(run.cost)],
    ];
    fill(facts, h('dl', { class: 'facts card' }, kv.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
    fill(tl, timeline(run));
    const names = Object.keys(run.summary || {}).sort();
    fill(summary, h('section', { class: 'card' }, h('h3', {}, 'Last values'),
      names.length ? h('table', { class: 'grid compact summary' }, h('tbody', {},
        names.map((n) => h('tr', {}, h('th', {}, n), h('td', { class: 'num' }, num(run.summary[n]))))))
        : h('p', { class: 'muted' }, 'No metric posted yet.')));
  }

  async function act(what) {
    try {
      await api(`/runs/${id}/${what}`, { method: 'POST' });
      if (ctx.alive) reread();
    } catch (e) { ctx.error(e); }
  }

  const live = liveMetrics(id, (st) => {
    if (!ctx.alive) return;
    for (const { g, c } of charts) {
      const sub = {};
      for (const [n, s] of Object.entries(st.series)) if (groupOf(n) === g.id) sub[n] = s;
      c.update(sub);
    }
    chartInfo.textContent = `${pointCount(st.series)} points shown` +
      (st.lastStep !== null ? `, last step ${st.lastStep}` : '') +
      (st.downsampled ? ' (downsampled by the server: each bucket keeps its min and max)' : '');
  }, ctx.error);

  const reread = throttle(async () => {
    if (!ctx.alive) return;
    try {
      const r = (await api(`/runs/${id}`)).run;
      if (ctx.alive) { run = r; drawRun(); }
    } catch (e) { ctx.error(e); }
  }, 1000);

  fill(root, head, h('div', { class: 'run-top' }, facts, summary),
    h('h2', {}, 'Metrics'), chartInfo,
    h('div', { class: 'charts' }, charts.map(({ c }) => c.el)),
    tl,
    h('details', { class: 'card', open: true }, h('summary', {}, 'Spec'), h('pre', { class: 'json spec' }, JSON.stringify(run.spec, null, 2))));
  drawRun();
  // Subscribe before the first read, so points posted while it is in flight
  // are read right after it instead of being missed.
  ctx.onCleanup(subscribe(`/runs/${id}/events`, {
    run: () => reread(),
    metrics: () => { live.poke(); reread(); },
  }));
  await live.load();
  if (!ctx.alive) return;
  // Durations and "holding" leases age even without events.
  const tick = setInterval(() => { if (!FINISHED.has(run.state)) drawRun(); }, 10000);
  ctx.onCleanup(() => clearInterval(tick));
}
