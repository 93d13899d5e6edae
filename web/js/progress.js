// A sweep's progress as one bar stacked by run state, with the counts in
// text beside it (colour alone is not enough to read the numbers).

import { h } from './dom.js';

export const STATES = ['succeeded', 'running', 'leased', 'queued', 'failed', 'canceled'];

export function progressBar(counts = {}, total) {
  const n = total ?? STATES.reduce((s, k) => s + (counts[k] || 0), 0);
  const done = (counts.succeeded || 0) + (counts.failed || 0) + (counts.canceled || 0);
  return h('div', { class: 'progress' },
    h('div', { class: 'bar', title: STATES.map((s) => `${s}: ${counts[s] || 0}`).join(', ') },
      STATES.filter((s) => counts[s]).map((s) => h('span', {
        class: `seg state-${s}`, style: { width: `${(100 * counts[s]) / Math.max(1, n)}%` },
      }))),
    h('span', { class: 'counts' }, `${done}/${n} done`,
      STATES.filter((s) => counts[s]).map((s) => h('span', { class: `count state-${s}` }, ` ${counts[s]} ${s}`))));
}
