import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { adam } from '../optim/adam.js';
import type { Optimizer } from '../optim/optimizer.js';
import { sgd } from '../optim/sgd.js';
import { type CompileOptions, compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { epochKey, feistelHalf, permute } from '../wgsl/shuffle.js';
import { APPLES15 } from '../examples/apples.js';
import { RUNAWAY } from '../wgsl/control.js';
import { assertClose, cpu32, cpu64, rejects, webgpu } from './helpers.js';
import { synthetic } from '../regression/synthetic.js';

function regression(g: Graph, n: number, d: number, k: number) {
  const X = g.input('X', [n, d]);
  const Y = g.input('Y', [n, k]);
  const W = g.param('W', [k, d]);
  const b = g.param('b', [k]);
  return g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
}

async function model(backend: Backend, n: number, d: number, k: number, optimizer: Optimizer, options: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'>) {
  const g = new Graph();
  const loss = regression(g, n, d, k);
  return compile(g, { loss, optimizer, backend, ...options });
}

test('the shuffle is a permutation of the rows, different for each epoch, the same for the same seed', () => {
  for (const n of [1, 2, 5, 15, 16, 17, 1000, 4099]) {
    const half = feistelHalf(n);
    const orders = [0, 1].map((epoch) => Array.from({ length: n }, (_, i) => permute(i, n, epochKey(42, epoch), half)));
    for (const order of orders) assert.equal([...order].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), `n=${n}: a permutation`);
    if (n >= 5) assert.not.equal(orders[0], orders[1], `n=${n}: epochs 0 and 1 differ`);
    assert.equal(Array.from({ length: n }, (_, i) => permute(i, n, epochKey(42, 0), half)), orders[0], 'deterministic');
  }
});

const crop = { X: APPLES15.X.map((r) => r.map((v) => v / 100)), Y: APPLES15.Y.map((r) => r.map((v) => v / 100)) };

test('minibatch SGD (batch 5, shuffle, 15 rows): the CPU loop is what a PyTorch loop over shuffled batches computes', async () => {
  const cpu = await model(cpu64(), 15, 3, 2, sgd({ lr: 0.5 }), { batchSize: 5, shuffle: true, seed: 7 });
  cpu.write({ X: crop.X, Y: crop.Y });
  const run = await cpu.train({ epochs: 4 });
  // The same loop written out: for each epoch, the permutation, batches of 5, loss before each step.
  const theta = new Array<number>(8).fill(0);
  const losses: number[] = [];
  for (let e = 0; e < 4; e++) {
    const order = Array.from({ length: 15 }, (_, i) => permute(i, 15, epochKey(7, e), feistelHalf(15)));
    let sum = 0;
    for (let b = 0; b < 3; b++) {
      const rows = order.slice(5 * b, 5 * b + 5);
      const g = new Array<number>(8).fill(0);
      let l = 0;
      for (const r of rows) {
        for (let t = 0; t < 2; t++) {
          let err = theta[6 + t]! - crop.Y[r]![t]!;
          for (let j = 0; j < 3; j++) err += theta[t * 3 + j]! * crop.X[r]![j]!;
          l += err * err / 10;
          for (let j = 0; j < 3; j++) g[t * 3 + j] += (2 * err * crop.X[r]![j]!) / 10;
          g[6 + t] += (2 * err) / 10;
        }
      }
      sum += l;
      g.forEach((gi, i) => (theta[i] = theta[i]! - 0.5 * gi));
    }
    losses.push(sum / 3);
  }
  assertClose(run.loss, losses, 1e-12, 'epoch losses (mean of batch losses)');
  assertClose([...(await cpu.read('W')), ...(await cpu.read('b'))], theta, 1e-12, 'parameters');
});

