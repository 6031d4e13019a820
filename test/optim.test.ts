import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { adam, adamw } from '../optim/adam.js';
import { type Optimizer, OptimizerError } from '../optim/optimizer.js';
import { sgd } from '../optim/sgd.js';
import { compile } from '../runtime/model.js';
import type { Backend, PlanOptions } from '../runtime/program.js';
import type { WebGpuBackend } from '../runtime/webgpu.js';
import { fitLinear } from '../regression/lstsq.js';
import { assertClose, cpu32, cpu64, randoms, webgpu } from './helpers.js';
import { synthetic } from '../regression/synthetic.js';

// PyTorch's update equations, written out here in float64 independently of optim/ (from the
// torch.optim.SGD / Adam / AdamW documentation), as the reference for the first three steps.
type Torch = { step(p: number[], g: number[]): void };
function torchSgd(lr: number, momentum = 0, dampening = 0, nesterov = false, wd = 0): Torch {
  let buf: number[] | null = null;
  return {
    step(p, g) {
      const d = g.map((gi, i) => gi + wd * p[i]!);
      let dir = d;
      if (momentum !== 0) {
        buf = buf === null ? d.slice() : buf.map((b, i) => momentum * b + (1 - dampening) * d[i]!);
        dir = nesterov ? d.map((di, i) => di + momentum * buf![i]!) : buf;
      }
      dir.forEach((v, i) => (p[i] = p[i]! - lr * v));
    },
  };
}
function torchAdam(lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean): Torch {
  let m: number[] | null = null;
  let v: number[] | null = null;
  let t = 0;
  return {
    step(p, g) {
      t += 1;
      m ??= p.map(() => 0);
      v ??= p.map(() => 0);
      for (let i = 0; i < p.length; i++) {
        let gi = g[i]!;
        if (decoupled) p[i] = p[i]! * (1 - lr * wd);
        else gi += wd * p[i]!;
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        const mHat = m[i]! / (1 - b1 ** t);
        const vHat = v[i]! / (1 - b2 ** t);
        p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    },
  };
}

/** d/d[W, b] of mean((X Wᵀ + b - Y)^2) in float64, W as k x d, for the reference. */
function gradient(X: Float64Array, Y: Float64Array, n: number, d: number, k: number, theta: number[]): number[] {
  const g = new Array<number>(k * d + k).fill(0);
  for (let r = 0; r < n; r++) {
    for (let t = 0; t < k; t++) {
      let e = theta[k * d + t]! - Y[r * k + t]!;
      for (let j = 0; j < d; j++) e += theta[t * d + j]! * X[r * d + j]!;
      for (let j = 0; j < d; j++) g[t * d + j] += (2 * e * X[r * d + j]!) / (n * k);
      g[k * d + t] += (2 * e) / (n * k);
    }
  }
  return g;
}

const CASES: [string, () => Optimizer, () => Torch][] = [
  ['SGD', () => sgd({ lr: 0.05 }), () => torchSgd(0.05)],
  ['SGD momentum', () => sgd({ lr: 0.05, momentum: 0.9 }), () => torchSgd(0.05, 0.9)],
  ['SGD momentum + dampening', () => sgd({ lr: 0.05, momentum: 0.9, dampening: 0.25 }), () => torchSgd(0.05, 0.9, 0.25)],
  ['SGD Nesterov + weight decay', () => sgd({ lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.1 }), () => torchSgd(0.05, 0.8, 0, true, 0.1)],
  ['Adam', () => adam({ lr: 0.01 }), () => torchAdam(0.01, 0.9, 0.999, 1e-8, 0, false)],
  ['Adam + weight decay', () => adam({ lr: 0.01, betas: [0.8, 0.99], weightDecay: 0.1 }), () => torchAdam(0.01, 0.8, 0.99, 1e-8, 0.1, false)],
  ['AdamW', () => adamw({ lr: 0.01 }), () => torchAdam(0.01, 0.9, 0.999, 1e-8, 0.01, true)],
];

const BACKENDS: [string, () => Promise<Backend> | Backend, PlanOptions['plan']][] = [
  ['WebGPU tiny', webgpu, 'tiny'],
  ['WebGPU fused', webgpu, 'fused'],
  ['WebGPU per-node', webgpu, 'per-node'],
  ['CPU float32', cpu32, 'auto'],
  ['CPU float64', cpu64, 'auto'],
];

for (const [name, make, torch] of CASES) {
  test(`${name}: the first three steps match PyTorch's equations in float64, on every backend and plan`, async () => {
    const [n, d, k] = [12, 3, 2];
    const data = synthetic(n, d, k, 11);
    const W0 = randoms(k * d, 21);
    const b0 = randoms(k, 22);
    // The reference: three steps of PyTorch's rule with float64 gradients.
    const ref = torch();
    const theta = [...W0, ...b0];
    const want: number[][] = [];
    for (let s = 0; s < 3; s++) {
      ref.step(theta, gradient(data.X, data.Y, n, d, k, theta));
      want.push(theta.slice());
    }
    for (const [label, backend, plan] of BACKENDS) {
      const g = new Graph();
      const X = g.input('X', [n, d]);
      const Y = g.input('Y', [n, k]);
      const W = g.param('W', [k, d]);
      const b = g.param('b', [k]);
      const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
      const model = await compile(g, { loss, optimizer: make(), backend: await backend(), plan });
      model.write({ X: data.X, Y: data.Y, W: W0, b: b0 });
      for (let s = 0; s < 3; s++) {
        await model.train({ epochs: 1 });
        const got = [...(await model.read('W')), ...(await model.read('b'))];
        // float32 parameters and gradients: ~1e-7 relative per operation, a few operations per step.
        const tol = label.endsWith('float64') ? 1e-12 : 2e-6;
        assertClose(got, want[s]!, tol, `${name} on ${label}, step ${s + 1}`);
      }
      model.dispose();
    }
  });
}

/** The 40 x 3 -> 1 regression on `backend`, compiled with `optimizer` (and a plan), its data written. */
async function small(backend: Backend, optimizer: Optimizer, seed: number, plan?: 'tiny' | 'fused' | 'per-node') {
  const data = synthetic(40, 3, 1, seed);
  const g = new Graph();
  const X = g.input('X', [40, 3]);
  const Y = g.input('Y', [40, 1]);
  const W = g.param('W', [1, 3]);
  const b = g.param('b', [1]);
  const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
  const model = await compile(g, { loss, optimizer, backend, plan });
  model.write({ X: data.X, Y: data.Y });
  return model;
}

test('changing the learning rate between runs writes a buffer and compiles nothing', async () => {
  const backend = (await webgpu()) as WebGpuBackend;
  for (const plan of ['tiny', 'fused', 'per-node'] as const) {
    const model = await small(backend, adam({ lr: 0.01 }), 5, plan);
    await model.train({ epochs: 3 });
    const compiled = backend.kernels.compiled;
    model.setHyper({ lr: 0.5, beta1: 0.5 });
    const run = await model.train({ epochs: 3 });
    assert.is(backend.kernels.compiled, compiled, `${plan}: no new shader module`);
    const ref = await small(cpu64(), adam({ lr: 0.01 }), 5);
    await ref.train({ epochs: 3 });
    ref.setHyper({ lr: 0.5, beta1: 0.5 });
    assertClose(run.loss, (await ref.train({ epochs: 3 })).loss, 1e-4, `${plan}: losses after the change`);
    model.dispose();
  }
});

test('setHyper can turn SGD momentum on (a momentum buffer is always kept) and meets the constructor\'s rules', async () => {
  const want = await (await small(cpu64(), sgd({ lr: 0.05, momentum: 0.9 }), 6)).train({ epochs: 30 });
  for (const plan of ['tiny', 'fused', 'per-node'] as const) {
    const model = await small(await webgpu(), sgd({ lr: 0.05 }), 6, plan);
    model.setHyper({ momentum: 0.9 });
    assertClose((await model.train({ epochs: 30 })).loss, want.loss, 1e-4, `${plan}: momentum turned on by setHyper`);
    assert.throws(() => model.setHyper({ lr: -1 }), /sgd: lr must be in \(0, Infinity\), got -1/);
    assert.throws(() => model.setHyper({ momentum: 0, nesterov: 1 }), /sgd: Nesterov momentum needs momentum > 0/);
    model.dispose();
  }
  // One error class for every bad setting, constructor or setHyper, so that a caller (the CLI) can tell it from a bug.
  for (const bad of [() => sgd({ lr: 0 }), () => adam({ betas: [0.9, 1] }), () => sgd({ momentum: 0, nesterov: true })]) {
    assert.throws(bad, (e: Error) => e instanceof OptimizerError && e.name === 'OptimizerError');
  }
  const cpu = await small(cpu64(), sgd({ lr: 0.05 }), 6);
  assert.throws(() => cpu.setHyper({ beta: 1 }), (e: Error) => e instanceof OptimizerError && /sgd: no hyperparameter "beta"/.test(e.message));
  cpu.setHyper({ momentum: 0.9 });
  assertClose((await cpu.train({ epochs: 30 })).loss, want.loss, 1e-12, 'CPU: momentum turned on by setHyper');
});

test('Adam, lr 0.1 from zeros, 1000 full-batch epochs on 3 standardized features lands on the closed form within 1e-3', async () => {
  const n = 200;
  const data = synthetic(n, 3, 1, 3);
  // Standardize each feature (z-scores, population standard deviation).
  for (let j = 0; j < 3; j++) {
    let mean = 0;
    for (let r = 0; r < n; r++) mean += data.X[r * 3 + j]! / n;
    let sd = 0;
    for (let r = 0; r < n; r++) sd += (data.X[r * 3 + j]! - mean) ** 2 / n;
    for (let r = 0; r < n; r++) data.X[r * 3 + j] = (data.X[r * 3 + j]! - mean) / Math.sqrt(sd);
  }
  const rows = Array.from({ length: n }, (_, r) => [...data.X.subarray(r * 3, r * 3 + 3)]);
  const exact = fitLinear(rows, Array.from(data.Y, (y) => [y]));
  for (const backend of [await webgpu(), cpu64()]) {
    const g = new Graph();
    const X = g.input('X', [n, 3]);
    const Y = g.input('Y', [n, 1]);
    const W = g.param('W', [1, 3]);
    const b = g.param('b', [1]);
    const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
    const model = await compile(g, { loss, optimizer: adam({ lr: 0.1 }), backend });
    model.write({ X: data.X, Y: data.Y });
    await model.train({ epochs: 1000 });
    const got = [...(await model.read('W')), ...(await model.read('b'))];
    const want = [...exact.W[0]!, exact.b[0]!];
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-3, `${backend.kind} coefficient ${i}: ${v} vs closed form ${want[i]}`));
    model.dispose();
  }
});

test.run();
