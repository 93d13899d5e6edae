// Headless Debian Chromium through playwright-core, and pages that record
// every console error and uncaught exception so a test can assert there
// were none.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './server.mjs';

export const ARTIFACTS = join(REPO, 'build/web-artifacts');

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/**
 * Opens base#path in a fresh page and waits until the dashboard says the
 * page is ready (main[data-ready] is set after the page module rendered).
 * page.problems() lists console errors and exceptions, minus `allow`.
 */
export async function open(context, base, path, { allow = [], ready = true } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !allow.some((re) => re.test(m.text()))) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  page.problems = () => problems;
  await page.goto(`${base}/#${path}`);
  if (ready) await page.waitForSelector(`main[data-ready="${path.split('?')[0]}"]`, { timeout: 10000 });
  return page;
}

export async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
