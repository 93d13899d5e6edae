// Which chart a metric series belongs to. The worker posts the training
// loop's records flattened to names (train_loss, val_acc, lr, loss_scale,
// fwd_overflow_rate, epoch_train_loss, ...); grouping by name keeps new
// metrics visible without changing the dashboard.

export const GROUPS = [
  { id: 'loss', title: 'Loss', match: (n) => /loss$/.test(n) && !n.includes('loss_scale') },
  { id: 'acc', title: 'Accuracy', match: (n) => /acc$/.test(n) },
  { id: 'lr', title: 'Learning rate', match: (n) => n === 'lr' || /_lr$/.test(n) },
  { id: 'scale', title: 'Loss scale', match: (n) => n.includes('loss_scale'), log: true },
  { id: 'rates', title: 'Overflow / underflow / swamping rate', match: (n) => /(overflow|underflow|swamping)_rate$/.test(n) },
];

/** The group id of a metric name, or null for metrics that are only listed. */
export function groupOf(name) {
  const g = GROUPS.find((x) => x.match(name));
  return g ? g.id : null;
}

/**
 * Appends an increment (the `series` of GET /metrics?since=) to `into`,
 * in place. Steps at or below a series' last step are dropped, so a replay
 * after a reconnect cannot duplicate points.
 */
export function appendSeries(into, inc) {
  for (const [name, s] of Object.entries(inc || {})) {
    const t = into[name] || (into[name] = { step: [], value: [] });
    const last = t.step.length ? t.step[t.step.length - 1] : -Infinity;
    for (let k = 0; k < s.step.length; k++) {
      if (s.step[k] > last) {
        t.step.push(s.step[k]);
        t.value.push(s.value[k]);
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
