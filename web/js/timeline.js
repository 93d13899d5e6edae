// A run's state timeline: queued from creation, then one segment per lease
// (attempt, worker, device, how it ended), drawn to scale, with the same
// facts in a table underneath.

import { h } from './dom.js';
import { time, duration } from './fmt.js';

export function timeline(run) {
  const leases = run.leases || [];
  const start = run.created;
  const end = run.finished || Math.max(Date.now() / 1000, ...leases.map((l) => l.ended || 0));
  const span = Math.max(1e-3, end - start);
  const pos = (t) => `${(100 * (t - start)) / span}%`;
  const width = (a, b) => `${Math.max(0.5, (100 * (b - a)) / span)}%`;
  const segs = leases.map((l) => {
    const to = l.ended || (run.finished ?? Date.now() / 1000);
    const outcome = l.outcome || (l.ended ? 'ended' : run.state);
    return h('span', {
      class: `seg lease outcome-${outcome}`,
      style: { left: pos(l.started), width: width(l.started, to) },
      title: `attempt ${l.attempt} on worker ${l.worker} (${l.device}): ${time(l.started)} → ${l.ended ? time(l.ended) : 'now'}, ${outcome}`,
    }, `#${l.attempt} w${l.worker}`);
  });
  return h('section', { class: 'card timeline' },
    h('h3', {}, 'Timeline'),
    h('div', { class: 'track' }, h('span', { class: 'seg queued', style: { left: 0, width: '100%' } }), segs),
    h('div', { class: 'track-axis muted' }, h('span', {}, time(start)), h('span', {}, run.finished ? time(run.finished) : 'now')),
    h('table', { class: 'grid compact' },
      h('thead', {}, h('tr', {}, ['attempt', 'worker', 'device', 'started', 'ended', 'held', 'outcome'].map((t) => h('th', {}, t)))),
      h('tbody', {},
        h('tr', {}, h('td', {}, '—'), h('td', {}), h('td', {}), h('td', {}, time(run.created)), h('td', {}), h('td', {}), h('td', {}, 'created (queued)')),
        leases.map((l) => h('tr', {},
          h('td', { class: 'num' }, String(l.attempt)),
          h('td', {}, h('a', { href: '#/workers' }, String(l.worker))),
          h('td', {}, l.device || ''),
          h('td', {}, time(l.started)),
          h('td', {}, l.ended ? time(l.ended) : h('em', {}, 'holding')),
          h('td', {}, duration((l.ended || Date.now() / 1000) - l.started)),
          h('td', {}, l.outcome || (l.ended ? '' : run.state)))),
        run.finished ? h('tr', {}, h('td', {}, '—'), h('td', {}), h('td', {}), h('td', {}, time(run.finished)), h('td', {}), h('td', {}), h('td', {}, `finished: ${run.state}`)) : null)));
}
