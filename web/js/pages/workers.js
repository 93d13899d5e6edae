// Workers: each registered worker with its devices and free slots, the runs
// it holds and how long since it was last heard from. Re-read on worker
// events and every five seconds (heartbeats are not events, ages are).

import { api } from '../api.js';
import { h, fill, throttle } from '../dom.js';
import { ago, time } from '../fmt.js';
import { subscribe } from '../sse.js';

function device(d) {
  const info = Object.entries(d.info || {}).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
  return h('li', { class: 'device' },
    h('strong', {}, d.id), ` ${d.kind}`, d.board ? ` · ${d.board}` : '', d.emulated ? ' · emulated' : '',
    h('span', { class: `slots ${d.free > 0 ? 'free' : 'full'}` }, ` ${d.free ?? '?'}/${d.slots ?? '?'} free`),
    info ? h('div', { class: 'muted small' }, info) : null);
}

export async function render(root, params, ctx) {
  const body = h('tbody');
  async function load() {
    const { workers } = await api('/workers');
    if (!ctx.alive) return;
    fill(body, workers.length ? workers.map((w) => h('tr', { dataset: { worker: w.id } },
      h('td', { class: 'num' }, String(w.id)),
      h('td', {}, h('strong', {}, w.name), h('div', { class: 'muted small' }, w.host)),
      h('td', {}, h('span', { class: `state ${w.live ? 'state-running' : 'state-failed'}` }, w.live ? 'live' : 'lost')),
      h('td', { title: time(w.last_seen) }, ago(w.last_seen)),
      h('td', {}, h('ul', { class: 'devices' }, (w.devices || []).map(device))),
      h('td', {}, (w.runs || []).length ? (w.runs || []).map((r) => h('a', { class: 'chip', href: `#/runs/${r}` }, `run ${r}`)) : h('span', { class: 'muted' }, 'idle')),
      h('td', {}, w.version || '', (w.tags || []).length ? h('div', { class: 'muted small' }, w.tags.join(', ')) : null),
      h('td', {}, time(w.registered)))) :
      h('tr', {}, h('td', { colspan: 8, class: 'muted empty' }, 'No worker has registered. Start one with qlab-worker --server URL.')));
  }
  await load();
  if (!ctx.alive) return;
  fill(root, h('h1', {}, 'Workers'),
    h('table', { class: 'grid workers' },
      h('thead', {}, h('tr', {}, ['id', 'name', 'status', 'last heartbeat', 'devices (free slots)', 'current runs', 'version', 'registered'].map((t) => h('th', {}, t)))),
      body));
  const refresh = throttle(() => { if (ctx.alive) load().catch(ctx.error); }, 1000);
  ctx.onCleanup(subscribe('/events', { worker: refresh, run: refresh }));
  const timer = setInterval(refresh, 5000);
  ctx.onCleanup(() => clearInterval(timer));
}
