// The data the browser tests (and screenshots) look at: an accumulator x
// seed sweep whose runs are in every state, with training curves, plus one
// standalone experiment.

import { curve, fakeWorker } from './client.mjs';

const BASE = {
  name: 'acc', model: { arch: 'lenet5' }, dataset: { name: 'fashion-mnist' },
  train: { epochs: 10, batch_size: 128, seed: 1, log_interval: 100, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9, weight_decay: 5e-4 }, schedule: { type: 'cosine' } },
  arith: {
    forward: { weights: 'e5m2', activations: 'e5m2', mac: { cfg: 5, acc: 'e6m5' } },
    backward: { errors: 'e5m2', mac: { cfg: 5, acc: 'e6m5' } },
  },
  scaling: { loss: { type: 'dynamic', init: 65536, growth_interval: 1000 } },
};

// Final accuracies that look like the study's: wide accumulators train,
// narrow ones lose a little, truncation loses more.
const ACC = { fp32: 0.905, e6m5: 0.897, 'q8.13': 0.889, 'e4m7:bias=10': 0.861 };

export const SWEEP = {
  name: 'accumulators-x-seeds',
  base: BASE,
  method: 'grid',
  parameters: {
    'arith.forward.mac.acc': { values: Object.keys(ACC) },
    'train.seed': { values: [1, 2, 3] },
  },
};

export async function seed(api) {
  const { sweep } = await api.post('/sweeps', SWEEP);
  const { run: single } = await api.post('/experiments', { ...BASE, name: 'lenet5-fp32-single', arith: undefined });
  const worker = await fakeWorker(api);
  const runs = (await api.get(`/runs?sweep=${sweep.id}&spec=1&limit=100`)).runs;
  const byId = new Map(runs.map((r) => [r.id, r]));
  const done = [];
  const running = [];
  // Lease 11 of the 12 sweep runs: 8 succeed, 1 fails, 2 keep running; one stays queued.
  for (let k = 0; k < 11; k++) {
    const id = await worker.leaseOne();
    if (id === null) break;
    const r = byId.get(id);
    if (!r) { running.push(id); continue; }   // the standalone run, if it came first
    const acc = ACC[r.spec.arith.forward.mac.acc] - 0.004 * (r.spec.train.seed - 2);
    const pts = curve({ steps: k < 9 ? 400 : 150, acc, seed: r.spec.train.seed + k });
    await worker.post(id, pts);
    if (k < 8) {
      // The summary a worker sends: last values, per-layer counters left out.
      const last = Object.fromEntries(pts.filter((p) => !p.name.startsWith('layers_')).map((p) => [p.name, p.value]));
      await worker.complete(id, 'succeeded', { summary: last });
      done.push(id);
    } else if (k === 8) {
      await worker.complete(id, 'failed', { error: 'loss became NaN at step 400: every gradient overflowed e4m7:bias=10' });
      done.push(id);
    } else {
      running.push(id);
    }
  }
  return { sweep, single, worker, done, running, runs };
}
