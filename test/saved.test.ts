/**
 * @file Saving and loading (runtime/saved.ts): model.state() through JSON, then Model.load() and
 * train on, equals a run that never stopped (the optimizer's moments, its step count and the
 * shuffle's epoch key included), on every plan; a model saved on WebGPU predicts on the CPU; and
 * a saved model that does not fit is refused with what differs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { mlp } from '../nn/layers.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import type { Optimizer } from '../optim/optimizer.js';
import { CpuBackend } from '../runtime/cpu.js';
import { type CompileOptions, Model, type ModelState, compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { assertClose, cpu64, randoms, rejects, webgpu } from './helpers.js';

const N = 96;
const D = 4;
type Options = Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'>;

function data(seed: number, rows = N) {
  const X = randoms(rows * D, seed);
  const Y = Float64Array.from({ length: rows }, (_, r) => Math.sin(2 * X[r * D]!) - X[r * D + 1]! * X[r * D + 2]!);
  return { X, Y };
}

/** A 4 → 6 → 1 tanh network from nn's layers, with its data (and validation set) written. */
async function network(backend: Backend, options: Options, optimizer: () => Optimizer = () => adam({ lr: 0.02 })) {
  const g = new Graph();
  const X = g.input('X', [N, D]);
  const Y = g.input('Y', [N, 1]);
  const loss = g.mean(g.squaredError(mlp(g, X, [6, 1], 'tanh', { seed: 4 }), Y));
  const model = await compile(g, { loss, optimizer: optimizer(), backend, ...options });
  feed(model, options);
  return model;
}

function feed(model: Model, options: Options) {
  model.write(data(1));
  if (options.validationRows) model.write(data(2, options.validationRows), 'validation');
}

/** model.state() as it would come back from a file. */
const throughJson = async (model: Model): Promise<ModelState> => JSON.parse(JSON.stringify(await model.state())) as ModelState;

const PLANS: [string, () => Promise<Backend> | Backend, Options][] = [
  ['WebGPU tiny, shuffled minibatches and validation', webgpu, { plan: 'tiny', batchSize: 32, shuffle: true, validationRows: 20 }],
  ['WebGPU fused, shuffled minibatches and validation', webgpu, { plan: 'fused', batchSize: 32, shuffle: true, validationRows: 20 }],
  ['WebGPU per-node', webgpu, { plan: 'per-node' }],
  ['CPU compiled, shuffled minibatches and validation', () => new CpuBackend('f64'), { batchSize: 32, shuffle: true, validationRows: 20 }],
  ['CPU reference', cpu64, { plan: 'reference' }],
];

for (const [what, backendOf, options] of PLANS) {
  test(`save, load, train on: ${what}, equal to a run that never stopped`, async () => {
    const backend = await backendOf();
    const [a, whole] = [await network(backend, options), await network(backend, options)];
    await a.train({ epochs: 7 });
    const saved = await throughJson(a);
    const b = await Model.load(saved, { backend, plan: options.plan });
    assert.is(b.planName, a.planName);
    const x = randoms(9 * D, 5);
    assertClose(await b.predict({ X: x }), await a.predict({ X: x }), 0, `${what}: predictions after loading`);
    feed(b, options);
    const after = await b.train({ epochs: 8 });
    const want = await whole.train({ epochs: 15 });
    assertClose(after.loss, want.loss.subarray(7), 0, `${what}: the losses of epochs 8-15`);
    if (options.validationRows) assertClose(after.validLoss!, want.validLoss!.subarray(7), 0, `${what}: the validation losses`);
    for (const p of ['W1', 'b1', 'W2', 'b2']) assertClose(await b.read(p), await whole.read(p), 0, `${what}: ${p}`);
    // The divergence messages count epochs since the first compile.
    assert.is(saved.epochsTrained, 7);
  });
}

test('the saved format: JSON with the graph, options, parameters and Adam\'s moments and step count', async () => {
  const model = await network(cpu64(), { batchSize: 32, shuffle: true, seed: 9 });
  await model.train({ epochs: 3 });
  const s = await model.state();
  assert.is(s.format, 'fusegrad-model-1');
  assert.equal(s.graph.nodes.slice(0, 3).map((n) => n.op), ['input', 'input', 'param']);
  assert.equal(s.graph.nodes[2]!.attrs.name, 'W1');
  assert.equal(s.options, { shuffle: true, dropLast: false, seed: 9, validationRows: 0, replicates: 1, batchSize: 32 });
  assert.is(s.optimizer!.name, 'adam');
  assert.equal(Object.keys(s.training!.slots), ['W1', 'b1', 'W2', 'b2']);
  assert.is(s.training!.slots.W1!.length, 2, 'first and second moments');
  assert.equal(s.training!.steps, [9], '3 epochs of 3 batches');
  assert.is(s.training!.epochs, 3);
  assertClose(s.params.W1!, await model.read('W1'), 0, 'the weights');
});

