// Tags, notes, names and deletion in the dashboard, against a real
// qlab-server with a token file (an admin token named "ada" and a read
// token): the run and sweep pages show them and edit them through PATCH
// with the token the dashboard keeps; a read token's edit is refused and
// said so; a tag links to the runs (or sweeps) list filtered on it through
// the server's filter grammar; the runs list takes any filter and shows the
// server's 400 for a bad one; an edit made elsewhere (the CLI, the API)
// reaches an open page through its event stream; "Results CSV" is the
// server's export byte for byte; Delete removes a run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, REPO } from './lib/server.mjs';
import { client } from './lib/client.mjs';
import { launch, open, shot, ARTIFACTS } from './lib/browser.mjs';

const ADMIN = 'organize-admin-token-0123456789';
const READ = 'organize-read-token-0123456789ab';
const BASE = { name: 'b', model: { arch: 'mlp', hidden: [8] }, dataset: { name: 'synthetic' } };
let srv;
let admin;
let browser;
let dir;
let sweep;
let runs;
let single;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qlab-web-organize-'));
  writeFileSync(join(dir, 'tokens'), `admin ${ADMIN} ada\nread ${READ}\n`);
  srv = await startServer({ args: ['--token-file', join(dir, 'tokens')] });
  admin = client(srv.url, ADMIN);
  sweep = (await admin.post('/sweeps', {
    name: 'tagged-sweep', method: 'grid', base: BASE,
    parameters: { 'arith.forward.mac.acc': { values: ['e6m5', 'fp32'] }, 'train.seed': { values: [1, 2] } },
  })).sweep;
  runs = (await admin.get(`/runs?sweep=${sweep.id}&limit=10`)).runs;
  single = (await admin.post('/experiments', { ...BASE, name: 'lonely-run' })).run;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A browser context whose dashboard already holds `token`. */
async function withToken(token) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
  await context.addInitScript((t) => localStorage.setItem('qlab.token', t), token);
  return context;
}

const clean = (page) => assert.deepEqual(page.problems(), [], 'console errors or exceptions');

