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

/**
 * A plausible training record for `steps` steps: loss falling, accuracy
 * rising toward `acc`, a cosine learning rate, a loss scale that backs off
 * now and then, and small overflow/underflow/swamping rates.
 */
export function curve({ steps = 400, every = 10, acc = 0.88, seed = 1, from = 0 }) {
  let s = seed * 9301 + 49297;
  const rnd = () => ((s = (s * 9301 + 49297) % 233280) / 233280);
  const pts = [];
  let scale = 65536;
  for (let step = from + every; step <= from + steps; step += every) {
    const t = step / (from + steps);
    const noise = (rnd() - 0.5) * 0.06;
    pts.push({ step, name: 'train_loss', value: 2.3 * Math.exp(-4 * t) + 0.3 + noise });
    pts.push({ step, name: 'train_acc', value: acc * (1 - Math.exp(-5 * t)) + noise / 3 });
    pts.push({ step, name: 'lr', value: 0.025 * (1 + Math.cos(Math.PI * t)) });
    if (rnd() < 0.05) scale /= 2; else if (step % 200 === 0) scale *= 2;
    pts.push({ step, name: 'loss_scale', value: scale });
    pts.push({ step, name: 'fwd_overflow_rate', value: 1e-5 * rnd() });
    pts.push({ step, name: 'fwd_underflow_rate', value: 0.01 + 0.005 * rnd() });
    pts.push({ step, name: 'fwd_swamping_rate', value: 0.002 + 0.001 * rnd() });
    if (step % 100 === 0) {
      pts.push({ step, name: 'val_acc', value: acc * (1 - Math.exp(-5 * t)) - 0.01 + noise / 4 });
      pts.push({ step, name: 'val_loss', value: 2.3 * Math.exp(-4 * t) + 0.35 + noise });
    }
  }
  return pts;
}
