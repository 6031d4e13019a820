/**
 * @file model.predict: a trained model's outputs for rows it was not trained on, on every plan
 * and backend (WebGPU tiny, fused and per-node; the CPU's compiled plan and reference interpreter),
 * equal to the float64 forward pass written out here from the trained parameters; in chunks when
 * the rows pass one binding; by name and by replicate; and what predict and read refuse.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import type { FloatArray } from '../engine/ops.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import { CpuBackend } from '../runtime/cpu.js';
import { type CompileOptions, compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import type { WebGpuBackend } from '../runtime/webgpu.js';
import { chunkRows } from '../runtime/predict.js';
import { assertClose, cpu64, randoms, rejects, webgpu } from './helpers.js';

const N = 200;
const D = 5;
const H = 8;

/** A tanh network, 5 → 8 → 2, trained briefly on seeded data from seeded weights. */
async function network(backend: Backend, options: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'> = {}, epochs = 20) {
  const g = new Graph();
  const X = g.input('X', [N, D]);
  const Y = g.input('Y', [N, 2]);
  const W1 = g.param('W1', [H, D]);
  const b1 = g.param('b1', [H]);
  const W2 = g.param('W2', [2, H]);
  const b2 = g.param('b2', [2]);
  const hidden = g.tanh(g.add(g.matmul(X, g.transpose(W1)), b1));
  const pred = g.add(g.matmul(hidden, g.transpose(W2)), b2);
  const loss = g.mean(g.squaredError(pred, Y));
  const model = await compile(g, { loss, optimizer: adam({ lr: 0.02 }), backend, ...options });
  const x = randoms(N * D, 1);
  const y = Float64Array.from({ length: N * 2 }, (_, i) => Math.sin(2 * x[Math.floor(i / 2) * D + (i % 2)]!) + 0.5 * x[Math.floor(i / 2) * D + 2]!);
  model.write({ X: x, Y: y, W1: randoms(H * D, 2).map((v) => v / Math.sqrt(D)), W2: randoms(2 * H, 3).map((v) => v / Math.sqrt(H)) });
  if (options.validationRows) model.write({ X: randoms(options.validationRows * D, 4), Y: new Float64Array(options.validationRows * 2) }, 'validation');
  await model.train({ epochs });
  return { model, hidden, pred, X, Y };
}

/** The network's forward pass in float64, from its parameters as read: each row's hidden units and outputs. */
function forward(p: Record<string, ArrayLike<number>>, x: ArrayLike<number>, rows: number) {
  const h = new Float64Array(rows * H);
  const y = new Float64Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < H; j++) {
      let s = p.b1![j]!;
      for (let k = 0; k < D; k++) s += x[r * D + k]! * p.W1![j * D + k]!;
      h[r * H + j] = Math.tanh(s);
    }
    for (let t = 0; t < 2; t++) {
      let s = p.b2![t]!;
      for (let j = 0; j < H; j++) s += h[r * H + j]! * p.W2![t * H + j]!;
      y[r * 2 + t] = s;
    }
  }
  return { h, y };
}

async function params(model: Awaited<ReturnType<typeof network>>['model'], replicate = 0) {
  const out: Record<string, FloatArray> = {};
  for (const p of model.program.params) {
    const all = await model.read(p.name);
    const size = all.length / model.replicates;
    out[p.name] = all.subarray(replicate * size, (replicate + 1) * size);
  }
  return out;
}

/** float32: dot products of 5 and 8 terms and a tanh between, on values of order 1: well under 1e-5 of the scale. */
const tolOf = (backend: Backend) => (backend.precision === 'f32' ? 1e-5 : 1e-12);

const PLANS: [string, () => Promise<Backend> | Backend, CompileOptions['plan'], string][] = [
  ['WebGPU tiny', webgpu, 'tiny', 'tiny'],
  ['WebGPU fused', webgpu, 'fused', 'fused'],
  ['WebGPU per-node', webgpu, 'per-node', 'per-node'],
  ['CPU compiled, float64', () => new CpuBackend('f64'), 'compiled', 'compiled'],
  ['CPU compiled, float32', () => new CpuBackend('f32'), 'compiled', 'compiled'],
  ['CPU reference', cpu64, 'reference', 'reference'],
];

for (const [what, backendOf, plan, name] of PLANS) {
  test(`predict on ${what}: new rows, any count, equal to the float64 forward pass of the trained parameters`, async () => {
    const backend = await backendOf();
    const { model } = await network(backend, { plan });
    assert.is(model.planName, name);
    const p = await params(model);
    for (const rows of [333, 1, 7]) {
      const x = randoms(rows * D, 10 + rows);
      const got = await model.predict({ X: x });
      assertClose(got, forward(p, x, rows).y, tolOf(backend), `${what}: ${rows} rows`);
    }
    // Arrays of rows are taken as write() takes them.
    const rowsOf = Array.from({ length: 3 }, (_, r) => Array.from(randoms(D, 40 + r)));
    assertClose(await model.predict({ X: rowsOf }), forward(p, rowsOf.flat(), 3).y, tolOf(backend), `${what}: rows as arrays`);
    model.dispose();
  });
}

