// A run's metric series kept current: one downsampled read
// (max_points=2000, the server keeps each bucket's min and max), then only
// the steps after the last one seen (`since`) each time the event stream
// says points arrived. Reads never overlap; events during a read cause one
// more read, not one per event.

import { api } from './api.js';
import { appendSeries, pointCount } from './metrics.js';

const MAX_POINTS = 2000;
// Past this many points held, re-read downsampled rather than grow forever.
const REREAD_ABOVE = 20000;

export function liveMetrics(runId, onChange, onError) {
  const state = { series: {}, lastStep: null, downsampled: false };
  let busy = false;
  let again = false;

  async function full() {
    const m = await api(`/runs/${runId}/metrics`, { query: { max_points: MAX_POINTS } });
    state.series = m.series || {};
    state.lastStep = m.last_step ?? null;
    state.downsampled = !!m.downsampled;
  }

  async function increment() {
    const m = await api(`/runs/${runId}/metrics`, {
      // One step of overlap: points of another metric can arrive later at the
      // last step seen (the epoch record after the step record); appendSeries
      // drops what each series already has.
      query: { since: state.lastStep - 1, max_points: MAX_POINTS },
    });
    appendSeries(state.series, m.series);
    if (m.last_step !== null && m.last_step !== undefined) state.lastStep = Math.max(state.lastStep ?? m.last_step, m.last_step);
    state.downsampled = state.downsampled || !!m.downsampled;
    if (pointCount(state.series) > REREAD_ABOVE) await full();
  }

  async function pump(first) {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        if (first || state.lastStep === null) await full(); else await increment();
        first = false;
        onChange(state);
      } while (again);
    } catch (e) {
      onError?.(e);
    } finally {
      busy = false;
    }
  }

  return {
    state,
    load: () => pump(true),
    /** Call on each `metrics` event. */
    poke: () => pump(false),
  };
}
