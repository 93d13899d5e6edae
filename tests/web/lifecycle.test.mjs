// The dashboard's page lifecycle (defect 14): a page left while it awaits
// the server must not draw over the next page, and must not leave its
// event stream or poll timer behind. Each case holds one API answer of a
// page in the browser (page.route), navigates to another page, then lets
// the answer through and checks what is on screen and what is still open:
// EventSource and setInterval are counted by an init script.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { client } from './lib/client.mjs';
import { launch } from './lib/browser.mjs';

let srv;
let browser;
let context;
let runId;

before(async () => {
  srv = await startServer();
  const api = client(srv.url);
  runId = (await api.post('/experiments', {
    name: 'lifecycle', model: { arch: 'lenet5' }, dataset: { name: 'synthetic' }, train: { epochs: 1 },
  })).run.id;
  browser = await launch();
  context = await browser.newContext();
  await context.addInitScript(() => {
    const streams = new Set();
    const Native = window.EventSource;
    window.EventSource = class extends Native {
      constructor(...args) { super(...args); streams.add(this); }
      close() { streams.delete(this); super.close(); }
    };
    const timers = new Set();
    const setI = window.setInterval.bind(window);
    const clearI = window.clearInterval.bind(window);
    window.setInterval = (...args) => { const id = setI(...args); timers.add(id); return id; };
    window.clearInterval = (id) => { timers.delete(id); clearI(id); };
    window.lifecycle = {
      streams: () => [...streams].map((e) => new URL(e.url).pathname),
      timers: () => timers.size,
    };
  });
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

/**
 * Opens #/sweeps, holds the API answers matching `hold`, goes to `from`
 * (whose render waits on them), then to #/runs, releases the answers and
 * gives the stale page time to misbehave.
 */
async function leaveWhileWaiting(from, hold) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.url}/#/sweeps`);
  await page.waitForSelector('main[data-ready="/sweeps"]');
  let release;
  const held = new Promise((ok) => { release = ok; });
  let waiting = 0;
  await page.route(hold, async (route) => { waiting++; await held; await route.continue().catch(() => {}); });
  const asked = page.waitForRequest(hold);
  await page.evaluate((h) => { location.hash = h; }, from);
  await asked;
  await page.evaluate(() => { location.hash = '#/runs'; });
  await page.waitForSelector('main[data-ready="/runs"]');
  release();
  await page.waitForTimeout(1500);
  assert.ok(waiting > 0, `${hold} was never asked for`);
  const heading = await page.textContent('main h1');
  const state = await page.evaluate(() => ({ streams: window.lifecycle.streams(), timers: window.lifecycle.timers(), ready: document.querySelector('main').dataset.ready }));
  await page.close();
  assert.deepEqual(errors, []);
  return { heading, ...state };
}

const RUNS_PAGE = { heading: 'Runs', streams: ['/api/v1/events'], timers: 0, ready: '/runs' };

test('leaving the workers page while it loads leaves nothing behind', async () => {
  assert.deepEqual(await leaveWhileWaiting('#/workers', '**/api/v1/workers'), RUNS_PAGE);
});

test('leaving the sweeps page while it loads leaves nothing behind', async () => {
  // Back to sweeps from runs would reuse the cached answer: go via workers.
  assert.deepEqual(await leaveWhileWaiting('#/sweeps?x=1', '**/api/v1/sweeps?*'), RUNS_PAGE);
});

test('leaving a run page while its metrics load leaves nothing behind', async () => {
  assert.deepEqual(await leaveWhileWaiting(`#/runs/${runId}`, `**/api/v1/runs/${runId}/metrics*`), RUNS_PAGE);
});
