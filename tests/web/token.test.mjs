// The dashboard against a server that needs a token: the first request
// answers 401, the token dialog opens, and the token entered there is kept
// in localStorage and sent as a bearer token from then on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './lib/server.mjs';
import { client } from './lib/client.mjs';
import { launch, open, shot } from './lib/browser.mjs';

const TOKEN = 'test-admin-token-0123456789abcdef';
let srv;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qlab-web-token-'));
  writeFileSync(join(dir, 'tokens'), `admin ${TOKEN}\n`);
  srv = await startServer({ args: ['--token-file', join(dir, 'tokens')] });
  await client(srv.url, TOKEN).post('/sweeps', {
    name: 'behind-a-token', method: 'grid',
    base: { name: 'b', model: { arch: 'lenet5' }, dataset: { name: 'fashion-mnist' } },
    parameters: { 'train.seed': { values: [1, 2] } },
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('token entry when the server answers 401', async () => {
  const context = await browser.newContext();
  const page = await open(context, srv.url, '/sweeps', { ready: false, allow: [/status of 401/] });
  await page.waitForSelector('#token-dialog[open]', { timeout: 5000 });
  await shot(page, 'token-dialog');
  await page.fill('#token-input', TOKEN);
  await page.click('#token-dialog button[value=save]');
  await page.waitForSelector('main[data-ready="/sweeps"]', { timeout: 5000 });
  assert.match(await page.textContent('main'), /behind-a-token/);
  assert.equal(await page.evaluate(() => localStorage.getItem('qlab.token')), TOKEN);
  // Live updates use ?token= (EventSource cannot send headers).
  await page.waitForSelector('#live[data-state="on"]', { timeout: 5000 });
  assert.deepEqual(page.problems(), []);
  await context.close();
});
