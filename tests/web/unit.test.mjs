// Unit tests of the dashboard's pure modules (no browser): the Pareto
// front, column filters and ordering, the pointer-aware JSON parser, the
// grid view's aggregation, spec diffs, metric merging and the format fields
// the submit page checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paretoFront, costValue } from '../../web/js/pareto.js';
import { compile, compare } from '../../web/js/filter.js';
import { parse, spanOf, JsonSyntaxError } from '../../web/js/jsonpos.js';
import { gridOf } from '../../web/js/grid.js';
import { diff, flatten, get } from '../../web/js/spec.js';
import { appendSeries, groupOf } from '../../web/js/metrics.js';
import { formatFields, sweepSize } from '../../web/js/validate.js';

test('pareto front keeps the runs nothing beats on cost and accuracy', () => {
  const pts = [{ x: 1, y: 0.8 }, { x: 2, y: 0.85 }, { x: 2, y: 0.7 }, { x: 3, y: 0.84 }, { x: 4, y: 0.9 }, { x: NaN, y: 1 }];
  assert.deepEqual(paretoFront(pts), [0, 1, 4]);
  assert.deepEqual(paretoFront([]), []);
  assert.equal(costValue(null), null);
  assert.equal(costValue(3.5), 3.5);
  assert.equal(costValue({ area: 2, energy: 5 }, 'energy'), 5);
  assert.equal(costValue({ note: 'x', area: 2 }), 2);
});

test('filters: substring, exact, comparisons, ranges, empty', () => {
  assert.ok(compile('e6')('e6m5'));
  assert.ok(!compile('=e6')('e6m5'));
  assert.ok(compile('=E6M5')('e6m5'));
  assert.ok(compile('!=fp32')('e6m5'));
  assert.ok(compile('>0.8')(0.81) && !compile('>0.8')(0.8) && !compile('>0.8')(null));
  assert.ok(compile('>=0.8 <0.9')(0.8) && !compile('>=0.8 <0.9')(0.9));
  assert.ok(compile('0.5..0.9')(0.9) && !compile('0.5..0.9')(0.91));
  assert.ok(compile('empty')(undefined) && !compile('!empty')(null));
  assert.ok(compile('=3')(3) && compile('=3')('3'));
  assert.equal(compile('  '), null);
});

test('ordering: numbers numerically, strings naturally, missing last both ways', () => {
  const xs = ['q16.16', 'q8.13', null, 'e6m5'];
  assert.deepEqual([...xs].sort((a, b) => compare(a, b, 1)), ['e6m5', 'q8.13', 'q16.16', null]);
  assert.deepEqual([...xs].sort((a, b) => compare(a, b, -1)), ['q16.16', 'q8.13', 'e6m5', null]);
  assert.deepEqual([10, 9, undefined, 100].sort((a, b) => compare(a, b, 1)), [9, 10, 100, undefined]);
});

test('jsonpos: values are found by pointer; syntax errors have line and column', () => {
  const text = '{\n  "a": {"b~/c": [1, "x"]},\n  "d": null\n}';
  const { value, spans } = parse(text);
  assert.deepEqual(value, { a: { 'b~/c': [1, 'x'] }, d: null });
  const s = spans.get('/a/b~0~1c/1');
  assert.equal(text.slice(s.start, s.end), '"x"');
  assert.equal(text.slice(spans.get('/d').keyStart, spans.get('/d').end), '"d": null');
  assert.equal(spanOf(spans, '/a/missing/deeper'), spans.get('/a'));
  assert.throws(() => parse('{\n  "a": 1,\n}'), (e) => e instanceof JsonSyntaxError && e.line === 3 && e.col === 1);
  assert.throws(() => parse('{"a": 1, "a": 2}'), /duplicate key/);
  assert.throws(() => parse('[1] x'), /after the document/);
});

test('grid: cells average the runs that share both values', () => {
  const rows = [
    { x: 'e6m5', y: 1, v: 0.8 }, { x: 'e6m5', y: 1, v: 0.9 }, { x: 'fp32', y: 2, v: 0.5 }, { x: 'fp32', y: 1 },
  ];
  const g = gridOf(rows, (r) => r.x, (r) => r.y, (r) => r.v);
  assert.deepEqual(g.xs, ['e6m5', 'fp32']);
  assert.deepEqual(g.ys, [1, 2]);
  assert.ok(Math.abs(g.cells[0][0].mean - 0.85) < 1e-12);
  assert.equal(g.cells[0][0].n, 2);
  assert.equal(g.cells[0][1], null);
  assert.equal(g.cells[1][1].mean, 0.5);
});

test('spec: flatten, get and diff by dotted path', () => {
  const a = { name: 'a', train: { seed: 1, lr: 0.1 }, model: { hidden: [1, 2] } };
  const b = { name: 'b', train: { seed: 2, lr: 0.1 }, model: { hidden: [1, 2] }, extra: true };
  assert.deepEqual([...flatten(a).keys()], ['name', 'train.seed', 'train.lr', 'model.hidden']);
  assert.equal(get(a, 'train.seed'), 1);
  assert.equal(get(a, 'train.nope.deeper'), undefined);
  const d = diff([a, b]).filter((r) => r.differs).map((r) => r.path);
  assert.deepEqual(d, ['name', 'train.seed', 'extra']);
});

test('metrics: increments append only new steps; names map to charts', () => {
  const s = { train_loss: { step: [1, 2], value: [3, 2] } };
  appendSeries(s, { train_loss: { step: [2, 3], value: [9, 1] }, val_acc: { step: [3], value: [0.5] } });
  assert.deepEqual(s.train_loss, { step: [1, 2, 3], value: [3, 2, 1] });
  assert.deepEqual(s.val_acc, { step: [3], value: [0.5] });
  assert.equal(groupOf('train_loss'), 'loss');
  assert.equal(groupOf('epoch_val_loss'), 'loss');
  assert.equal(groupOf('loss_scale'), 'scale');
  assert.equal(groupOf('val_acc'), 'acc');
  assert.equal(groupOf('lr'), 'lr');
  assert.equal(groupOf('wgrad_swamping_rate'), 'rates');
  assert.equal(groupOf('fwd_macs'), null);
});

test('submit checks every format string, sweep parameter values included', () => {
  const exp = { name: 'x', arith: { forward: { weights: 'e5m2', mac: { acc: 'e6m5', product: 'auto' } }, update: { momentum: null } }, train: { optimizer: { momentum: 0.9 } } };
  assert.deepEqual(formatFields(exp), [
    { pointer: '/arith/forward/weights', format: 'e5m2' },
    { pointer: '/arith/forward/mac/acc', format: 'e6m5' },
  ]);
  const sweep = { name: 's', base: exp, parameters: { 'arith.forward.mac.acc': { values: ['q8.13', 'native'] }, 'train.seed': { values: [1, 2, 3] } } };
  assert.deepEqual(formatFields(sweep).map((f) => f.pointer), [
    '/base/arith/forward/weights', '/base/arith/forward/mac/acc', '/parameters/arith.forward.mac.acc/values/0',
  ]);
  assert.equal(sweepSize(sweep), 6);
  assert.equal(sweepSize(exp), null);
});