test('minibatch SGD (batch 5, shuffle, 15 rows) on WebGPU gives the CPU backend\'s loss curve for the same seed', async () => {
  const ref = await model(cpu64(), 15, 3, 2, sgd({ lr: 0.5 }), { batchSize: 5, shuffle: true, seed: 7 });
  ref.write({ X: crop.X, Y: crop.Y });
  const want = await ref.train({ epochs: 50 });
  for (const plan of ['tiny', 'fused', 'per-node'] as const) {
    const gpu = await model(await webgpu(), 15, 3, 2, sgd({ lr: 0.5 }), { batchSize: 5, shuffle: true, seed: 7, plan });
    gpu.write({ X: crop.X, Y: crop.Y });
    const before = { ...gpu.stats };
    const run = await gpu.train({ epochs: 50 });
    assert.is(gpu.stats.submits - before.submits, 1, `${plan}: one submit`);
    assert.is(gpu.stats.readbacks - before.readbacks, 1, `${plan}: one readback`);
    assertClose(run.loss, want.loss, 1e-4, `${plan}: loss curve`);
    assertClose(await gpu.read('W'), await ref.read('W'), 1e-4, `${plan}: W`);
    gpu.dispose();
  }
  const f32 = await model(cpu32(), 15, 3, 2, sgd({ lr: 0.5 }), { batchSize: 5, shuffle: true, seed: 7 });
  f32.write({ X: crop.X, Y: crop.Y });
  assertClose((await f32.train({ epochs: 50 })).loss, want.loss, 1e-4, 'CPU float32');
  const other = await model(cpu64(), 15, 3, 2, sgd({ lr: 0.5 }), { batchSize: 5, shuffle: true, seed: 8 });
  other.write({ X: crop.X, Y: crop.Y });
  const changed = await other.train({ epochs: 50 });
  assert.ok(changed.loss.some((l, i) => Math.abs(l - want.loss[i]!) > 1e-6), 'another seed gives other batches');
});

test('batches without shuffling, a short last batch, dropLast, and several chunks of rows agree with the CPU, on every WebGPU plan', async () => {
  const data = synthetic(17, 2, 1, 9);
  const variants: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'>[] = [
    { batchSize: 5 },
    { batchSize: 5, dropLast: true },
    { batchSize: 4, shuffle: true, seed: 3, dropLast: true },
    // 48 bytes hold 4 rows of [x1 x2 y]: inputs narrower than 4 are read as floats either way.
    { batchSize: 6, shuffle: true, seed: 1, plan: 'fused', layout: { maxBindingBytes: 48, rowLoads: 'scalar' } },
    { batchSize: 6, shuffle: true, seed: 1, plan: 'fused', layout: { maxBindingBytes: 48, rowLoads: 'vec4' } },
  ];
  for (const v of variants) {
    const ref = await model(cpu64(), 17, 2, 1, adam({ lr: 0.05 }), v);
    ref.write({ X: data.X, Y: data.Y });
    const want = await ref.train({ epochs: 20 });
    for (const plan of v.plan ? [v.plan] : (['tiny', 'fused', 'per-node'] as const)) {
      const gpu = await model(await webgpu(), 17, 2, 1, adam({ lr: 0.05 }), { ...v, plan });
      gpu.write({ X: data.X, Y: data.Y });
      assertClose((await gpu.train({ epochs: 20 })).loss, want.loss, 1e-4, `${JSON.stringify(v)} on ${plan}`);
      if (v.layout) assert.match(gpu.plan(), /the training set is bound in 5 chunks of at most 4 rows/);
      gpu.dispose();
    }
  }
});

