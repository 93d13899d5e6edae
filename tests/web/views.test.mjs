// The views a researcher reads, against a real qlab-server seeded through
// the REST API (lib/seed.mjs: an accumulator x seed sweep whose runs posted
// step, epoch and per-layer series): the run page's progress with an ETA,
// epoch series drawn as points, the step/time toggle, legend values and the
// per-layer heatmap; the sweep page's accuracy vs bits, parallel
// coordinates, Pareto front (the server's synthesized costs, from the
// committed hw/cost-table.json: the test servers synthesize nothing) and
// CSV download; the HTML report, from the dashboard
// and from `qlab report`, opened from disk with nothing loaded from
// anywhere; "Load more" only when there is more; and pages left while they
// load leave no event stream open. Screenshots of every page go to
// build/web-artifacts/ (and docs/img/ with QLAB_UPDATE_SCREENSHOT=1).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, REPO } from './lib/server.mjs';
import { client } from './lib/client.mjs';
import { seed, SWEEP } from './lib/seed.mjs';
import { launch, open, shot, ARTIFACTS } from './lib/browser.mjs';

const QLAB = process.env.QLAB_BIN || join(REPO, 'build/bin/qlab');
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
  context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

function clean(page) {
  assert.deepEqual(page.problems(), [], 'console errors or exceptions');
}

/** A screenshot in build/web-artifacts/, and in docs/img/ when asked. */
async function docShot(page, name) {
  // From the top: the sticky header belongs there, not mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.mouse.move(0, 0);
  await shot(page, name);
  if (process.env.QLAB_UPDATE_SCREENSHOT) {
    mkdirSync(join(REPO, 'docs/img'), { recursive: true });
    // The sweep page keeps the name README shows it under.
    copyFileSync(join(ARTIFACTS, `${name}.png`), join(REPO, 'docs/img', `${name === 'sweep' ? 'dashboard' : name}.png`));
  }
}

test('the run page: progress with an ETA, epoch series as points, per-layer heatmap, step or time', async () => {
  const [run] = data.running;
  const page = await open(context, srv.url, `/runs/${run}`);
  const progress = await page.waitForSelector('.run-progress[data-eta]:not([data-eta=""])', { timeout: 5000 });
  const text = await progress.textContent();
  // 150 of 1000 steps; the seed's points were all stored at once, so the
  // rate comes from images/s (690 a second) over the batch size (128).
  assert.match(text, /step 150 of 1000 · epoch 2 of 10 · \d+ images\/s · ETA (\d+m \d+s|\d+\.\ds) \(about \d\d:\d\d/);
  assert.equal(await progress.getAttribute('data-total'), '1000');
  const eta = Number(await progress.getAttribute('data-eta'));
  assert.ok(eta > 100 && eta < 200, `ETA ${eta} s for 850 steps at about 5.4 steps/s`);

  // Epoch series (one point per 100 steps) are drawn, as points.
  const acc = await page.$('[data-chart="Accuracy"]');
  assert.match(await acc.getAttribute('data-series'), /val_acc/);
  assert.match(await acc.getAttribute('data-points'), /val_acc/);
  assert.match(await page.getAttribute('[data-chart="Loss"]', 'data-points'), /val_loss/);
  // Rates on a scale where zero shows; fwd/bwd/wgrad in different colours.
  assert.equal(await page.getAttribute('[data-chart="Swamping rate"]', 'data-scale'), 'asinh');
  assert.equal(await page.getAttribute('[data-chart="Loss scale"]', 'data-scale'), 'log');
  // bwd, epoch_fwd, fwd, wgrad: the epoch-wide fwd series shares fwd's colour (dashed).
  const colours = await page.$$eval('[data-chart="Swamping rate"] .chart-last .last', (s) => s.map((x) => x.style.color));
  assert.equal(colours.length, 4);
  assert.equal(new Set(colours).size, 3, `three groups, three colours: ${colours}`);
  assert.equal(colours[1], colours[2], 'epoch_fwd_swamping_rate is drawn like fwd_swamping_rate');

  // The legend gives each series' value where the cursor is; a sparse
  // series gives its last value at or before it.
  const over = await page.$('[data-chart="Accuracy"] .u-over');
  await over.scrollIntoViewIfNeeded();
  let box = await over.boundingBox();
  await page.mouse.move(box.x + 5, box.y + 5);
  await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2, { steps: 5 });
  const legend = await page.$$eval('[data-chart="Accuracy"] .u-legend .u-series', (rows) =>
    rows.map((r) => [r.querySelector('.u-label')?.textContent, r.querySelector('.u-value')?.textContent]));
  const val = legend.find(([l]) => l === 'val_acc');
  assert.ok(val && /^0\.\d+$/.test(val[1]), `val_acc in the legend on hover: ${JSON.stringify(legend)}`);
  assert.match(legend[0][1], /^1[0-9]0$/, 'the step under the cursor');

  // The per-layer heatmap: a row per layer and group, conv2's forward GEMM hot.
  const heat = await page.$('.layer-heatmap');
  assert.equal(await heat.getAttribute('data-counter'), 'swamping');
  assert.equal(await heat.getAttribute('data-rows'),
    'conv1/fwd,conv1/wgrad,conv2/fwd,conv2/bwd,conv2/wgrad,fc1/fwd,fc1/bwd,fc1/wgrad,fc2/fwd,fc2/bwd,fc2/wgrad,fc3/fwd,fc3/bwd,fc3/wgrad');
  assert.equal(await heat.getAttribute('data-hot'), 'conv2/fwd');
  assert.match(await page.textContent('.heat-hot'), /conv2 fwd has the highest swamping rate/);
  await page.click('.layer-heatmap button[data-counter="overflow"]');
  assert.equal(await page.getAttribute('.layer-heatmap', 'data-hot'), 'fc3/bwd', 'only fc3 bwd overflows');
  await page.click('.layer-heatmap button[data-counter="swamping"]');
  await docShot(page, 'run');

  // Wall-clock time on x: the legend names the stored time of the step.
  await page.click('.x-toggle button[data-x="time"]');
  assert.equal(await page.textContent('[data-chart="Loss"] .u-legend .u-series:first-child .u-label'), 'time');
  const over2 = await page.$('[data-chart="Accuracy"] .u-over');
  await over2.scrollIntoViewIfNeeded();
  box = await over2.boundingBox();
  await page.mouse.move(box.x + 5, box.y + 5);
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  assert.match(await page.textContent('[data-chart="Accuracy"] .u-legend .u-series:first-child .u-value'), /^step \d+, /);
  await page.click('.x-toggle button[data-x="step"]');
  clean(page);
  await page.close();
});

