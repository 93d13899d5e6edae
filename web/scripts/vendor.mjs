// Copies the runtime files of the npm dependencies into vendor/, because
// qlab-server serves only what is under web/ and the dashboard must work
// without the network (no CDN). Runs as npm's postinstall, so `npm ci` is
// the whole build step. The IIFE build is what HTML reports inline (a
// report is one file: no modules to import); versions.json names the
// versions a report states.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = [
  ['node_modules/uplot/dist/uPlot.esm.js', 'vendor/uPlot.esm.js'],
  ['node_modules/uplot/dist/uPlot.iife.min.js', 'vendor/uPlot.iife.min.js'],
  ['node_modules/uplot/dist/uPlot.min.css', 'vendor/uPlot.min.css'],
  ['node_modules/uplot/LICENSE', 'vendor/uPlot.LICENSE.txt'],
];

mkdirSync(join(root, 'vendor'), { recursive: true });
for (const [from, to] of files) copyFileSync(join(root, from), join(root, to));
const uplot = JSON.parse(readFileSync(join(root, 'node_modules/uplot/package.json'), 'utf8')).version;
writeFileSync(join(root, 'vendor/versions.json'), JSON.stringify({ uplot }) + '\n');
console.log(`vendor: copied ${files.length} files into web/vendor/`);