test('predict follows training: after more epochs it predicts with the new parameters', async () => {
  for (const backend of [await webgpu(), cpu64()]) {
    const { model } = await network(backend, {}, 5);
    const x = randoms(50 * D, 11);
    const before = await model.predict({ X: x });
    await model.train({ epochs: 30 });
    const after = await model.predict({ X: x });
    assertClose(after, forward(await params(model), x, 50).y, tolOf(backend), `${backend.kind}: after training on`);
    assert.ok(after.some((v, i) => Math.abs(v - before[i]!) > 1e-3), `${backend.kind}: the predictions moved with the parameters`);
    model.dispose();
  }
});

test('predict in chunks: more rows than one binding holds, one submission a chunk', async () => {
  // Bindings of 4 KiB: the hidden layer's 8 float32 values a row, 128 rows a chunk.
  assert.is(chunkRows(1000, H, 4, 4096), 128);
  assert.is(chunkRows(5, H, 4, 4096), 8, 'rounded up to a power of two');
  const gpu = await webgpu();
  const { model } = await network(gpu, { plan: 'per-node', layout: { maxBindingBytes: 4096 } });
  const p = await params(model);
  const x = randoms(1000 * D, 12);
  // The first call compiles the 128-row program; the second is counted.
  await model.predict({ X: x });
  const queue = Object.getPrototypeOf((gpu as WebGpuBackend).device.queue) as GPUQueue;
  const submit = queue.submit;
  let submits = 0;
  queue.submit = function (this: GPUQueue, ...args: Parameters<GPUQueue['submit']>) {
    submits++;
    return submit.apply(this, args);
  };
  let got: FloatArray;
  try {
    got = await model.predict({ X: x });
  } finally {
    queue.submit = submit;
  }
  // 8 chunks of 128 rows (the last one padded), after one read of the trained parameters.
  assert.is(submits, 1 + 8, 'submissions: the parameters read, then 8 chunks');
  assertClose(got, forward(p, x, 1000).y, 1e-5, 'WebGPU: 1000 rows in chunks of 128');
  // The CPU backend takes the same override, so its chunks are tested too.
  const cpu = await network(cpu64(), { layout: { maxBindingBytes: 8 * H * 64 } });
  assertClose(await cpu.model.predict({ X: x }), forward(await params(cpu.model), x, 1000).y, 1e-12, 'CPU: 1000 rows in chunks of 64');
  model.dispose();
});

test('predict by name and by list, the hidden layer too; inputs it does not read are ignored', async () => {
  for (const backend of [await webgpu(), cpu64()]) {
    const { model, hidden, pred } = await network(backend);
    const x = randoms(37 * D, 13);
    const want = forward(await params(model), x, 37);
    const named = await model.predict({ X: x, Y: new Float64Array(2) }, { outputs: { h: hidden, y: pred } });
    assert.equal(Object.keys(named), ['h', 'y']);
    assertClose(named.h, want.h, tolOf(backend), `${backend.kind}: hidden by name`);
    assertClose(named.y, want.y, tolOf(backend), `${backend.kind}: output by name`);
    const [h, y] = await model.predict({ X: x }, { outputs: [hidden, pred] });
    assertClose(h!, want.h, tolOf(backend), `${backend.kind}: hidden in a list`);
    assertClose(y!, want.y, tolOf(backend), `${backend.kind}: output in a list`);
    assert.is((await model.predict({ X: [] })).length, 0, 'no rows, no predictions');
    model.dispose();
  }
});

test("predict with replicates: each replicate's own parameters", async () => {
  const { model } = await network(await webgpu(), { bootstrap: 'pairs', replicates: 3, seed: 5 });
  const x = randoms(20 * D, 14);
  const preds: FloatArray[] = [];
  for (const r of [0, 2]) {
    const got = await model.predict({ X: x }, { replicate: r });
    assertClose(got, forward(await params(model, r), x, 20).y, 1e-5, `replicate ${r}`);
    preds.push(got);
  }
  assert.ok(preds[0]!.some((v, i) => Math.abs(v - preds[1]![i]!) > 1e-4), 'the replicates differ');
  assertClose(await model.predict({ X: x }), preds[0]!, 0, 'replicate 0 by default');
  await rejects(() => model.predict({ X: x }, { replicate: 3 }), /replicate must be a whole number from 0 to 2 \(the model trains 3 replicates\), got 3/);
  model.dispose();
});

