/**
 * @file Initializers (engine/init.ts) and layers (nn/layers.ts). Each rule's values have the
 * distribution torch.nn.init documents for it (the bounds and standard deviations below are the
 * formulas of PyTorch's docs for xavier_*, kaiming_* with fan_in and relu, and nn.Linear's
 * reset_parameters); seeds repeat and differ; compile() starts parameters from them on every
 * backend; mlp() builds the network a hand-written graph does; and a hidden layer started by it
 * learns where one started at zero does not.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { type Init, initValues } from '../engine/init.js';
import { linear, mlp } from '../nn/layers.js';
import { adam } from '../optim/adam.js';
import { CpuBackend } from '../runtime/cpu.js';
import { compile } from '../runtime/model.js';
import { assertClose, cpu64, randoms, webgpu } from './helpers.js';

/** Mean and variance of a sample. */
function moments(v: ArrayLike<number>): { mean: number; variance: number; min: number; max: number } {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) {
    s += v[i]!;
    min = Math.min(min, v[i]!);
    max = Math.max(max, v[i]!);
  }
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i]! - mean) ** 2;
  return { mean, variance: q / (v.length - 1), min, max };
}

// A [300, 200] weight: fan_in 200, fan_out 300, 60000 draws.
const SHAPE = [300, 200];
const N = 60000;
const FAN_IN = 200;
const FAN_OUT = 300;

/** Each rule: its expected mean and standard deviation, and for a uniform rule its bound (|low| = high). */
const RULES: [string, Init, number, number, { low: number; high: number } | null][] = [
  ['normal', { rule: 'normal', mean: 0.5, std: 2, seed: 1 }, 0.5, 2, null],
  ['uniform', { rule: 'uniform', low: -1, high: 3, seed: 1 }, 1, 4 / Math.sqrt(12), { low: -1, high: 3 }],
  // xavier_uniform_: a = gain * sqrt(6 / (fan_in + fan_out)); xavier_normal_: std = gain * sqrt(2 / (fan_in + fan_out)).
  ['glorotUniform', { rule: 'glorotUniform', gain: 2, seed: 1 }, 0, 2 * Math.sqrt(2 / (FAN_IN + FAN_OUT)), { low: -2 * Math.sqrt(6 / (FAN_IN + FAN_OUT)), high: 2 * Math.sqrt(6 / (FAN_IN + FAN_OUT)) }],
  ['glorotNormal', { rule: 'glorotNormal', gain: 1, seed: 1 }, 0, Math.sqrt(2 / (FAN_IN + FAN_OUT)), null],
  // kaiming_uniform_ (relu, fan_in): bound = sqrt(6 / fan_in); kaiming_normal_: std = sqrt(2 / fan_in).
  ['heUniform', { rule: 'heUniform', seed: 1 }, 0, Math.sqrt(2 / FAN_IN), { low: -Math.sqrt(6 / FAN_IN), high: Math.sqrt(6 / FAN_IN) }],
  ['heNormal', { rule: 'heNormal', seed: 1 }, 0, Math.sqrt(2 / FAN_IN), null],
  // nn.Linear: weight kaiming_uniform_(a = sqrt(5)) and bias uniform, both bound 1 / sqrt(fan_in).
  ['linear', { rule: 'linear', fanIn: FAN_IN, seed: 1 }, 0, 1 / Math.sqrt(3 * FAN_IN), { low: -1 / Math.sqrt(FAN_IN), high: 1 / Math.sqrt(FAN_IN) }],
];

for (const [name, init, mean, std, bounds] of RULES) {
  test(`${name}: the mean, spread and bounds torch.nn.init gives it`, () => {
    const v = initValues(init, SHAPE);
    assert.is(v.length, N);
    const m = moments(v);
    // The sample mean is within 5 standard errors; the variance within 3% (its relative standard error at 60000 draws is under 1%).
    assert.ok(Math.abs(m.mean - mean) < (5 * std) / Math.sqrt(N), `${name}: mean ${m.mean}, expected ${mean}`);
    assert.ok(Math.abs(m.variance / std ** 2 - 1) < 0.03, `${name}: variance ${m.variance}, expected ${std ** 2}`);
    if (bounds) {
      assert.ok(m.min >= bounds.low && m.max <= bounds.high, `${name}: values within [${bounds.low}, ${bounds.high}], got [${m.min}, ${m.max}]`);
      const range = bounds.high - bounds.low;
      assert.ok(m.min < bounds.low + range * 1e-3 && m.max > bounds.high - range * 1e-3, `${name}: the draws reach both ends of the range`);
    }
    assertClose(initValues(init, SHAPE), v, 0, `${name}: the same seed gives the same values`);
    const other = initValues({ ...init, seed: 2 } as Init, SHAPE);
    assert.ok(other.some((x, i) => x !== v[i]), `${name}: another seed gives other values`);
  });
}