test('the sweep page: accuracy vs bits, parallel coordinates, the Pareto front, CSV', async () => {
  const page = await open(context, srv.url, `/sweeps/${data.sweep.id}`);
  // Accuracy against the accumulator, its values ordered by storage bits.
  const bits = await page.waitForSelector('.bits-plot[data-lines="1"]', { timeout: 5000 });
  assert.equal(await bits.getAttribute('data-x-labels'), 'e6m5 (12 b)|e4m7:bias=10 (12 b)|q8.13 (21 b)|fp32 (32 b)');
  assert.ok(await page.$('.bits-plot canvas'), 'drawn by uPlot');
  const row = await page.$$eval('.bits-table tbody tr td', (tds) => tds.map((t) => t.textContent));
  const runs = (await api.get(`/runs?sweep=${data.sweep.id}&limit=100`)).runs;
  const mean = (acc) => {
    const v = runs.filter((r) => r.name.includes(`acc=${acc} `) && typeof r.summary.val_acc === 'number').map((r) => r.summary.val_acc);
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  ['e6m5', 'e4m7:bias=10', 'q8.13', 'fp32'].forEach((acc, i) =>
    assert.ok(Math.abs(Number(row[i]) - mean(acc)) < 5e-4, `${acc}: ${row[i]} vs mean ${mean(acc)}`));
  // One line per seed instead of the mean.
  await page.selectOption('select[name="bits-lines"]', 'train.seed');
  await page.waitForSelector('.bits-plot[data-lines="3"]');

  // Parallel coordinates: the swept parameters and the metric, a line per run.
  const pc = await page.$('.parcoords');
  assert.equal(await pc.getAttribute('data-axes'), 'arith.forward.mac.acc,train.seed,val_acc');
  assert.equal(await pc.getAttribute('data-lines'), '11', 'every run that has val_acc');
  assert.equal(await page.$$eval('.parcoords polyline', (p) => p.length), 11);

  // The Pareto front over the server's costs: every run of the sweep has
  // one at insert (the committed table knows the seeded MACs), so the 11
  // runs with val_acc (the running ones may have finished: 11 either way)
  // are plotted against the LUTs of their three MAC units.
  await page.waitForSelector('.scatter svg circle', { timeout: 5000 });
  assert.ok(runs.every((r) => r.cost && r.cost.status === 'ok' && r.cost.lut > 0), 'every run has a cost');
  assert.equal(await page.$$eval('.scatter svg circle', (c) => c.length), 11);
  const options = await page.$$eval('.scatter label:has-text("cost") select option', (o) => o.map((x) => x.value));
  assert.deepEqual(options, ['lut', 'gates', 'lut_calibrated']);
  const front = await page.$$eval('.scatter circle.on-front', (c) => c.length);
  assert.ok(front >= 1 && front < 11, `${front} runs on the front`);
  assert.match(await page.textContent('.scatter .legend'), new RegExp(`${front} of 11 runs on the Pareto front`));
  const label = () => page.$$eval('svg.scatter-plot text.label', (t) => t.map((x) => x.textContent).join(' | '));
  assert.match(await label(), /LUTs \(Yosys, UltraScale\+\) of the three MAC units/);
  // Each dot sits at its run's LUTs: the cheapest run is leftmost.
  const xs = async () => page.$$eval('svg.scatter-plot a', (as) => as.map((a) => [a.getAttribute('href'), +a.querySelector('circle').getAttribute('cx')]));
  const byX = (await xs()).sort((a, b) => a[1] - b[1]);
  const lutOf = (href) => runs.find((r) => `#/runs/${r.id}` === href).cost.lut;
  assert.equal(lutOf(byX[0][0]), Math.min(...byX.map(([hr]) => lutOf(hr))));
  await docShot(page, 'sweep');
  // Switched to gates: a fixed-point accumulator costs fewer than fp32.
  await page.selectOption('.scatter label:has-text("cost") select', 'gates');
  assert.match(await label(), /gates \(generic, weighted\) of the three MAC units/);
  const accOf = (href) => data.runs.find((r) => `#/runs/${r.id}` === href).spec.arith.forward.mac.acc;
  const at = (acc, pts) => pts.filter(([hr]) => accOf(hr) === acc).map(([, x]) => x);
  const gx = await xs();
  assert.ok(at('fp32', gx).length > 0 && at('q8.13', gx).length > 0);
  assert.ok(Math.max(...at('q8.13', gx)) < Math.min(...at('fp32', gx)), 'q8.13 left of fp32');

  // CSV of the rows in view, with the columns shown, values unrounded.
  await page.fill('input[data-filter="spec:arith.forward.mac.acc"]', '=e6m5');
  await page.waitForSelector('.vtable[data-rows="3"]');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button.csv')]);
  assert.equal(dl.suggestedFilename(), `sweep-${data.sweep.id}-runs.csv`);
  const lines = readFileSync(await dl.path(), 'utf8').trim().split('\r\n');
  assert.equal(lines.length, 4, 'a header and the three rows in view');
  const head = lines[0].split(',');
  assert.deepEqual(head.slice(0, 7), ['id', 'name', 'state', 'worker', 'attempt', 'arith.forward.mac.acc', 'train.seed']);
  const vi = head.indexOf('val_acc');
  for (const l of lines.slice(1)) {
    const cells = l.split(',');
    const r = runs.find((x) => x.id === Number(cells[0]));
    assert.equal(cells[5], 'e6m5');
    assert.equal(Number(cells[vi]), r.summary.val_acc, 'full precision');
  }
  clean(page);
  await page.close();
});

/** Opens an HTML report from disk; fails on any request that is not file:. */
async function openReport(file) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  page.on('request', (r) => { if (!/^(file|data|blob):/.test(r.url())) problems.push(`request: ${r.url()}`); });
  await page.goto(`file://${file}`);
  await page.waitForSelector('#report[data-ready]', { timeout: 10000 });
  page.problems = () => problems;
  return page;
}