test('validation loss every epoch and parameter snapshots: 1000 epochs in 1 submit and 1 readback, equal to the CPU', async () => {
  const train = synthetic(60, 3, 1, 1);
  const valid = synthetic(25, 3, 1, 2);
  const options = { batchSize: 20, shuffle: true, seed: 5, validationRows: 25 };
  const ref = await model(cpu64(), 60, 3, 1, adam({ lr: 0.02 }), options);
  ref.write({ X: train.X, Y: train.Y });
  ref.write({ X: valid.X, Y: valid.Y }, 'validation');
  const want = await ref.train({ epochs: 1000, paramsEvery: 100 });
  assert.is(want.validLoss!.length, 1000);
  assert.is(want.params!.W!.length, 10);
  // The recorded validation loss is the loss of the parameters the epoch ended with.
  const last = [...want.params!.W![9]!, ...want.params!.b![9]!];
  let mse = 0;
  for (let r = 0; r < 25; r++) {
    let e = last[3]! - valid.Y[r]!;
    for (let j = 0; j < 3; j++) e += last[j]! * valid.X[r * 3 + j]!;
    mse += (e * e) / 25;
  }
  assert.ok(Math.abs(mse - want.validLoss![999]!) < 1e-12, `validation loss at epoch 1000: ${want.validLoss![999]} vs ${mse}`);
  for (const plan of ['tiny', 'fused', 'per-node'] as const) {
    const gpu = await model(await webgpu(), 60, 3, 1, adam({ lr: 0.02 }), { ...options, plan });
    gpu.write({ X: train.X, Y: train.Y });
    gpu.write({ X: valid.X, Y: valid.Y }, 'validation');
    const before = { ...gpu.stats };
    const run = await gpu.train({ epochs: 1000, paramsEvery: 100 });
    assert.is(gpu.stats.submits - before.submits, 1, `${plan}: one submit`);
    assert.is(gpu.stats.readbacks - before.readbacks, 1, `${plan}: one readback`);
    assertClose(run.loss, want.loss, 1e-4, `${plan}: training loss`);
    assertClose(run.validLoss!, want.validLoss!, 1e-4, `${plan}: validation loss`);
    assert.is(run.params!.W!.length, 10);
    run.params!.W!.forEach((w, i) => assertClose(w, want.params!.W![i]!, 1e-4, `${plan}: W after epoch ${100 * (i + 1)}`));
    run.params!.b!.forEach((b, i) => assertClose(b, want.params!.b![i]!, 1e-4, `${plan}: b after epoch ${100 * (i + 1)}`));
    gpu.dispose();
  }
});

test('the per-node plan records parameter snapshots too (copies between passes), in one submission', async () => {
  const data = synthetic(30, 2, 1, 4);
  const ref = await model(cpu64(), 30, 2, 1, sgd({ lr: 0.1 }), {});
  ref.write({ X: data.X, Y: data.Y });
  const want = await ref.train({ epochs: 12, paramsEvery: 4 });
  const gpu = await model(await webgpu(), 30, 2, 1, sgd({ lr: 0.1 }), { plan: 'per-node' });
  gpu.write({ X: data.X, Y: data.Y });
  const before = gpu.stats.submits;
  const run = await gpu.train({ epochs: 12, paramsEvery: 4 });
  assert.is(gpu.stats.submits - before, 1);
  run.params!.W!.forEach((w, i) => assertClose(w, want.params!.W![i]!, 1e-5, `W after epoch ${4 * (i + 1)}`));
  gpu.dispose();
});

test('a learning rate that diverges stops training at that epoch and says so, on WebGPU and on the CPU', async () => {
  // The rule (runtime/control.ts): not finite, or grown past RUNAWAY times the first loss.
  const data = synthetic(40, 3, 1, 6);
  const backends: [string, () => Promise<Backend> | Backend, CompileOptions['plan']][] = [
    ['WebGPU tiny', webgpu, 'tiny'],
    ['WebGPU fused', webgpu, 'fused'],
    ['WebGPU per-node', webgpu, 'per-node'],
    ['WebGPU tiny, minibatches', webgpu, 'tiny'],
    ['WebGPU per-node, minibatches', webgpu, 'per-node'],
    ['CPU float64', cpu64, 'auto'],
    ['CPU float32', cpu32, 'auto'],
  ];
  for (const [label, backend, plan] of backends) {
    const batches = label.endsWith('minibatches') ? { batchSize: 8, shuffle: true } : {};
    const m = await model(await backend(), 40, 3, 1, sgd({ lr: 5 }), { plan, ...batches });
    m.write({ X: data.X, Y: data.Y });
    const before = { ...m.stats };
    const run = await m.train({ epochs: 3000 });
    assert.ok(run.diverged, `${label}: divergence reported`);
    const { epoch, lastFiniteLoss, message } = run.diverged!;
    assert.ok(epoch > 0 && epoch < 3000, `${label}: stopped at epoch ${epoch}`);
    assert.is(run.epochs, epoch + 1);
    assert.is(run.loss.length, epoch + 1);
    const last = run.loss[epoch]!;
    assert.ok(!Number.isFinite(last) || last > RUNAWAY * run.loss[0]!, `${label}: the last loss (${last}) diverged by the rule`);
    assert.is(run.diverged!.reason, Number.isFinite(last) ? 'runaway' : 'not finite');
    assert.is(run.diverged!.loss, last);
    assert.is(run.diverged!.reference, run.loss[0]!, `${label}: the reference is the first loss`);
    assert.is(lastFiniteLoss, run.loss[epoch - 1]!);
    assert.ok(run.loss.slice(0, epoch).every((l) => Number.isFinite(l) && l <= RUNAWAY * run.loss[0]!), `${label}: losses before it did not`);
    assert.match(message, new RegExp(`at epoch ${epoch + 1}\\b`));
    assert.match(message, /The learning rate \(5\) is probably too large: try a smaller one/);
    if (backend === webgpu) assert.is(m.stats.readbacks - before.readbacks, 1, `${label}: detected on the device, one read`);
    m.dispose();
  }
});

