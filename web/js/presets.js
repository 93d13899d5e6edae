// Starting points for the configurations studied with qlab (docs/design.md):
// the fp32 baseline, e5m2 inputs under CFG-1..6 with an e6m5 accumulator,
// a q8.13 fixed-point accumulator, a 12-bit e4m7 accumulator with bias 10
// and truncation, and OCP Microscaling MXFP8/MXFP4. The browser tests
// submit every preset, so each one is a document the server accepts.

const lenet = (name, arith, extra = {}) => ({
  name,
  model: { arch: 'lenet5' },
  dataset: { name: 'fashion-mnist' },
  train: {
    epochs: 10, batch_size: 128, seed: 1, log_interval: 100,
    optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9, weight_decay: 5e-4 },
    schedule: { type: 'cosine' },
  },
  ...(arith ? { arith } : {}),
  ...extra,
});

// e5m2 gradients underflow without it.
const dynamicLoss = { scaling: { loss: { type: 'dynamic', init: 65536, growth_interval: 1000 } } };

export const PRESETS = [
  {
    id: 'fp32',
    label: 'fp32 baseline',
    note: 'LeNet-5 on Fashion-MNIST, every GEMM in fp32: the reference every other configuration is read against.',
    doc: lenet('lenet5-fp32'),
  },
  {
    id: 'e5m2-cfg',
    label: 'e5m2, CFG-1..6, e6m5 accumulator (sweep)',
    note: 'Sweeps the forward multiplier configuration CFG-1..6 with e5m2 operands and an e6m5 accumulator; the backward MAC stays at CFG-5.',
    doc: {
      name: 'e5m2-cfg1-6-e6m5',
      base: lenet('e5m2-e6m5', {
        forward: { weights: 'e5m2', activations: 'e5m2', mac: { cfg: 5, acc: 'e6m5', acc_rounding: 'rne', chunk: 32 } },
        backward: { errors: 'e5m2', mac: { cfg: 5, acc: 'e6m5', chunk: 32 } },
      }, dynamicLoss),
      method: 'grid',
      parameters: { 'arith.forward.mac.cfg': { values: [1, 2, 3, 4, 5, 6] } },
    },
  },
  {
    id: 'q8.13',
    label: 'q8.13 fixed-point accumulator',
    note: 'e5m2 operands under CFG-5, products accumulated in two\'s complement q8.13 (saturating).',
    doc: lenet('lenet5-e5m2-cfg5-q8.13', {
      forward: { weights: 'e5m2', activations: 'e5m2', mac: { cfg: 5, acc: 'q8.13' } },
      backward: { errors: 'e5m2', mac: { cfg: 5, acc: 'q8.13' } },
    }, dynamicLoss),
  },
  {
    id: 'e4m7-bias10',
    label: 'e4m7:bias=10 12-bit accumulator, rtz',
    note: 'A 12-bit float accumulator with its exponent range shifted down (bias 10), truncating (rtz) in chunks of 32.',
    doc: lenet('lenet5-fp8-e4m7b10-rtz', {
      forward: { weights: 'fp8_e4m3', activations: 'fp8_e4m3', mac: { cfg: 3, acc: 'e4m7:bias=10', acc_rounding: 'rtz', chunk: 32 } },
      backward: { errors: 'fp8_e5m2', mac: { cfg: 3, acc: 'e4m7:bias=10', acc_rounding: 'rtz', chunk: 32 } },
    }, dynamicLoss),
  },
  {
    id: 'mx',
    label: 'MXFP8 / MXFP4 (sweep)',
    note: 'OCP Microscaling: blocks of 32 share an E8M0 scale. Weights and activations each in MXFP8 (e4m3) or MXFP4 (e2m1).',
    doc: {
      name: 'lenet5-mxfp8-mxfp4',
      base: lenet('lenet5-mx', {
        forward: { weights: 'mxfp8_e4m3', activations: 'mxfp8_e4m3', mac: { cfg: 1, acc: 'fp32' } },
        backward: { errors: 'mxfp8_e5m2', mac: { cfg: 1, acc: 'fp32' } },
      }),
      method: 'grid',
      parameters: {
        'arith.forward.weights': { values: ['mxfp8_e4m3', 'mxfp4_e2m1'] },
        'arith.forward.activations': { values: ['mxfp8_e4m3', 'mxfp4_e2m1'] },
      },
    },
  },
  {
    id: 'acc-grid',
    label: 'Accumulator × seed grid (sweep)',
    note: 'The accumulators above side by side over three seeds: the sweep page\'s grid shows format × seed → val_acc.',
    doc: {
      name: 'accumulators-x-seeds',
      base: lenet('acc', {
        forward: { weights: 'e5m2', activations: 'e5m2', mac: { cfg: 5, acc: 'e6m5' } },
        backward: { errors: 'e5m2', mac: { cfg: 5, acc: 'e6m5' } },
      }, dynamicLoss),
      method: 'grid',
      parameters: {
        'arith.forward.mac.acc': { values: ['fp32', 'e6m5', 'q8.13', 'e4m7:bias=10'] },
        'train.seed': { values: [1, 2, 3] },
      },
    },
  },
];