async function checkReport(page) {
  const runs = (await api.get(`/runs?sweep=${data.sweep.id}&limit=100`)).runs;
  assert.equal(await page.$$eval('table.results tbody tr', (t) => t.length), runs.length);
  for (const s of ['results', 'grid', 'bits', 'pareto', 'training', 'layers', 'spec', 'versions']) {
    assert.ok(await page.$(`section[data-section="${s}"]`), `section ${s}`);
  }
  // uPlot drew accuracy vs bits, the Pareto front, the loss scale and three counters.
  assert.ok(await page.$$eval('canvas', (c) => c.length) >= 6, 'the plots are drawn');
  assert.ok(await page.$('section[data-section="bits"] canvas'));
  assert.ok(await page.$('section[data-section="pareto"] canvas'));
  assert.match(await page.textContent('section[data-section="pareto"]'), /runs on the Pareto front: #\d+/);
  assert.match(await page.textContent('section[data-section="layers"]'), /conv2 fwd: 0\.\d+/);
  assert.match(await page.textContent('section[data-section="spec"] pre'), new RegExp(SWEEP.name));
  assert.match(await page.textContent('section[data-section="versions"]'), /uPlot\s*1\.6\.\d+/);
  assert.deepEqual(page.problems(), [], 'the report loads nothing and logs no error');
}

test('the HTML report, from the dashboard and from qlab report, is one file that draws itself', async (t) => {
  const page = await open(context, srv.url, `/sweeps/${data.sweep.id}`);
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20000 }), page.click('button.report')]);
  assert.equal(dl.suggestedFilename(), `sweep-${data.sweep.id}-report.html`);
  const fromDashboard = join(ARTIFACTS, 'report-dashboard.html');
  await dl.saveAs(fromDashboard);
  clean(page);
  await page.close();
  let r = await openReport(fromDashboard);
  await checkReport(r);
  await r.close();

  if (!existsSync(QLAB)) {
    t.skip(`qlab report not checked: ${QLAB} is not built (make)`);
    return;
  }
  const fromCli = join(ARTIFACTS, 'report.html');
  execFileSync(QLAB, ['report', String(data.sweep.id), '-o', fromCli, '--server', srv.url, '--web', join(REPO, 'web')]);
  r = await openReport(fromCli);
  await checkReport(r);
  assert.match(await r.textContent('section[data-section="versions"]'), /qlab\s*\d+\.\d+/);
  await docShot(r, 'report');
  await r.close();
});