test('the divergence rule leaves healthy fits alone: Adam bumps, a loss falling to ~0, momentum and minibatch noise', async () => {
  // Exact data (no noise): the loss falls to float32 rounding noise, far below its first value.
  const n = 40;
  const X = Array.from({ length: n }, (_, i) => [(i - 20) / 7, Math.sin(i)]);
  const exact = X.map(([a, c]) => [3 * a! - 2 * c! + 0.5]);
  // Raw-scale targets for Adam, whose first steps overshoot before the moments settle.
  const raw = X.map(([a, c]) => [300 * a! + 40 * c! + 1000]);
  const cases: [string, Optimizer, number[][], Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'> & { start?: boolean }][] = [
    ['sgd to an exact fit', sgd({ lr: 0.3 }), exact, {}],
    ['adam lr 0.5, raw scale', adam({ lr: 0.5 }), raw, {}],
    ['adam lr 0.05, exact fit, minibatches of 8, shuffled', adam({ lr: 0.05 }), exact, { batchSize: 8, shuffle: true }],
    ['sgd momentum 0.9, minibatches of 5, shuffled', sgd({ lr: 0.02, momentum: 0.9 }), exact, { batchSize: 5, shuffle: true }],
    // From the exact solution: the first loss is float32 rounding noise (6e-14), and Adam's first
    // steps, about the rate long whatever the gradient, raise it a billion times before it settles.
    ['adam lr 0.01 from the exact solution', adam({ lr: 0.01 }), exact, { start: true }],
  ];
  const backends: [string, () => Promise<Backend> | Backend, CompileOptions['plan']][] = [
    ['WebGPU tiny', webgpu, 'tiny'],
    ['WebGPU fused', webgpu, 'fused'],
    ['CPU float32', cpu32, 'auto'],
  ];
  for (const [what, opt, Y, options] of cases) {
    for (const [label, backend, plan] of backends) {
      const { start, ...compileOptions } = options;
      const m = await model(await backend(), n, 2, 1, opt, { plan, ...compileOptions });
      m.write({ X, Y });
      if (start) m.write({ W: [[3, -2]], b: [0.5] });
      const run = await m.train({ epochs: 1500 });
      assert.is(run.diverged, undefined, `${what} on ${label}: ${run.diverged?.message}`);
      assert.is(run.epochs, 1500);
      const peak = Math.max(...run.loss) / run.loss[0]!;
      if (start) {
        // No runaway: the loss rises from noise and stays below the targets' mean square.
        const meanSquare = Y.reduce((s, [y]) => s + y! * y!, 0) / n;
        assert.ok(peak > RUNAWAY && Math.max(...run.loss) < meanSquare, `${what} on ${label}: rose ${peak} times, to ${Math.max(...run.loss)} (mean square ${meanSquare})`);
        continue;
      }
      assert.ok(peak < 1e3, `${what} on ${label}: the loss rose to ${peak} times its first value, far from ${RUNAWAY}`);
      if (Y === exact && !options.batchSize) assert.ok(run.loss.at(-1)! < 1e-9 * run.loss[0]!, `${what} on ${label}: the loss fell to ~0 (${run.loss.at(-1)})`);
      m.dispose();
    }
  }
});

