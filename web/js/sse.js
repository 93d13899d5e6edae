// Live updates through Server-Sent Events. EventSource reconnects on its own
// and resends Last-Event-ID, so the server replays what was missed; this
// module only routes event types to handlers and shows the connection state
// in the header's "live" dot.

import { eventsUrl } from './api.js';

const open = new Set();

function showState() {
  const dot = document.getElementById('live');
  if (!dot) return;
  let state = 'off';
  for (const es of open) state = es.readyState === EventSource.OPEN ? 'on' : state === 'on' ? 'on' : 'wait';
  dot.dataset.state = state;
  dot.textContent = state === 'on' ? 'live' : state === 'wait' ? 'reconnecting' : '';
}

/**
 * subscribe('/runs/3/events', {run: fn, metrics: fn}) -> close().
 * Each handler gets the parsed `data` object of its event type.
 */
export function subscribe(path, handlers, query = {}) {
  const es = new EventSource(eventsUrl(path, query));
  open.add(es);
  for (const [type, fn] of Object.entries(handlers)) {
    es.addEventListener(type, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      fn(data, ev);
    });
  }
  es.onopen = showState;
  es.onerror = showState;
  showState();
  return () => {
    es.close();
    open.delete(es);
    showState();
  };
}