test('a run page: tags, a markdown note and a new name, saved through PATCH', async () => {
  const context = await withToken(ADMIN);
  const id = runs[0].id;
  const page = await open(context, srv.url, `/runs/${id}`);
  assert.match(await page.textContent('.organize'), /no tags/);
  assert.match(await page.textContent('.organize .submitted-by'), /submitted by ada/);

  await page.click('.organize button.edit');
  // Not a tag: said at once, nothing sent.
  await page.fill('.organize-form input[name=tags]', 'good, bad!tag');
  await page.click('.organize-form button.save');
  assert.match(await page.textContent('.organize-error'), /not a tag: bad!tag/);
  assert.deepEqual((await admin.get(`/runs/${id}`)).run.tags, []);

  await page.fill('.organize-form input[name=name]', 'best-e6m5 <b>run</b>');
  await page.fill('.organize-form input[name=tags]', 'good study,good');
  await page.fill('.organize-form textarea[name=note]',
    '# Why\n\n**Best** so far, see `e6m5`.\n\n- swamps less\n- <script>x</script>\n\n[paper](https://example.org/p)');
  await page.click('.organize-form button.save');
  await page.waitForSelector('.organize .note');

  const stored = (await admin.get(`/runs/${id}`)).run;
  assert.deepEqual(stored.tags, ['good', 'study']);
  assert.equal(stored.name, 'best-e6m5 <b>run</b>');
  assert.match(stored.note, /^# Why\n\n\*\*Best\*\*/);
  assert.deepEqual(await page.$$eval('.organize .tags .tag', (a) => a.map((x) => x.textContent)), ['good', 'study']);
  assert.equal(await page.textContent('.page-head h1'), 'best-e6m5 <b>run</b>', 'the name is text, not markup');
  // The note drawn from markdown, as elements: nothing of it is markup.
  assert.equal(await page.textContent('.organize .note h4'), 'Why');
  assert.equal(await page.textContent('.organize .note strong'), 'Best');
  assert.equal(await page.textContent('.organize .note code'), 'e6m5');
  assert.deepEqual(await page.$$eval('.organize .note li', (l) => l.map((x) => x.textContent)), ['swamps less', '<script>x</script>']);
  assert.equal(await page.$$eval('.organize .note script, .page-head h1 b', (s) => s.length), 0);
  assert.equal(await page.getAttribute('.organize .note a', 'href'), 'https://example.org/p');

  // Unchanged on a fresh load.
  await page.reload();
  await page.waitForSelector(`main[data-ready="/runs/${id}"]`);
  assert.deepEqual(await page.$$eval('.organize .tags .tag', (a) => a.map((x) => x.textContent)), ['good', 'study']);
  await shot(page, 'run-organize-page');
  // For docs/: the card alone.
  await (await page.$('.organize')).screenshot({ path: join(ARTIFACTS, 'run-organize.png') });
  if (process.env.QLAB_UPDATE_SCREENSHOT) copyFileSync(join(ARTIFACTS, 'run-organize.png'), join(REPO, 'docs/img/run-organize.png'));

  // A tag opens the runs list filtered on it by the server.
  await page.click('.organize .tags .tag[data-tag="study"]');
  await page.waitForSelector('main[data-ready="/runs"]');
  assert.equal(await page.inputValue('.run-filter input'), 'tag = "study"');
  await page.waitForFunction(() => document.querySelectorAll('.runs-table tbody tr td a[href^="#/runs/"]').length > 0);
  const listed = await page.$$eval('.runs-table tbody tr', (rows) => rows.map((r) => r.querySelector('a')?.textContent).filter(Boolean));
  assert.deepEqual(listed, [String(id)], 'only the tagged run');
  assert.ok(await page.$('.tag-chips .tag.active[data-tag="study"]'));
  clean(page);
  await context.close();
});

test('the runs list: any filter, chips of the tags shown, the server\'s 400 said on the page', async () => {
  await admin.call('PATCH', `/runs/${runs[1].id}`, { tags: ['study', 'seed2'] });
  const context = await withToken(ADMIN);
  const page = await open(context, srv.url, '/runs', { allow: [/status of 400/] });
  assert.deepEqual(await page.$$eval('.tag-chips .tag', (a) => a.map((x) => x.textContent)), ['good', 'seed2', 'study']);
  await page.fill('.run-filter input', `tag in (study, seed2) and sweep = ${sweep.id} and arith.forward.mac.acc = "e6m5"`);
  await page.press('.run-filter input', 'Enter');
  await page.waitForFunction(() => /filter=/.test(location.hash) && document.querySelector('main[data-ready="/runs"]'));
  await page.waitForSelector('.runs-table th');
  const ids = await page.$$eval('.runs-table tbody tr', (rows) => rows.map((r) => Number(r.querySelector('a')?.textContent)).filter(Boolean));
  const want = (await admin.get(`/runs?sweep=${sweep.id}&filter=${encodeURIComponent('tag in (study, seed2) and arith.forward.mac.acc = "e6m5"')}`)).runs.map((r) => r.id);
  assert.ok(want.length >= 1);
  assert.deepEqual(ids.sort(), want.sort());
  // The tags column is there once runs carry tags.
  assert.ok((await page.$$eval('.runs-table th', (t) => t.map((x) => x.textContent))).some((t) => /tags/.test(t)));

  await page.fill('.run-filter input', 'nope = 1');
  await page.press('.run-filter input', 'Enter');
  await page.waitForSelector('.filter-error:not([hidden])');
  assert.match(await page.textContent('.filter-error'), /bad_param at \?filter: .*nope/);
  await page.click('.run-filter a.clear');
  await page.waitForFunction(() => location.hash === '#/runs');
  await page.waitForSelector('main[data-ready="/runs"] .runs-table');
  assert.equal(await page.$eval('.filter-error', (e) => e.hidden), true);
  clean(page);
  await context.close();
});

test('a sweep page: tags and note, the sweeps list by tag, edits from elsewhere arrive live, the results CSV', async () => {
  const context = await withToken(ADMIN);
  const page = await open(context, srv.url, `/sweeps/${sweep.id}`);
  await page.click('.organize button.edit');
  await page.fill('.organize-form input[name=tags]', 'acc-study');
  await page.fill('.organize-form textarea[name=note]', 'Accumulators:\n1. e6m5\n2. fp32');
  await page.click('.organize-form button.save');
  await page.waitForSelector('.organize .note ol');
  const stored = (await admin.get(`/sweeps/${sweep.id}`)).sweep;
  assert.deepEqual(stored.tags, ['acc-study']);
  assert.equal(stored.note, 'Accumulators:\n1. e6m5\n2. fp32');
  assert.deepEqual(await page.$$eval('.organize .note li', (l) => l.map((x) => x.textContent)), ['e6m5', 'fp32']);

  // An edit made elsewhere (qlab note, the API) shows up on the open page.
  await admin.call('PATCH', `/sweeps/${sweep.id}`, { name: 'renamed-elsewhere', add_tags: ['cli'] });
  await page.waitForFunction(() => document.querySelector('.page-head h1')?.textContent === 'renamed-elsewhere', null, { timeout: 5000 });
  await page.waitForSelector('.organize .tag[data-tag="cli"]', { timeout: 5000 });

  // The server's results table, the one qlab export --csv writes.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button.results-csv')]);
  assert.equal(dl.suggestedFilename(), `sweep-${sweep.id}-results.csv`);
  const got = readFileSync(await dl.path(), 'utf8');
  const res = await fetch(`${srv.url}/api/v1/sweeps/${sweep.id}/results?format=csv`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(got, await res.text());
  assert.equal(got.trim().split(/\r?\n/).length, 1 + runs.length);
  await shot(page, 'sweep-organize');

  // A tag leads to the sweeps list filtered on it.
  await page.click('.organize .tag[data-tag="acc-study"]');
  await page.waitForSelector('main[data-ready="/sweeps"]');
  assert.match(await page.textContent('.sweep-filter'), /tag = "acc-study"/);
  assert.deepEqual(await page.$$eval('table.sweeps tbody tr', (r) => r.map((x) => x.dataset.sweep)), [String(sweep.id)]);
  clean(page);
  await context.close();
});

test('a read token cannot edit: the page says why and nothing changes', async () => {
  const context = await withToken(READ);
  const page = await open(context, srv.url, `/runs/${single.id}`, { allow: [/status of 403/] });
  await page.click('.organize button.edit');
  await page.fill('.organize-form input[name=tags]', 'mine');
  await page.click('.organize-form button.save');
  await page.waitForSelector('.organize-error:not([hidden])');
  assert.match(await page.textContent('.organize-error'), /may not change anything/);
  assert.deepEqual((await admin.get(`/runs/${single.id}`)).run.tags, []);
  clean(page);
  await context.close();
});

test('Delete removes the run with its data and goes back to the runs list', async () => {
  const context = await withToken(ADMIN);
  const page = await open(context, srv.url, `/runs/${single.id}`);
  page.once('dialog', (d) => d.accept());
  await page.click('.organize button.delete');
  await page.waitForSelector('main[data-ready="/runs"]');
  const res = await fetch(`${srv.url}/api/v1/runs/${single.id}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  assert.equal(res.status, 404);
  assert.equal(await page.$(`.runs-table a[href="#/runs/${single.id}"]`), null);
  clean(page);
  await context.close();
});