test('saved on WebGPU, loaded on the CPU: the same predictions in float64, and it trains on', async () => {
  const gpu = await network(await webgpu(), {});
  await gpu.train({ epochs: 20 });
  const saved = await throughJson(gpu);
  const cpu = await Model.load(saved, { backend: cpu64() });
  const x = randoms(30 * D, 6);
  // float32 against float64 arithmetic on the same (float32) weights: dot products of 4 and 6 terms and a tanh.
  assertClose(await cpu.predict({ X: x }), await gpu.predict({ X: x }), 1e-5, 'CPU predictions of the WebGPU-trained model');
  feed(cpu, {});
  const run = await cpu.train({ epochs: 5 });
  assert.ok(run.loss[4]! < run.loss[0]!, 'it trains on');
});

test('replicates and sweeps: each replicate\'s parameters, state and hyperparameters come back', async () => {
  const options: Options = { bootstrap: 'pairs', replicates: 3, seed: 2 };
  const [a, whole] = [await network(await webgpu(), options), await network(await webgpu(), options)];
  await a.train({ epochs: 5 });
  const b = await Model.load(await throughJson(a), { backend: await webgpu() });
  feed(b, options);
  const [after, want] = [await b.train({ epochs: 5 }), await whole.train({ epochs: 10 })];
  for (let r = 0; r < 3; r++) assertClose(after.replicates!.loss[r]!, want.replicates!.loss[r]!.subarray(5), 0, `replicate ${r}`);
  const sweep: Options = { sweep: { lr: [0.01, 0.03, 0.1], momentum: [0.9, 0.5, 0] } };
  const momentum = () => sgd({ lr: 0.01, momentum: 0.9 });
  const [c, d] = [await network(cpu64(), sweep, momentum), await network(cpu64(), sweep, momentum)];
  await c.train({ epochs: 4 });
  const saved = await throughJson(c);
  assert.equal(saved.options.sweep, { lr: [0.01, 0.03, 0.1], momentum: [0.9, 0.5, 0] });
  const e = await Model.load(saved, { backend: cpu64() });
  feed(e, sweep);
  const [again, all] = [await e.train({ epochs: 4 }), await d.train({ epochs: 8 })];
  for (let r = 0; r < 3; r++) assertClose(again.replicates!.loss[r]!, all.replicates!.loss[r]!.subarray(4), 0, `sweep replicate ${r}`);
});

test('a saved model that does not fit is refused with what differs, and nothing is written', async () => {
  const model = await network(cpu64(), {});
  await model.train({ epochs: 2 });
  const saved = await throughJson(model);
  const g = new Graph();
  const X = g.input('X', [N, D]);
  const Y = g.input('Y', [N, 1]);
  const wider = await compile(g, { loss: g.mean(g.squaredError(mlp(g, X, [7, 1], 'tanh'), Y)), optimizer: adam(), backend: cpu64() });
  const before = await wider.read('W1');
  assert.throws(() => wider.loadState(saved), /loadState: the parameter "W1" is \[7,4\] here and \[6,4\] in the saved model/);
  assertClose(await wider.read('W1'), before, 0, 'nothing written');
  const other = await network(cpu64(), {}, () => sgd({ lr: 0.1 }));
  assert.throws(() => other.loadState(saved), /loadState: this model trains with sgd, the saved one with "adam"/);
  const cut = { ...saved, params: { ...saved.params, W2: saved.params.W2!.slice(1) } };
  assert.throws(() => other.loadState({ ...cut, optimizer: { name: 'sgd', hyper: [{ lr: 0.1, momentum: 0, dampening: 0, nesterov: 0, weightDecay: 0 }] } }), /loadState: params\.W2 must be a list of 6 numbers, got 5/);
  const nan = { ...saved, params: { ...saved.params, b1: [1, 2, 3, null, 5, 6] } } as unknown as ModelState;
  assert.throws(() => model.loadState(nan), /loadState: params\.b1\[3\] is null, not a finite number/);
  await rejects(() => Model.load({ format: 'fusegrad-linear-1' } as never), /Model\.load: not a saved fusegrad model \(format "fusegrad-linear-1", expected "fusegrad-model-1"\)/);
  await rejects(() => Model.load(saved, { epochs: 3 } as never), /Model\.load: unknown option "epochs"; the options are backend, plan, layout, threads/);
  const broken = JSON.parse(JSON.stringify(saved)) as ModelState;
  broken.graph.nodes[3]!.shape = [5, 6];
  await rejects(() => Model.load(broken), /Model\.load: graph\.nodes\[3\] \(matmul\) is \[96,6\] when rebuilt, but saved as \[5,6\]/);
});