test("the rule's reference is the first loss since the data or parameters were written, kept across runs", async () => {
  const data = synthetic(40, 3, 1, 6);
  for (const [label, backend, plan] of [['WebGPU tiny', webgpu, 'tiny'], ['WebGPU fused', webgpu, 'fused'], ['CPU float64', cpu64, 'auto']] as const) {
    // Just past the stable rate: growth, finite for long.
    const once = await model(await backend(), 40, 3, 1, sgd({ lr: 1.05 }), { plan });
    once.write({ X: data.X, Y: data.Y });
    const whole = await once.train({ epochs: 400 });
    assert.ok(whole.diverged && whole.diverged.reason === 'runaway', `${label}: runaway in one run (${whole.diverged?.message})`);
    // The same in runs of 7 epochs: the reference carries over, and the message counts every epoch.
    const chunked = await model(await backend(), 40, 3, 1, sgd({ lr: 1.05 }), { plan });
    chunked.write({ X: data.X, Y: data.Y });
    let done = 0;
    let stop: NonNullable<Awaited<ReturnType<typeof chunked.train>>['diverged']> | undefined;
    while (!stop && done < 400) {
      const run = await chunked.train({ epochs: 7 });
      stop = run.diverged;
      done += run.epochs;
    }
    assert.is(done, whole.epochs, `${label}: the same epoch in runs of 7`);
    assert.match(stop!.message, new RegExp(`at epoch ${whole.epochs}\\b`), `${label}: the message counts the model's epochs, not the run's`);
    // New data of another scale: the reference starts again, so a loss 1e8 times the old one is no divergence.
    const rescaled = await model(await backend(), 40, 3, 1, sgd({ lr: 0.05 }), { plan });
    rescaled.write({ X: data.X, Y: data.Y });
    await rescaled.train({ epochs: 5 });
    rescaled.write({ Y: Float64Array.from(data.Y, (v) => v * 1e4) });
    const after = await rescaled.train({ epochs: 5 });
    assert.is(after.diverged, undefined, `${label}: ${after.diverged?.message}`);
    for (const m of [once, chunked, rescaled]) m.dispose();
  }
});

test('momentum past its stable range is named as the setting to change', async () => {
  const data = synthetic(40, 3, 1, 6);
  for (const backend of [webgpu, cpu64]) {
    const m = await model(await backend(), 40, 3, 1, sgd({ lr: 0.01, momentum: 1.5 }), {});
    m.write({ X: data.X, Y: data.Y });
    const run = await m.train({ epochs: 500 });
    assert.ok(run.diverged);
    assert.match(run.diverged!.message, /Momentum 1\.5 is outside its stable range \[0, 1\)/);
    assert.not.match(run.diverged!.message, /The learning rate .* is probably too large/);
  }
});

test('bad loader options name the numbers', async () => {
  await rejects(() => model(cpu64(), 10, 2, 1, sgd(), { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
  await rejects(() => model(cpu64(), 10, 2, 1, sgd(), { batchSize: 11, dropLast: true }), /dropLast with batchSize 11 and 10 rows leaves no batch/);
  const m = await model(cpu64(), 10, 2, 1, sgd(), { validationRows: 4 });
  m.write({ X: new Float32Array(20), Y: new Float32Array(10) });
  await rejects(() => m.train({ epochs: 1 }), /validation inputs X, Y not written yet/);
  let err: Error | null = null;
  try {
    m.write({ X: new Float32Array(7) }, 'validation');
  } catch (e) {
    err = e as Error;
  }
  assert.match(err!.message, /write X \(validation\): got 7 values, shape \[4,2\] needs 8/);
});

test.run();
