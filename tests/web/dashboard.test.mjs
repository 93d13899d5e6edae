// End-to-end tests of the dashboard: a real qlab-server on a free port with
// a temporary database, seeded through the REST API (a sweep, a fake worker
// that leases runs, posts metrics and completes some), driven through
// Debian's headless Chromium. Screenshots land in build/web-artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { client, fakeWorker } from './lib/client.mjs';
import { seed, SWEEP } from './lib/seed.mjs';
import { launch, open, shot } from './lib/browser.mjs';
import { PRESETS } from '../../web/js/presets.js';

let srv;
let api;
let data;
let browser;
let context;

before(async () => {
  srv = await startServer();
  api = client(srv.url);
  data = await seed(api);
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

/** Fails with the page's console errors, if it had any. */
function clean(page) {
  assert.deepEqual(page.problems(), [], 'console errors or exceptions');
}

test('every page loads without console errors', async () => {
  const [running] = data.running;
  const failed = data.done[data.done.length - 1];
  const pages = [
    ['sweeps', '/sweeps', '9/12 done'],
    ['sweep', `/sweeps/${data.sweep.id}`, 'runs on the Pareto front'],
    ['runs', '/runs', 'lenet5-fp32-single'],
    ['run-running', `/runs/${running}`, 'holding'],
    ['run-failed', `/runs/${failed}`, 'loss became NaN'],
    ['compare', `/compare?runs=${data.done[0]},${data.done[3]},${running}`, 'arith.forward.mac.acc'],
    ['workers', '/workers', 'fake-worker'],
    ['submit', '/submit', 'POST /api/v1/experiments'],
  ];
  for (const [name, path, expect] of pages) {
    const page = await open(context, srv.url, path);
    await page.waitForFunction((t) => document.body.innerText.includes(t), expect, { timeout: 5000 })
      .catch(() => assert.fail(`${path}: "${expect}" never appeared`));
    await shot(page, name);
    clean(page);
    await page.close();
  }
});

test('the sweep page shows the grid of two swept parameters', async () => {
  const page = await open(context, srv.url, `/sweeps/${data.sweep.id}`);
  const heads = await page.$$eval('table.heat thead th', (ths) => ths.map((t) => t.textContent));
  for (const acc of SWEEP.parameters['arith.forward.mac.acc'].values) assert.ok(heads.includes(acc), `grid column ${acc}`);
  const cells = await page.$$eval('table.heat tbody td', (tds) => tds.filter((t) => /\d/.test(t.textContent)).length);
  // 8 succeeded + 1 failed + 2 running runs have posted val_acc; one is queued.
  assert.equal(cells, 11);
  clean(page);
  await page.close();
});

test('a metric posted to the server appears in an open run chart within 2 s', async () => {
  const [run] = data.running;
  const page = await open(context, srv.url, `/runs/${run}`);
  await page.waitForSelector('#live[data-state="on"]', { timeout: 5000 });
  const t0 = Date.now();
  await data.worker.post(run, [{ step: 5000, name: 'train_loss', value: 0.0123 }]);
  await page.waitForSelector('[data-chart="Loss"][data-last-step="5000"]', { timeout: 2000 });
  const elapsed = Date.now() - t0;
  const text = await page.textContent('[data-chart="Loss"] .chart-last');
  assert.match(text, /train_loss 0\.0123 @ 5000/);
  // A state change reaches the header the same way.
  await data.worker.complete(run, 'succeeded', { summary: { val_acc: 0.85 } });
  await page.waitForSelector('.page-head .state-succeeded', { timeout: 2000 });
  await shot(page, 'run-live');
  clean(page);
  await page.close();
  console.log(`# metric visible ${elapsed} ms after the POST`);
});

test('sorting and filtering the runs table', async () => {
  const page = await open(context, srv.url, `/sweeps/${data.sweep.id}`);
  const column = (key) => page.$$eval('.vtable tbody tr[data-key]', (trs, k) => {
    const ths = [...document.querySelectorAll('.vtable thead tr:first-child th')];
    const i = ths.findIndex((th) => th.dataset.key === k);
    return trs.map((tr) => tr.children[i].textContent);
  }, key);
  const nums = (xs) => xs.filter((x) => x !== '').map(Number);

  await page.click('th[data-key="metric:val_acc"]');
  let v = nums(await column('metric:val_acc'));
  assert.equal(v.length, 11);
  assert.deepEqual(v, [...v].sort((a, b) => a - b), 'ascending');
  await page.click('th[data-key="metric:val_acc"]');
  v = nums(await column('metric:val_acc'));
  assert.deepEqual(v, [...v].sort((a, b) => b - a), 'descending');
  assert.equal((await column('metric:val_acc')).at(-1), '', 'the run without val_acc sorts last both ways');

  await page.fill('input[data-filter="spec:arith.forward.mac.acc"]', '=e6m5');
  await page.waitForSelector('.vtable[data-rows="3"]', { timeout: 2000 });
  assert.deepEqual(await column('spec:arith.forward.mac.acc'), ['e6m5', 'e6m5', 'e6m5']);

  await page.fill('input[data-filter="spec:arith.forward.mac.acc"]', '');
  await page.fill('input[data-filter="metric:val_acc"]', '>0.88');
  const want = data.runs.length && (await api.get(`/runs?sweep=${data.sweep.id}&metric.val_acc.gt=0.88`)).runs.length;
  await page.waitForSelector(`.vtable[data-rows="${want}"]`, { timeout: 2000 });
  assert.ok(nums(await column('metric:val_acc')).every((x) => x > 0.88));
  await shot(page, 'sweep-filtered');
  clean(page);
  await page.close();
});

test('the submit form shows a field-level error for a bad format string and creates a sweep for a good one', async () => {
  // The browser logs each refused request (400) itself; those are expected here.
  const page = await open(context, srv.url, '/submit?preset=acc-grid', { allow: [/status of 400/] });
  const good = JSON.stringify(PRESETS.find((p) => p.id === 'acc-grid').doc, null, 2);

  await page.fill('textarea.code', good.replace('"e6m5"', '"e6m55"'));
  const err = await page.waitForSelector('.field-error[data-pointer="/base/arith/forward/mac/acc"]', { timeout: 3000 });
  assert.match(await err.textContent(), /mantissa bits 55/);
  assert.ok(await page.$('.editor mark'), 'the field is marked in the editor');
  assert.ok(await page.isDisabled('.submit-form button[type=submit]'), 'submit is disabled while a field is wrong');
  await shot(page, 'submit-error');

  // A bad value inside a sweep parameter is placed at that value.
  await page.fill('textarea.code', good.replace('"q8.13"', '"q8.x"'));
  await page.waitForSelector('.field-error[data-pointer="/parameters/arith.forward.mac.acc/values/2"]', { timeout: 3000 });

  // An error only the server finds comes back at its field too.
  await page.fill('textarea.code', good.replace('"epochs": 10', '"epochs": 0'));
  await page.waitForSelector('.field-error', { state: 'detached', timeout: 3000 });
  await page.click('.submit-form button[type=submit]');
  const srvErr = await page.waitForSelector('.field-error[data-pointer="/base/train/epochs"]', { timeout: 3000 });
  assert.match(await srvErr.textContent(), /epochs 0/);

  const before = (await api.get('/sweeps?limit=1000')).sweeps.length;
  await page.fill('textarea.code', good.replace('accumulators-x-seeds', 'submitted-from-the-browser'));
  await page.waitForSelector('.field-error', { state: 'detached', timeout: 3000 });
  await page.click('.submit-form button[type=submit]');
  await page.waitForFunction(() => /^#\/sweeps\/\d+$/.test(location.hash), null, { timeout: 5000 });
  const id = Number((await page.evaluate(() => location.hash)).split('/').pop());
  await page.waitForSelector(`main[data-ready="/sweeps/${id}"]`);
  assert.match(await page.textContent('h1'), /submitted-from-the-browser/);
  const { sweep } = await api.get(`/sweeps/${id}`);
  assert.equal(sweep.runs, 12);
  assert.equal((await api.get('/sweeps?limit=1000')).sweeps.length, before + 1);
  clean(page);
  await page.close();
});

test('the 1000-run table stays responsive', async () => {
  const big = {
    name: 'thousand-seeds', base: { ...SWEEP.base, name: 'seed' }, method: 'grid',
    parameters: { 'train.seed': { values: Array.from({ length: 1000 }, (_, i) => i + 1) } },
  };
  const { sweep } = await api.post('/sweeps', big);
  const t0 = Date.now();
  const page = await open(context, srv.url, `/sweeps/${sweep.id}`);
  const loadMs = Date.now() - t0;
  assert.equal(await page.getAttribute('.vtable', 'data-rows'), '1000');
  const rendered = await page.$$eval('.vtable tbody tr[data-key]', (t) => t.length);
  assert.ok(rendered < 120, `only the rows in view are in the DOM (${rendered})`);

  // Sorting 1000 rows and painting the result takes one short task.
  const sortMs = await page.evaluate(async () => {
    const t = performance.now();
    document.querySelector('th[data-key="spec:train.seed"]').click();
    document.querySelector('th[data-key="spec:train.seed"]').click();
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    return performance.now() - t;
  });
  assert.ok(sortMs < 500, `two sorts took ${sortMs.toFixed(0)} ms`);
  const seeds = () => page.$$eval('.vtable tbody tr[data-key]', (trs) => {
    const i = [...document.querySelectorAll('.vtable thead tr:first-child th')].findIndex((th) => th.dataset.key === 'spec:train.seed');
    return trs.map((tr) => tr.children[i].textContent);
  });
  assert.equal((await seeds())[0], '1000', 'descending by seed');

  // Scrolling to the end renders the last rows.
  await page.$eval('.table-scroll', (s) => { s.scrollTop = s.scrollHeight; });
  await page.waitForFunction(() => {
    const names = [...document.querySelectorAll('.vtable tbody tr[data-key] td:nth-child(3)')].map((td) => td.textContent);
    return names.length > 0 && names.at(-1).endsWith(' seed=1');
  }, null, { timeout: 2000 });
  assert.equal((await seeds()).at(-1), '1');

  const t1 = Date.now();
  await page.fill('input[data-filter="spec:train.seed"]', '=500');
  await page.waitForSelector('.vtable[data-rows="1"]', { timeout: 2000 });
  const filterMs = Date.now() - t1;
  await shot(page, 'sweep-1000');
  clean(page);
  await page.close();
  console.log(`# 1000 runs: page ready in ${loadMs} ms, two sorts ${sortMs.toFixed(0)} ms, filter ${filterMs} ms`);
});

test('a 1,000,000-point series is downsampled by the server and drawn without freezing', async () => {
  // Priority puts it ahead of the seeded sweep's queued run.
  const { run } = await api.post('/experiments?priority=10', { ...SWEEP.base, name: 'million-points' });
  const w = await fakeWorker(api, { name: 'bulk-worker' });
  const id = await w.leaseOne();
  assert.equal(id, run.id);
  const t0 = Date.now();
  for (let b = 0; b < 10; b++) {
    const points = [];
    for (let k = 0; k < 100000; k++) {
      const step = b * 100000 + k + 1;
      points.push({ step, name: 'train_loss', value: 2 * Math.exp(-step / 2e5) + 0.1 * Math.sin(step / 50) });
    }
    await w.post(id, points);
  }
  const postMs = Date.now() - t0;
  const t1 = Date.now();
  const page = await open(context, srv.url, `/runs/${id}`);
  const loadMs = Date.now() - t1;
  // Buckets keep their min and max, so the last point drawn is near, not at, the last step.
  const last = Number(await page.getAttribute('[data-chart="Loss"]', 'data-last-step'));
  assert.ok(last > 990000, `the chart reaches step ${last}`);
  assert.match(await page.textContent('.chart-info'), /last step 1000000 \(downsampled/);
  const shown = Number((await page.textContent('.chart-info')).match(/(\d+) points shown/)[1]);
  assert.ok(shown <= 2000, `${shown} points drawn`);
  // The page still answers promptly: a frame comes within 200 ms.
  const frameMs = await page.evaluate(() => new Promise((r) => { const t = performance.now(); requestAnimationFrame(() => r(performance.now() - t)); }));
  assert.ok(frameMs < 200, `next frame after ${frameMs} ms`);
  await shot(page, 'run-million');
  clean(page);
  await page.close();
  console.log(`# 1e6 points posted in ${postMs} ms, run page ready in ${loadMs} ms`);
});

test('every submit preset is accepted by the server', async () => {
  for (const p of PRESETS) {
    const path = p.doc.base ? '/sweeps' : '/experiments';
    await api.post(path, p.doc).catch((e) => assert.fail(`preset ${p.id}: ${e.message}`));
  }
});