test('"Load more" shows only while there are more sweeps', async () => {
  let page = await open(context, srv.url, '/sweeps');
  assert.equal(await page.isVisible('main button:has-text("Load more")'), false, 'nothing more to load');
  await docShot(page, 'sweeps');
  await page.close();
  const have = (await api.get('/sweeps?limit=1000')).sweeps.length;
  for (let i = have; i <= 100; i++) {
    await api.post('/sweeps', { ...SWEEP, name: `filler-${i}`, parameters: { 'train.seed': { values: [i] } } });
  }
  page = await open(context, srv.url, '/sweeps');
  assert.equal(await page.$$eval('table.sweeps tbody tr', (t) => t.length), 100);
  assert.equal(await page.isVisible('main button:has-text("Load more")'), true);
  await page.click('main button:has-text("Load more")');
  await page.waitForFunction(() => document.querySelectorAll('table.sweeps tbody tr').length > 100);
  assert.equal(await page.isVisible('main button:has-text("Load more")'), false, 'all loaded');
  clean(page);
  await page.close();
});

test('screenshots of the other pages', async () => {
  const [running] = data.running;
  for (const [name, path, expect] of [
    ['runs', '/runs', 'lenet5-fp32-single'],
    ['compare', `/compare?runs=${data.done[0]},${data.done[3]},${running}`, 'arith.forward.mac.acc'],
    ['workers', '/workers', 'fake-worker'],
    ['submit', '/submit', 'POST /api/v1/experiments'],
  ]) {
    const page = await open(context, srv.url, path);
    await page.waitForFunction((t) => document.body.innerText.includes(t), expect, { timeout: 5000 });
    if (name === 'compare') {
      // The accuracy panel draws val_acc, one point per epoch, for each run.
      assert.match(await page.getAttribute('[data-chart="val_acc"]', 'data-points'), /#\d+/);
    }
    await docShot(page, name);
    clean(page);
    await page.close();
  }
});

// Pages left while they load must not keep an event stream. A page's API
// answers are held back 300 ms (they still come from the real server), the
// user moves on to the submit page (no stream) at once, and a second later
// no EventSource may be open.
test('navigating away mid-load leaves no stream open', async () => {
  const page = await context.newPage();
  await page.addInitScript(() => {
    const Native = window.EventSource;
    const all = [];
    window.EventSource = class extends Native {
      constructor(...a) { super(...a); all.push(this); }
    };
    window.__openStreams = () => all.filter((e) => e.readyState !== 2).map((e) => e.url);
  });
  await page.route('**/api/v1/**', async (route) => {
    if (route.request().url().includes('/events')) return route.continue();
    await new Promise((r) => setTimeout(r, 300));
    return route.continue();
  });
  await page.goto(`${srv.url}/#/submit`);
  await page.waitForSelector('main[data-ready="/submit"]');
  const [running] = data.running;
  for (const path of ['/sweeps', `/sweeps/${data.sweep.id}`, '/runs', `/runs/${running}`,
    `/compare?runs=${data.done[0]},${running}`, '/workers']) {
    await page.evaluate((p) => { location.hash = `#${p}`; }, path);
    await page.waitForTimeout(100); // mid-load: its first answers are still held
    await page.evaluate(() => { location.hash = '#/submit'; });
    await page.waitForTimeout(1200); // every held answer has arrived
    const open = await page.evaluate(() => window.__openStreams());
    assert.deepEqual(open, [], `${path}: streams still open after leaving it mid-load`);
  }
  await page.close();
});
