// Accuracy against hardware cost, with the Pareto front marked: the
// cheapest arithmetic that still trains. The cost is the server's
// synthesized figure of the run's three MAC units (docs/cost.md): LUTs by
// default, switchable to gates or calibrated LUTs. Runs still waiting for
// synthesis, or whose arithmetic the RTL cannot express, are counted under
// the plot; a server without a cost model (cost = null everywhere) says so.

import { h, fill } from './dom.js';
import { paretoFront, costValue, costKeys, costWaiting, COST_AXES } from './pareto.js';
import { num } from './fmt.js';

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of kids) if (c) el.append(c);
  return el;
}

export function scatter() {
  const el = h('section', { class: 'card scatter' });
  let runs = [];
  let metrics = [];
  let metric = null;
  let key = null;

  function draw() {
    if (!metrics.includes(metric)) metric = metrics.includes('val_acc') ? 'val_acc' : metrics[0] || null;
    const keys = costKeys(runs);
    if (!keys.includes(key)) key = keys[0] || null;
    const label = (k) => (COST_AXES.find(([c]) => c === k) || [k, k])[1];
    const pts = runs.map((r) => ({ x: costValue(r.cost, key), y: r.summary?.[metric], run: r }))
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    const head = h('h3', {}, 'Accuracy vs hardware cost');
    if (!runs.some((r) => r.cost !== null && r.cost !== undefined)) {
      fill(el, head, h('p', { class: 'notice', dataset: { nocost: '' } },
        'No cost model: the server reports cost = null for every run (it found no hw/ folder), so there is nothing to plot. ',
        'With hw/ beside qlab-server, each run carries the synthesized cost of its MAC units.'));
      return;
    }
    const w = costWaiting(runs);
    const waiting = [
      w.pending && `${w.pending} waiting for synthesis`,
      w.unavailable && `${w.unavailable} not synthesized (no Yosys runs on this server)`,
      w.unsupported && `${w.unsupported} with arithmetic the RTL cannot express`,
      w.failed && `${w.failed} whose synthesis failed`,
    ].filter(Boolean);
    const waitNote = waiting.length ? h('p', { class: 'muted', dataset: { costWaiting: '' } }, `Not plotted: ${waiting.join(', ')}.`) : null;
    const controls = h('div', { class: 'toolbar' },
      h('label', {}, 'accuracy ', h('select', { onchange: (e) => { metric = e.target.value; draw(); } },
        metrics.map((m) => h('option', { value: m, selected: m === metric }, m)))),
      keys.length > 1 && h('label', {}, 'cost ', h('select', { onchange: (e) => { key = e.target.value; draw(); } },
        keys.map((k) => h('option', { value: k, selected: k === key }, label(k))))));
    if (pts.length === 0) {
      fill(el, head, controls, h('p', { class: 'muted' }, `No run has both a cost and ${metric} yet.`), waitNote);
      return;
    }
    const W = 640, H = 320, L = 60, B = 40, T = 10, R = 24;
    const xs = pts.map((p) => p.x);
    const ys = pts.map((p) => p.y);
    const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
    const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
    const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const py = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - B - T);
    const front = paretoFront(pts);
    const onFront = new Set(front);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'scatter-plot', role: 'img' },
      s('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }),
      s('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }),
      ...[x0, (x0 + x1) / 2, x1].map((v) => s('text', { x: px(v), y: H - B + 16, class: 'tick', 'text-anchor': 'middle' }, num(v))),
      ...[y0, (y0 + y1) / 2, y1].map((v) => s('text', { x: L - 6, y: py(v) + 4, class: 'tick', 'text-anchor': 'end' }, num(v))),
      s('text', { x: (L + W) / 2, y: H - 4, class: 'label', 'text-anchor': 'middle' }, COST_AXES.some(([c]) => c === key) ? `${label(key)} of the three MAC units` : `cost (${key})`),
      s('text', { x: 12, y: (T + H - B) / 2, class: 'label', transform: `rotate(-90 12 ${(T + H - B) / 2})`, 'text-anchor': 'middle' }, metric),
      s('polyline', { class: 'front', points: front.map((i) => `${px(pts[i].x)},${py(pts[i].y)}`).join(' ') }),
      ...pts.map((p, i) => {
        const a = s('a', { href: `#/runs/${p.run.id}` },
          s('circle', { cx: px(p.x), cy: py(p.y), r: onFront.has(i) ? 5 : 3.5, class: onFront.has(i) ? 'pt on-front' : 'pt' },
            s('title', {}, `#${p.run.id} ${p.run.name}\n${metric} ${num(p.y)}, ${key} ${num(p.x)}${onFront.has(i) ? '\non the Pareto front' : ''}`)));
        return a;
      }));
    fill(el, head, controls, svg,
      h('p', { class: 'muted legend' }, `${front.length} of ${pts.length} runs on the Pareto front (larger dots, joined).`),
      waitNote);
  }

  return {
    el,
    setRuns(next, nextMetrics) { runs = next; metrics = nextMetrics; draw(); },
  };
}

function pad(lo, hi) {
  if (hi === lo) return [lo - 1, hi + 1];
  const d = (hi - lo) * 0.05;
  return [lo - d, hi + d];
}
