// Sweeps: every sweep, newest first, with its progress by run state and its
// tags; ?filter= narrows the list with the server's filter grammar (a tag
// chip links to `tag = "x"`). The list follows the global event stream, so
// bars move as runs change state.

import { api } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { time } from '../fmt.js';
import { progressBar } from '../progress.js';
import { subscribe } from '../sse.js';
import { tagHref } from '../organize.js';

export async function render(root, params, ctx) {
  const filter = ctx.query.get('filter') || '';
  let sweeps = [];
  let cursor = null;
  const body = h('tbody');
  const more = h('button', { class: 'ghost', onclick: () => load(true) }, 'Load more');

  async function load(append) {
    // A refresh re-reads as many sweeps as are shown, so "load more" survives it.
    const limit = append ? 100 : Math.min(1000, Math.max(100, sweeps.length));
    const page = await api('/sweeps', { query: { limit, filter, cursor: append ? cursor : undefined } });
    if (!ctx.alive) return;
    sweeps = append ? [...sweeps, ...page.sweeps] : page.sweeps;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    draw();
  }

  function draw() {
    fill(body, sweeps.length ? sweeps.map((s) => h('tr', { dataset: { sweep: s.id } },
      h('td', { class: 'num' }, String(s.id)),
      h('td', {}, h('a', { href: `#/sweeps/${s.id}` }, s.name), ' ',
        (s.tags || []).map((t) => h('a', { class: 'chip tag', href: tagHref('sweeps', t), dataset: { tag: t } }, t))),
      h('td', {}, s.method),
      h('td', { class: 'num' }, String(s.runs)),
      h('td', { class: 'wide' }, progressBar(s.counts, s.runs)),
      h('td', {}, time(s.created)))) :
      h('tr', {}, h('td', { colspan: 6, class: 'muted empty' }, filter ? 'No sweep matches this filter.' : ['No sweeps yet. ', h('a', { href: '#/submit' }, 'Submit one.')])));
  }

  await load(false);
  if (!ctx.alive) return;
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Sweeps'), h('span', { class: 'spacer' }),
      h('a', { class: 'button', href: '#/submit' }, 'New sweep')),
    filter ? h('p', { class: 'toolbar sweep-filter' }, 'filter: ', h('code', {}, filter), ' ', h('a', { class: 'button ghost clear', href: '#/sweeps' }, 'Clear')) : null,
    h('table', { class: 'grid sweeps' },
      h('thead', {}, h('tr', {}, ['id', 'name', 'method', 'runs', 'progress', 'created'].map((t) => h('th', {}, t)))),
      body),
    more);

  // A state change refreshes the page of sweeps already shown, at most once a second.
  const refresh = throttle(() => { if (ctx.alive) load(false).catch(ctx.error); }, 1000);
  ctx.onCleanup(subscribe('/events', { run: refresh, sweep: refresh }));
}