/** y = X Wᵀ + b at `rows` rows with plain SGD (no optimizer state), on the first `rows` of one seeded data set. */
async function linear(backend: Backend, rows: number, options: Options = {}) {
  const g = new Graph();
  const X = g.input('X', [rows, D]);
  const Y = g.input('Y', [rows, 1]);
  const pred = g.add(g.matmul(X, g.transpose(g.param('W', [1, D]))), g.param('b', [1]));
  const model = await compile(g, { loss: g.mean(g.squaredError(pred, Y)), optimizer: sgd({ lr: 0.1 }), backend, ...options });
  const d = data(3, 400);
  model.write({ X: d.X.subarray(0, rows * D), Y: d.Y.subarray(0, rows) });
  return { model, pred };
}

test('resize: recompiled for other rows and batches, the model goes on from its parameters, and the tensors it was built with still name their nodes', async () => {
  for (const backend of [await webgpu(), cpu64()]) {
    const { model, pred } = await linear(backend, 100);
    await model.train({ epochs: 5 });
    const d400 = data(3, 400);
    assert.throws(() => model.write({ X: d400.X, Y: d400.Y }), /write X: 400 rows, but the model was compiled for 100; await model\.resize\(\{ rows: 400 \}\) recompiles it for them/);
    const line = await model.resize({ rows: 400, batchSize: 50 });
    assert.match(line, /^resize: recompiled for 400 rows in batches of 50 \(was 100\) on the \w+ plan; the parameters, the optimizer's state and the 5 epochs trained carried over; write the data again$/);
    await rejects(() => model.train({ epochs: 1 }), /train: inputs X, Y not written yet/);
    const d = data(3, 400);
    model.write({ X: d.X, Y: d.Y });
    const after = await model.train({ epochs: 4 });
    // The same, by hand: a model compiled for 400 rows in batches of 50, started from the 100-row model's parameters (SGD keeps no state).
    const { model: twin } = await linear(backend, 100);
    await twin.train({ epochs: 5 });
    const [W, b] = [await twin.read('W'), await twin.read('b')];
    const { model: wide } = await linear(backend, 400, { batchSize: 50 });
    wide.write({ W, b });
    assertClose(after.loss, (await wide.train({ epochs: 4 })).loss, 0, `${backend.kind}: the losses at 400 rows`);
    assertClose(await model.read('W'), await wide.read('W'), 0, `${backend.kind}: the weights`);
    const x = randoms(7 * D, 8);
    assertClose(await model.predict({ X: x }, { outputs: pred }), await wide.predict({ X: x }), 0, `${backend.kind}: a tensor of the first graph still names the prediction`);
  }
  // Adam's moments and step count carry over: resized and fed the same rows, it trains on as a model that never stopped.
  const [a, whole] = [await network(cpu64(), {}), await network(cpu64(), {})];
  await a.train({ epochs: 6 });
  await a.resize({});
  feed(a, {});
  assertClose((await a.train({ epochs: 4 })).loss, (await whole.train({ epochs: 10 })).loss.subarray(6), 0, 'Adam across a resize');
  const g = new Graph();
  const X = g.input('X', [10, 2]);
  const Y = g.input('Y', [10, 1]);
  const perRow = g.add(g.matmul(X, g.transpose(g.param('W', [1, 2]))), g.param('P', [10, 1]));
  const m = await compile(g, { loss: g.mean(g.squaredError(perRow, Y)), optimizer: sgd(), backend: cpu64() });
  await rejects(() => m.resize({ rows: 20 }), /resize: the graph does not hold at 20 rows/);
  await rejects(() => m.resize({ cols: 3 } as never), /resize: unknown option "cols"; the options are rows, batchSize, validationRows/);
});

test.run();
