// Starts a real qlab-server on a free loopback port with a temporary
// database, serving web/, and stops it. The port is read from the line
// "listening on http://127.0.0.1:PORT" that the server prints at start.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export async function startServer({ bin = process.env.QLAB_SERVER_BIN || join(REPO, 'build/bin/qlab-server'), args = [] } = {}) {
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: run make first`);
  const dir = mkdtempSync(join(tmpdir(), 'qlab-web-'));
  // The tests lease runs as a fake worker that never sends heartbeats: a
  // lease long enough that a slow machine cannot expire it mid-test (args
  // given later override it).
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--db', join(dir, 'q.db'), '--web', join(REPO, 'web'),
    '--lease-ttl', '600', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = await new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`qlab-server did not say where it listens:\n${out}${log}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`qlab-server exited (${code}):\n${out}${log}`)); });
  });
  return {
    url,
    dir,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
