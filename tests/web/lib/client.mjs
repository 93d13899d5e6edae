// The REST calls the tests make to seed a server: submitting sweeps, and a
// fake worker that registers, leases runs, posts metric points and
// completes runs through the same worker API the real daemon uses.

export function client(base, token) {
  async function call(method, path, body, headers = {}) {
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(base + '/api/v1' + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return data;
  }
  return {
    call,
    get: (p) => call('GET', p),
    post: (p, b, h) => call('POST', p, b, h),
  };
}

/** A worker that does what the tests tell it, one API call at a time. */
export async function fakeWorker(api, { name = 'fake-worker', slots = 64 } = {}) {
  const reg = await api.post('/workers/register', {
    name, host: 'test-host', version: 'test',
    devices: [{ id: 'cpu0', kind: 'cpu', slots, free: slots, info: { cores: 16, simd: 'avx2' } }], tags: ['test'],
  });
  const id = reg.worker.id;
  const leases = new Map();   // run id -> lease token
  return {
    id,
    /** Leases the next queued run and starts it; returns the run id or null. */
    async leaseOne() {
      const res = await api.post(`/workers/${id}/lease`, { devices: ['cpu0'], wait: 0 });
      if (!res) return null;
      leases.set(res.run.id, res.lease);
      await api.post(`/runs/${res.run.id}/start`, undefined, { 'X-Qlab-Lease': res.lease });
      return res.run.id;
    },
    /** points: [{step, name, value}] */
    async post(run, points) {
      return api.post(`/runs/${run}/metrics`, { points }, { 'X-Qlab-Lease': leases.get(run) });
    },
    async complete(run, state = 'succeeded', extra = {}) {
      return api.post(`/runs/${run}/complete`, { state, ...extra }, { 'X-Qlab-Lease': leases.get(run) });
    },
    async heartbeat() {
      return api.post(`/workers/${id}/heartbeat`, { runs: [...leases].map(([run, lease]) => ({ run, lease, step: 0 })) });
    },
  };
}

const LAYERS = [['conv1', ['fwd', 'wgrad']], ['conv2', ['fwd', 'bwd', 'wgrad']], ['fc1', ['fwd', 'bwd', 'wgrad']],
  ['fc2', ['fwd', 'bwd', 'wgrad']], ['fc3', ['fwd', 'bwd', 'wgrad']]];

/**
 * A plausible training record for `steps` steps of a `total`-step run with
 * `perEpoch` steps an epoch, as the worker posts it: loss falling,
 * accuracy rising toward `acc`, a cosine learning rate, a loss scale that
 * backs off now and then, small overflow/underflow/swamping rates summed
 * and per layer (conv2's forward swamps most), and at each epoch end the
 * validation figures and the epoch-wide values.
 */
export function curve({ steps = 400, every = 10, acc = 0.88, seed = 1, from = 0, total = 1000, perEpoch = 100, layers = true }) {
  let s = seed * 9301 + 49297;
  const rnd = () => ((s = (s * 9301 + 49297) % 233280) / 233280);
  const pts = [];
  let scale = 65536;
  for (let step = from + every; step <= from + steps; step += every) {
    const t = step / total;
    const noise = (rnd() - 0.5) * 0.06;
    const p = (name, value) => pts.push({ step, name, value });
    p('total_steps', total);
    p('epoch', Math.floor((step - 1) / perEpoch));
    p('train_loss', 2.3 * Math.exp(-4 * t) + 0.3 + noise);
    p('train_acc', acc * (1 - Math.exp(-5 * t)) + noise / 3);
    p('lr', 0.025 * (1 + Math.cos(Math.PI * t)));
    if (rnd() < 0.05) scale /= 2; else if (step % 200 === 0) scale *= 2;
    p('loss_scale', scale);
    p('images_per_s', 690 + 40 * (rnd() - 0.5));
    for (const g of ['fwd', 'bwd', 'wgrad']) {
      p(`${g}_overflow_rate`, g === 'bwd' && rnd() < 0.2 ? 1e-5 * rnd() : 0);
      p(`${g}_underflow_rate`, (g === 'fwd' ? 0.01 : 0.002) + 0.005 * rnd());
      p(`${g}_swamping_rate`, (g === 'wgrad' ? 0.02 : 0.002) + 0.001 * rnd());
    }
    if (layers) {
      for (const [layer, groups] of LAYERS) {
        for (const g of groups) {
          const hot = layer === 'conv2' && g === 'fwd';
          p(`layers_${layer}_${g}_overflow_rate`, layer === 'fc3' && g === 'bwd' && rnd() < 0.3 ? 2e-5 * rnd() : 0);
          p(`layers_${layer}_${g}_underflow_rate`, 0.001 + 0.004 * rnd());
          p(`layers_${layer}_${g}_swamping_rate`, hot ? 0.08 + 0.02 * rnd() : 0.0005 + 0.003 * rnd());
        }
      }
    }
    if (step % perEpoch === 0) {
      p('val_acc', acc * (1 - Math.exp(-5 * t)) - 0.01 + noise / 4);
      p('val_loss', 2.3 * Math.exp(-4 * t) + 0.35 + noise);
      p('epoch_train_loss', 2.3 * Math.exp(-4 * t) + 0.32);
      p('epoch_train_acc', acc * (1 - Math.exp(-5 * t)));
      p('epoch_fwd_swamping_rate', 0.0025);
    }
  }
  return pts;
}