test('zeros and constant fill; a rule that reads fans needs a weight; a bad initializer names the parameter and the field', () => {
  assertClose(initValues({ rule: 'zeros' }, [3, 2]), new Float64Array(6), 0, 'zeros');
  assertClose(initValues({ rule: 'constant', value: 0.25 }, [4]), [0.25, 0.25, 0.25, 0.25], 0, 'constant');
  const g = new Graph();
  let k = 0;
  const bad = (init: unknown, shape: number[], re: RegExp) => assert.throws(() => g.param(`p${k++}`, shape, init as Init), re);
  bad({ rule: 'glorotUniform', gain: 1, seed: 0 }, [4], /glorotUniform needs a \[out, in\] weight, got \[4\]/);
  bad({ rule: 'xavier', seed: 0 }, [2, 2], /unknown initializer rule "xavier"; the rules are zeros, constant, normal, uniform, glorotUniform, glorotNormal, heUniform, heNormal, linear/);
  bad({ rule: 'normal', mean: 0, std: 0, seed: 0 }, [2], /the normal initializer's std must be over 0, got 0/);
  bad({ rule: 'normal', mean: 0, std: 1 }, [2], /the normal initializer's seed must be a finite number, got undefined/);
  bad({ rule: 'uniform', low: 1, high: 1, seed: 0 }, [2], /the uniform initializer needs high > low, got low 1 and high 1/);
  bad({ rule: 'heNormal', seed: -1 }, [2, 2], /the heNormal initializer's seed must be a whole number in \[0, 4294967295\], got -1/);
  bad({ rule: 'zeros', std: 1 }, [2], /the zeros initializer has no field "std" \(it takes none\)/);
  assert.throws(() => g.param('W', [2, 2], { rule: 'normal', mean: 0, std: NaN, seed: 0 }), /param "W": the normal initializer's std must be a finite number, got NaN/);
});

test('compile starts each parameter from its initializer, on WebGPU and the CPU; a write replaces it; replicates start alike', async () => {
  for (const backend of [await webgpu(), cpu64(), new CpuBackend('f32')]) {
    const g = new Graph();
    const X = g.input('X', [50, 3]);
    const Y = g.input('Y', [50, 1]);
    const pred = linear(g, X, 1, { seed: 7 });
    const loss = g.mean(g.squaredError(pred, Y));
    const model = await compile(g, { loss, optimizer: adam({ lr: 0.01 }), backend });
    for (const name of ['W', 'b']) {
      const node = g.byName(name)!.node;
      const want = initValues((node.attrs as { init: Init }).init, node.shape);
      assert.ok(want.every((v) => Math.abs(v) <= 1 / Math.sqrt(3) && v !== 0), `${name}: nn.Linear's U(±1/√3)`);
      assertClose(await model.read(name), want, backend.precision === 'f32' ? 1e-7 : 0, `${backend.description}: ${name} as initialized`);
    }
    model.write({ W: [1, 2, 3] });
    assertClose(await model.read('W'), [1, 2, 3], 0, `${backend.description}: a write replaces the start`);
    model.dispose();
  }
  const g = new Graph();
  const X = g.input('X', [50, 3]);
  const Y = g.input('Y', [50, 1]);
  const loss = g.mean(g.squaredError(linear(g, X, 1, { seed: 7 }), Y));
  const model = await compile(g, { loss, optimizer: adam({ lr: 0.01 }), backend: await webgpu(), replicates: 3 });
  const W = await model.read('W');
  const one = initValues((g.byName('W')!.node.attrs as { init: Init }).init, [1, 3]);
  assertClose(W, [...one, ...one, ...one], 1e-7, 'every replicate starts from the same weights');
  model.dispose();
});

test('mlp: layers W1, b1, ... with the activation between and none on the outputs, each seeded on its own; its predictions are the hand-written network\'s', async () => {
  const g = new Graph();
  const X = g.input('X', [40, 4]);
  const pred = mlp(g, X, [6, 5, 2], 'relu', { seed: 3 });
  assert.equal(pred.shape, [40, 2]);
  const params = g.leaves('param').map((n) => `${n.attrs.name}[${n.shape}]`);
  assert.equal(params, ['W1[6,4]', 'b1[6]', 'W2[5,6]', 'b2[5]', 'W3[2,5]', 'b3[2]']);
  assert.is(g.nodes.filter((n) => n.op === 'relu').length, 2, 'an activation after each hidden layer, none after the outputs');
  const seeds = g.leaves('param').map((n) => ((n.attrs as { init: Init }).init as { seed: number }).seed);
  assert.is(new Set(seeds).size, seeds.length, 'every parameter draws from its own seed');
  assert.match(g.toString(), /param "W1" \(init linear U\(±0\.5\), seed \d+\)/);
  // The same network by hand, with mlp's starting values written into it.
  const h = new Graph();
  const hX = h.input('X', [40, 4]);
  let z = hX;
  [6, 5, 2].forEach((units, l) => {
    const lin = h.add(h.matmul(z, h.transpose(h.param(`W${l + 1}`, [units, z.shape[1]!]))), h.param(`b${l + 1}`, [units]));
    z = l === 2 ? lin : h.relu(lin);
  });
  const model = await compile(g, { backend: cpu64() });
  const hand = await compile(h, { backend: cpu64() });
  for (const n of g.leaves('param')) hand.write({ [n.attrs.name]: await model.read(n.attrs.name) });
  const x = randoms(9 * 4, 5);
  assertClose(await model.predict({ X: x }), await hand.predict({ X: x }, { outputs: z }), 0, 'the same predictions');
  assert.throws(() => mlp(g, X, [], 'relu'), /mlp: sizes must list each layer's units, the outputs last/);
  assert.throws(() => mlp(g, X, [3], 'gelu' as never), /mlp: the activation is one of tanh, relu, sigmoid, got "gelu"/);
  assert.throws(() => linear(g, g.input('v', [5]), 2), /linear: the input must be \[rows, features\], got \[5\]/);
  linear(g, X, 2);
  assert.throws(() => linear(g, X, 2), /param "W": the graph already has an input or parameter of that name/);
});

test('a hidden layer started by mlp learns sin(x); the same network started at zero stays at the mean', async () => {
  const n = 128;
  const x = Float64Array.from({ length: n }, (_, i) => -2 + (4 * i) / (n - 1));
  const y = x.map(Math.sin);
  const fit = async (build: (g: Graph, X: ReturnType<Graph['input']>) => ReturnType<Graph['input']>) => {
    const g = new Graph();
    const X = g.input('X', [n, 1]);
    const Y = g.input('Y', [n, 1]);
    const model = await compile(g, { loss: g.mean(g.squaredError(build(g, X), Y)), optimizer: adam({ lr: 0.02 }), backend: await webgpu() });
    model.write({ X: x, Y: y });
    const run = await model.train({ epochs: 1500 });
    model.dispose();
    return run.loss[run.loss.length - 1]!;
  };
  const learnt = await fit((g, X) => mlp(g, X, [16, 1], 'tanh', { seed: 1 }));
  const zeros = await fit((g, X) => mlp(g, X, [16, 1], 'tanh', { weightInit: 'zeros', biasInit: 'zeros' }));
  // The mean's loss: the variance of sin on [-2, 2] is about 0.6; zero weights give every unit the same zero gradient.
  const variance = moments(y).variance * ((n - 1) / n);
  assert.ok(learnt < 1e-3, `mlp's start: loss ${learnt}`);
  assert.ok(Math.abs(zeros - variance) < 1e-3 * variance, `zero start: loss ${zeros}, the targets' variance ${variance}`);
});

test.run();
