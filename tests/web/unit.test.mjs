// Unit tests of the dashboard's pure modules (no browser): the Pareto
// front and cost fields, column filters and ordering, the pointer-aware
// JSON parser, the grid view's aggregation, spec diffs, metric merging,
// families and progress, chart alignment, the per-layer heatmap, accuracy
// against bits, CSV, the report template and the format fields the submit
// page checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paretoFront, costValue, costKeys, costWaiting, costText } from '../../web/js/pareto.js';
import { compile, compare } from '../../web/js/filter.js';
import { parse, spanOf, JsonSyntaxError } from '../../web/js/jsonpos.js';
import { gridOf } from '../../web/js/grid.js';
import { diff, flatten, get } from '../../web/js/spec.js';
import { appendSeries, groupOf, parseLayerMetric, progressOf, seriesStyle } from '../../web/js/metrics.js';
import { align, lastAt } from '../../web/js/chart.js';
import { layerGrid, hottest } from '../../web/js/layer_heatmap.js';
import { bitsData } from '../../web/js/bits_plot.js';
import { ordered } from '../../web/js/axes.js';
import { toCsv } from '../../web/js/csv.js';
import { fillTemplate } from '../../web/js/report_link.js';
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

test('run costs: the axes offered, what waits, and the one-line text', () => {
  const ok = { lut: 852, ff: 132, dsp: 0, gates: 2358, lut_calibrated: 700, status: 'ok', tool: 'Yosys 0.23',
    groups: { forward: { mac: 'cfg=5', lut: 284 }, grad_input: { mac: 'cfg=5', lut: 284 }, grad_weight: { mac: 'cfg=5', lut: 284 } } };
  const pending = { lut: null, ff: null, dsp: null, gates: null, lut_calibrated: null, status: 'pending',
    groups: { forward: { mac: 'cfg=1', pending: 'qf_mul (xilinx) is not synthesized yet' } } };
  const bad = { lut: null, status: 'unsupported', groups: { forward: { mac: 'x', error: 'acc_rounding: stochastic', field: 'acc_rounding' } } };
  const runs = [{ cost: ok }, { cost: pending }, { cost: bad }, { cost: null }];
  assert.deepEqual(costKeys(runs), ['lut', 'gates', 'lut_calibrated'], 'LUTs first; ff and dsp are no axis');
  assert.deepEqual(costWaiting(runs), { pending: 1, unavailable: 0, unsupported: 1, failed: 0 });
  assert.equal(costValue(pending, 'lut'), null, 'nothing to plot while pending');
  assert.equal(costValue(ok, 'gates'), 2358);
  assert.match(costText(ok), /^852 LUT, 132 FF, 0 DSP, 2358 gates, 700 LUT calibrated: .*forward 284 LUT/);
  assert.match(costText(pending), /^pending \(forward: qf_mul/);
  assert.match(costText(bad), /unsupported.*stochastic/);
  assert.match(costText(null), /no hardware cost model/);
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
  assert.equal(groupOf('wgrad_swamping_rate'), 'swamping');
  assert.equal(groupOf('epoch_fwd_overflow_rate'), 'overflow');
  assert.equal(groupOf('fwd_scaling_clip_rate'), 'clip');
  assert.equal(groupOf('fwd_macs'), null);
  assert.equal(groupOf('layers_conv2_fwd_swamping_rate'), null, 'per-layer counters go to the heatmap');
  const t = { step: [1], value: [2], time: [100.5] };
  appendSeries(t, { x: { step: [4], value: [1], time: [101] } });
  assert.deepEqual(t.x, { step: [4], value: [1], time: [101] });
});

test('metrics: per-layer names, styles of sparse and grouped series', () => {
  assert.deepEqual(parseLayerMetric('layers_s2b1_c1_wgrad_clip_rate'), { layer: 's2b1_c1', group: 'wgrad', counter: 'clip' });
  assert.equal(parseLayerMetric('fwd_swamping_rate'), null);
  assert.equal(seriesStyle('val_acc', 0).points, true);
  assert.equal(seriesStyle('train_acc', 0).points, false);
  assert.equal(seriesStyle('epoch_fwd_swamping_rate', 3).stroke, seriesStyle('fwd_swamping_rate', 0).stroke);
  assert.notEqual(seriesStyle('bwd_swamping_rate', 1).stroke, seriesStyle('wgrad_swamping_rate', 2).stroke);
});

test('progress: step N of M, epoch, and an ETA from the stored times', () => {
  const run = { state: 'running', summary: {}, spec: { train: { epochs: 10, batch_size: 100 } } };
  // 10 steps every 2 s: 5 steps/s; 900 steps left -> 180 s, minus the 4 s since the last point.
  const series = {
    total_steps: { step: [10, 20, 30, 100], value: [1000, 1000, 1000, 1000], time: [0, 2, 4, 18] },
    epoch: { step: [100], value: [0] },
    images_per_s: { step: [100], value: [640] },
  };
  const p = progressOf(run, series, { now: 22 });
  assert.equal(p.step, 100);
  assert.equal(p.total, 1000);
  assert.equal(p.epoch, 0);
  assert.equal(p.epochs, 10);
  assert.equal(p.stepsPerS, 5);
  assert.equal(p.etaS, 176);
  // Without times, images/s over the batch size.
  const q = progressOf(run, { total_steps: { step: [100], value: [1000] }, images_per_s: { step: [100], value: [640] } });
  assert.equal(q.stepsPerS, 6.4);
  assert.equal(progressOf({ ...run, state: 'succeeded' }, series).etaS, null);
  assert.equal(progressOf({ state: 'queued', summary: {} }, {}).step, null);
});

test('charts: series align on steps or on stored times; sparse values carry forward', () => {
  const s = { a: { step: [1, 2, 3], value: [1, 2, 3], time: [10, 11, 12] }, b: { step: [2], value: [9], time: [11.5] } };
  assert.deepEqual(align(['a', 'b'], s).data, [[1, 2, 3], [1, 2, 3], [null, 9, null]]);
  const t = align(['a', 'b'], s, 'time');
  assert.deepEqual(t.data[0], [10, 11, 12], 'each step at its earliest stored time');
  assert.deepEqual(t.steps, [1, 2, 3]);
  assert.equal(lastAt([null, 9, null], 2), 9);
  assert.equal(lastAt([null, null], null), null);
});

test('layer heatmap: rows by layer and group, columns bucketed, the hottest row named', () => {
  const series = {
    layers_conv2_fwd_swamping_rate: { step: [10, 20, 30, 40], value: [0.1, 0.2, 0.1, 0.2] },
    layers_conv1_wgrad_swamping_rate: { step: [10, 20, 30, 40], value: [0, 0.01, 0, 0.01] },
    layers_conv10_fwd_swamping_rate: { step: [10, 20], value: [0.001, 0.001] },
    layers_conv1_fwd_swamping_rate: { step: [10, 20, 30, 40], value: [0, 0, 0, 0] },
    layers_conv1_fwd_overflow_rate: { step: [10], value: [1] },
    fwd_swamping_rate: { step: [10], value: [0.5] },
  };
  const g = layerGrid(series, 'swamping', 2);
  assert.deepEqual(g.rows.map((r) => r.key), ['conv1/fwd', 'conv1/wgrad', 'conv2/fwd', 'conv10/fwd']);
  assert.deepEqual(g.steps, [20, 40], 'two columns of two steps');
  assert.deepEqual(g.cells[2], [0.15000000000000002, 0.15000000000000002]);
  assert.deepEqual(g.cells[3], [0.001, null]);
  assert.equal(g.max, 0.15000000000000002);
  assert.equal(g.minPositive, 0.001);
  assert.equal(hottest(g).key, 'conv2/fwd');
  assert.equal(hottest(layerGrid({ layers_a_fwd_clip_rate: { step: [1], value: [0] } }, 'clip')), null);
});

test('accuracy vs bits: values ordered by bits, means per point and line', () => {
  const acc = { key: 'arith.forward.mac.acc', path: 'arith.forward.mac.acc', values: ['fp32', 'e6m5', 'q8.13', 'e4m7'], bits: [32, 12, 21, 12] };
  const seed = { key: 'train.seed', path: 'train.seed', values: [1, 2], bits: null };
  assert.deepEqual(ordered(acc).map((x) => x.value), ['e6m5', 'e4m7', 'q8.13', 'fp32']);
  const run = (a, sd, v) => ({ spec: { arith: { forward: { mac: { acc: a } } }, train: { seed: sd } }, summary: { val_acc: v } });
  const runs = [run('fp32', 1, 0.9), run('fp32', 2, 0.8), run('e6m5', 1, 0.7), run('e4m7', 2, 0.5), run('q8.13', 1, undefined)];
  const d = bitsData(runs, acc, null, 'val_acc');
  assert.deepEqual(d.xs, [0, 1, 2, 3]);
  assert.deepEqual(d.labels, ['e6m5 (12 b)', 'e4m7 (12 b)', 'q8.13 (21 b)', 'fp32 (32 b)']);
  assert.equal(d.lines.length, 1);
  assert.deepEqual(d.lines[0].ys.map((y) => (y === null ? null : Math.round(y * 100) / 100)), [0.7, 0.5, null, 0.85]);
  const perSeed = bitsData(runs, acc, seed, 'val_acc');
  assert.deepEqual(perSeed.lines.map((l) => l.label), ['train.seed=1', 'train.seed=2']);
  assert.deepEqual(perSeed.lines[1].ys, [null, 0.5, null, 0.8]);
  const byBits = bitsData(runs, acc, null, 'val_acc', 'bits');
  assert.deepEqual(byBits.xs, [12, 21, 32]);
  assert.equal(byBits.lines[0].ys[0], 0.6, 'e6m5 and e4m7 share 12 bits');
});

test('csv: quoting, full precision, objects as JSON', () => {
  const cols = [{ label: 'name', get: (r) => r.n }, { label: 'v', get: (r) => r.v }];
  assert.equal(toCsv(cols, [{ n: 'a,"b"', v: 0.1 + 0.2 }, { n: 'x', v: { k: 1 } }, { n: null }]),
    'name,v\r\n"a,""b""",0.30000000000000004\r\nx,"{""k"":1}"\r\n,\r\n');
});

test('report template: markers filled once, text inserted as is, no way out of the data script', () => {
  const tpl = '<title><!--QLAB:TITLE--></title><style>/*QLAB:UPLOT_CSS*/</style><script>/*QLAB:UPLOT_JS*/</script>' +
    '<script type="application/json">/*QLAB:DATA*/</script><script>/*QLAB:REPORT_JS*/</script>';
  const out = fillTemplate(tpl, { title: 'a<b', css: 'c', uplot: 'var x="$&$1";', script: 's', data: { name: '</script><b>' } });
  assert.match(out, /<title>a&lt;b<\/title>/);
  assert.ok(out.includes('var x="$&$1";'), 'replacement patterns are not expanded');
  assert.ok(!out.includes('</script><b>'));
  assert.deepEqual(JSON.parse(out.match(/json">(.*?)<\/script>/)[1]), { name: '</script><b>' });
  assert.throws(() => fillTemplate('nothing', { title: '', css: '', uplot: '', script: '', data: {} }), /no <!--QLAB:TITLE-->/);
});

test('cost: nested figures of any cost model are x-axis choices', () => {
  assert.deepEqual(costKeys([{ cost: { luts: 3, fwd: { dsps: 1, note: 'x' } } }, { cost: null }]), ['luts', 'fwd.dsps']);
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

test('tags: parsed as the server takes them, and the filter that selects one', async () => {
  const { parseTags, tagFilter, tagHref } = await import('../../web/js/organize.js');
  assert.deepEqual(parseTags('good, study  good,,fp8:e4m3'), { tags: ['good', 'study', 'fp8:e4m3'], bad: [] });
  assert.deepEqual(parseTags('ok bad!tag "q"'), { tags: ['ok'], bad: ['bad!tag', '"q"'] });
  assert.deepEqual(parseTags('x'.repeat(65)).bad.length, 1);
  assert.deepEqual(parseTags(''), { tags: [], bad: [] });
  assert.equal(tagFilter('a.b'), 'tag = "a.b"');
  assert.equal(tagHref('runs', 'a b'), '#/runs?filter=tag%20%3D%20%22a%20b%22');
});
