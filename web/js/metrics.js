// What a run's metric names mean to the dashboard: which panel (family) a
// series goes in and how it is drawn, which names are per-layer counters
// (layers_<layer>_<group>_<counter>_rate, docs/worker.md), and the run's
// progress (step N of M, images/s, ETA) from its series and summary. Names
// are matched by pattern, so new metrics of a known kind show up without
// changing the dashboard. Pure functions: tested without a browser.

// Panels of the run page, in order. `scale`: 'log' (strictly positive
// values), 'asinh' (rates: logarithmic, yet zero stays visible at the
// bottom), or linear.
export const GROUPS = [
  { id: 'loss', title: 'Loss', match: (n) => /loss$/.test(n) && !n.includes('loss_scale') },
  { id: 'acc', title: 'Accuracy', match: (n) => /acc$/.test(n) },
  { id: 'lr', title: 'Learning rate', match: (n) => n === 'lr' || /_lr$/.test(n) },
  { id: 'scale', title: 'Loss scale', match: (n) => n.includes('loss_scale'), scale: 'log' },
  { id: 'overflow', title: 'Overflow rate', match: (n) => groupRate(n, 'overflow'), scale: 'asinh' },
  { id: 'underflow', title: 'Underflow rate', match: (n) => groupRate(n, 'underflow'), scale: 'asinh' },
  { id: 'swamping', title: 'Swamping rate', match: (n) => groupRate(n, 'swamping'), scale: 'asinh' },
  { id: 'clip', title: 'Scale clip rate', match: (n) => /^(epoch_)?(fwd|bwd|wgrad)_scaling_clip_rate$/.test(n), scale: 'asinh' },
  { id: 'speed', title: 'Images per second', match: (n) => n === 'images_per_s' },
  { id: 'skipped', title: 'Skipped steps (overflow)', match: (n) => /skipped_steps$/.test(n) },
];

function groupRate(n, what) {
  return new RegExp(`^(epoch_)?(fwd|bwd|wgrad)_${what}_rate$`).test(n);
}

/** The panel id of a metric name, or null for metrics that are only listed. */
export function groupOf(name) {
  if (isLayerMetric(name)) return null;
  const g = GROUPS.find((x) => x.match(name));
  return g ? g.id : null;
}

export const GEMM_GROUPS = ['fwd', 'bwd', 'wgrad'];
export const COUNTERS = ['overflow', 'underflow', 'swamping', 'clip'];
const LAYER_RE = /^layers_(.+)_(fwd|bwd|wgrad)_(overflow|underflow|swamping|clip)_rate$/;

/** "layers_conv2_fwd_swamping_rate" -> {layer: 'conv2', group: 'fwd', counter: 'swamping'}, else null. */
export function parseLayerMetric(name) {
  const m = LAYER_RE.exec(name);
  return m ? { layer: m[1], group: m[2], counter: m[3] } : null;
}

export function isLayerMetric(name) {
  return LAYER_RE.test(name);
}

// Fixed colours where a name says what it is, so fwd is the same blue in
// every panel and train/val pairs keep their colours across loss and
// accuracy; anything else takes the palette in order.
export const PALETTE = ['#2b5fb4', '#d9480f', '#2f9e44', '#ae3ec9', '#1098ad', '#c2255c',
  '#5c940d', '#f08c00', '#3b5bdb', '#0ca678', '#495057', '#e8590c'];
const ROLE_COLOURS = [
  [/(^|_)fwd_/, '#2b5fb4'], [/(^|_)bwd_/, '#d9480f'], [/(^|_)wgrad_/, '#2f9e44'],
  [/^(epoch_)?train_/, '#2b5fb4'], [/^val_/, '#d9480f'],
];

/** A series is sparse when it has one point per epoch (val_*, epoch_*): drawn as points. */
export function isSparse(name) {
  return /^(val_|epoch_)/.test(name);
}

/** {stroke, dash, points} of series `name`, the `i`th of its panel. */
export function seriesStyle(name, i) {
  const role = ROLE_COLOURS.find(([re]) => re.test(name));
  const sparse = isSparse(name);
  return {
    stroke: role ? role[1] : PALETTE[i % PALETTE.length],
    // An epoch-wide value next to its per-interval twin: same colour, dashed.
    dash: name.startsWith('epoch_') ? [6, 4] : null,
    points: sparse,
  };
}

/**
 * Appends an increment (the `series` of GET /metrics?since=) to `into`,
 * in place. Steps at or below a series' last step are dropped, so a replay
 * after a reconnect cannot duplicate points. `time` travels with each point
 * when the server sent it.
 */
export function appendSeries(into, inc) {
  for (const [name, s] of Object.entries(inc || {})) {
    const t = into[name] || (into[name] = s.time ? { step: [], value: [], time: [] } : { step: [], value: [] });
    const last = t.step.length ? t.step[t.step.length - 1] : -Infinity;
    for (let k = 0; k < s.step.length; k++) {
      if (s.step[k] > last) {
        t.step.push(s.step[k]);
        t.value.push(s.value[k]);
        if (t.time && s.time) t.time.push(s.time[k]);
      }
    }
  }
  return into;
}

/** Total points across series. */
export function pointCount(series) {
  let n = 0;
  for (const s of Object.values(series || {})) n += s.step.length;
  return n;
}

function last(s) {
  return s && s.step.length ? { step: s.step[s.step.length - 1], value: s.value[s.value.length - 1], time: s.time?.[s.time.length - 1] } : null;
}

/**
 * A run's progress: {step, total, epoch, epochs, imagesPerS, stepsPerS,
 * etaS, done}. `series` holds the run's series (with `time` where the
 * server gives it); the step rate is measured over the last `window`
 * seconds of stored points (validation and upload included, unlike
 * images/s), or from images/s and the batch size when there are too few.
 */
export function progressOf(run, series, { window = 120, now = Date.now() / 1000 } = {}) {
  const sum = run.summary || {};
  const ref = series.total_steps || series.train_loss || series.epoch || null;
  const lastPt = last(ref);
  const step = lastPt ? lastPt.step : null;
  const total = last(series.total_steps)?.value ?? sum.total_steps ?? null;
  const epochs = run.spec?.train?.epochs ?? null;
  const epochNow = last(series.epoch)?.value ?? sum.epoch ?? null;
  const imagesPerS = last(series.images_per_s)?.value ?? sum.images_per_s ?? null;
  const batch = run.spec?.train?.batch_size ?? null;
  let stepsPerS = null;
  if (ref?.time && ref.time.length >= 2) {
    const n = ref.step.length;
    const tEnd = ref.time[n - 1];
    let k = n - 2;
    while (k > 0 && tEnd - ref.time[k - 1] <= window) k--;
    const dt = tEnd - ref.time[k];
    if (dt > 0 && ref.step[n - 1] > ref.step[k]) stepsPerS = (ref.step[n - 1] - ref.step[k]) / dt;
  }
  if (stepsPerS === null && imagesPerS && batch) stepsPerS = imagesPerS / batch;
  const done = ['succeeded', 'failed', 'canceled'].includes(run.state);
  let etaS = null;
  if (!done && run.state === 'running' && step !== null && total && stepsPerS) {
    // Time since the last point counts against the estimate.
    const since = lastPt.time ? Math.max(0, now - lastPt.time) : 0;
    etaS = Math.max(0, (total - step) / stepsPerS - since);
  }
  return { step, total, epoch: epochNow, epochs, imagesPerS, stepsPerS, etaS, done };
}