test('a graph without a loss predicts its one output; a loss that is not squared error names none', async () => {
  const g = new Graph();
  const X = g.input('X', [4, 2]);
  const W = g.param('W', [1, 2]);
  g.matmul(X, g.transpose(W));
  for (const backend of [await webgpu(), cpu64()]) {
    const model = await compile(g, { backend });
    model.write({ W: [2, -1] });
    assertClose(await model.predict({ X: [1, 2, 3, 1, 0.5, 0.25] }), [0, 5, 0.75], 0, `${backend.kind}: X Wᵀ of 3 new rows`);
  }
  const h = new Graph();
  const hx = h.input('X', [4, 2]);
  const hw = h.param('W', [1, 2]);
  const loss = h.mean(h.mul(h.matmul(hx, h.transpose(hw)), h.matmul(hx, h.transpose(hw))));
  const model = await compile(h, { loss, optimizer: sgd({ lr: 0.1 }), backend: cpu64() });
  await rejects(() => model.predict({ X: [1, 2] }), /the loss is not squaredError\(prediction, target\), so there is no prediction to default to; name the output: predict\(data, \{ outputs: tensor \}\)/);
});

test('predict refuses what is not a prediction of a row alone, and bad data, naming it', async () => {
  const g = new Graph();
  const X = g.input('X', [N, D]);
  const Y = g.input('Y', [N, 1]);
  const W = g.param('W', [1, D]);
  const pred = g.matmul(X, g.transpose(W));
  const centred = g.sub(pred, g.mean(pred));
  const loss = g.mean(g.squaredError(centred, Y));
  const model = await compile(g, { loss, optimizer: sgd({ lr: 0.1 }), backend: cpu64() });
  model.write({ X: randoms(N * D, 1), Y: randoms(N, 2) });
  const x = randoms(3 * D, 3);
  await rejects(() => model.predict({ X: x }), /predict: %\d+ \(mean\) sums over the rows, so a row's prediction would depend on the other rows predicted with it/);
  await rejects(() => model.predict({ X: x }, { outputs: W }), /predict: %2 \(param\) is a parameter, not a prediction/);
  await rejects(() => model.predict({ X: x }, { outputs: loss }), /predict: %\d+ \(mean\) sums over the rows/);
  await rejects(() => model.predict({ X: x }, { outputs: model.gradients.get('W')! }), /is part of the backward graph \(a gradient\), not a prediction/);
  await rejects(() => model.predict({ X: x }, { outputs: pred, output: pred } as never), /predict: unknown option "output" \(did you mean "outputs"\?\); the options are outputs, replicate/);
  const ok = { outputs: pred };
  await rejects(() => model.predict({ Z: x }, ok), /predict: the graph has no data input "Z" \(the prediction reads X\)/);
  await rejects(() => model.predict({}, ok), /predict: no values for the input "X", which the prediction reads/);
  await rejects(() => model.predict({ X: x.subarray(0, 7) }, ok), /predict: "X" has 7 values, which are not whole rows of 5/);
  await rejects(() => model.predict({ X: [[1, 2, 3, 4, 5], [1, 2]] }, ok), /predict X: row 1 has 2 values, shape \[2,5\] needs 5/);
  await rejects(() => model.predict({ X: [1, 2, 3, 4, NaN] }, ok), /predict X: the value at row 0, column 4 is NaN; fusegrad needs finite numbers/);
  assertClose(await model.predict({ X: x }, ok), forward1(await model.read('W'), x, 3), 1e-12, 'the row-wise part predicts');
});

/** X Wᵀ for one output, in float64. */
const forward1 = (w: ArrayLike<number>, x: ArrayLike<number>, rows: number) => Array.from({ length: rows }, (_, r) => Array.from(w).reduce((s, v, k) => s + v * x[r * D + k]!, 0));

test('read of a computed value before anything computed it is a StateError, never zeros', async () => {
  for (const [backend, plan] of [[await webgpu(), 'per-node'], [await webgpu(), 'fused'], [cpu64(), 'reference']] as const) {
    const g = new Graph();
    const X = g.input('X', [N, D]);
    const Y = g.input('Y', [N, 1]);
    const W = g.param('W', [1, D]);
    const pred = g.matmul(X, g.transpose(W));
    const model = await compile(g, { loss: g.mean(g.squaredError(pred, Y)), optimizer: sgd({ lr: 0.1 }), backend, plan });
    model.write({ X: randoms(N * D, 1), Y: randoms(N, 2), W: [1, 2, 3, 4, 5] });
    const err = await model.read(pred).then(() => null, (e: Error) => e);
    assert.is(err?.name, 'StateError', `${plan}: ${err?.message}`);
    assert.match(err!.message, /read: %\d+ \(matmul\) has not been computed: nothing has run since compile\. model\.predict\(rows\) computes predictions/);
    assertClose(await model.read('W'), [1, 2, 3, 4, 5], 0, `${plan}: a parameter reads as written`);
    model.dispose();
  }
  const g = new Graph();
  const X = g.input('X', [2, 1]);
  const model = await compile(g, { backend: cpu64() });
  const err = await model.train({ epochs: 1 }).then(() => null, (e: Error) => e);
  assert.is(err?.name, 'StateError');
  assert.match(err!.message, /train: the model was compiled without a loss and an optimizer; compile\(graph, \{ loss, optimizer \}\) to train it/);
  void X;
});

test.run();
