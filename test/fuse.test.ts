import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { adam, adamw } from '../optim/adam.js';
import type { Optimizer } from '../optim/optimizer.js';
import { sgd } from '../optim/sgd.js';
import { compile, type Model } from '../runtime/model.js';
import { trialBlock } from '../runtime/trial.js';
import type { Backend, PlanOptions } from '../runtime/program.js';
import { assertClose, countDispatches, cpu64, rejects, webgpu } from './helpers.js';
import { synthetic } from '../regression/synthetic.js';

type Form = 'transpose' | 'transB' | 'dk';

/** mean(squaredError(X Wᵀ + b, Y)), with W written as the user may: transpose(W), transB, or W stored [d, k]. */
async function regression(backend: Backend, n: number, d: number, k: number, optimizer: Optimizer, options: PlanOptions = {}, form: Form = 'transpose'): Promise<Model> {
  const g = new Graph();
  const X = g.input('X', [n, d]);
  const Y = g.input('Y', [n, k]);
  const W = g.param('W', form === 'dk' ? [d, k] : [k, d]);
  const b = g.param('b', [k]);
  const xw = form === 'transpose' ? g.matmul(X, g.transpose(W)) : g.matmul(X, W, { transB: form === 'transB' });
  const loss = g.mean(g.squaredError(g.add(xw, b), Y));
  const model = await compile(g, { loss, optimizer, backend, ...options });
  const data = synthetic(n, d, k, n + d + k);
  model.write({ X: data.X, Y: data.Y });
  return model;
}

/** Trains on WebGPU with `options` and on the float64 CPU, and compares losses and parameters. */
async function againstCpu(n: number, d: number, k: number, opt: () => Optimizer, epochs: number, options: PlanOptions, tol: number, form: Form = 'transpose') {
  const gpu = await regression(await webgpu(), n, d, k, opt(), options, form);
  const ref = await regression(cpu64(), n, d, k, opt(), {}, form);
  const before = { ...gpu.stats };
  const { result: run, dispatches } = await countDispatches(() => gpu.train({ epochs }));
  const want = await ref.train({ epochs });
  const label = `${n}x${d}->${k} ${JSON.stringify(options)}`;
  assert.is(gpu.stats.submits - before.submits, 1, `${label}: one submit`);
  assert.is(gpu.stats.readbacks - before.readbacks, 1, `${label}: one readback`);
  assert.is(dispatches, gpu.stats.dispatches - before.dispatches, `${label}: dispatches counted independently`);
  assertClose(run.loss, want.loss, tol, `${label}: loss curve`);
  assertClose(await gpu.read('W'), await ref.read('W'), tol, `${label}: W`);
  assertClose(await gpu.read('b'), await ref.read('b'), tol, `${label}: b`);
  const plan = gpu.plan();
  gpu.dispose();
  return { dispatches, plan };
}

// float32 against float64 over tens of epochs of sums over up to 5000 rows: a few 1e-6 relative
// per epoch that the optimizer partly corrects; 1e-4 of the values' scale leaves room but catches
// any wrong term (those are off by percent).
const TOL = 1e-4;

test('SGD, 1000x4 -> 1: fused plan is 2 dispatches per epoch and matches float64', async () => {
  const { dispatches } = await againstCpu(1000, 4, 1, () => sgd({ lr: 0.1 }), 30, { plan: 'fused' }, TOL);
  assert.is(dispatches, 60);
});

test('Adam, 1000x4 -> 2: fused plan is 2 dispatches per epoch and matches float64', async () => {
  const { dispatches } = await againstCpu(1000, 4, 2, () => adam({ lr: 0.05 }), 30, { plan: 'fused' }, TOL);
  assert.is(dispatches, 60);
});

test('Adam: the single-dispatch plan runs 1000 epochs in 1 dispatch and matches float64', async () => {
  const { dispatches } = await againstCpu(50, 3, 1, () => adam({ lr: 0.1 }), 1000, { plan: 'tiny' }, TOL);
  assert.is(dispatches, 1);
});

test('SGD with Nesterov momentum and weight decay, AdamW: fused and tiny plans match float64', async () => {
  for (const plan of ['fused', 'tiny'] as const) {
    await againstCpu(200, 3, 2, () => sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }), 40, { plan }, TOL);
    await againstCpu(200, 3, 2, () => sgd({ lr: 0.05, momentum: 0.5, dampening: 0.3 }), 40, { plan }, TOL);
    await againstCpu(200, 3, 2, () => adamw({ lr: 0.05, weightDecay: 0.1 }), 40, { plan }, TOL);
  }
});

test('W written as transB or stored [d, k] fuses the same way', async () => {
  for (const form of ['transB', 'dk'] as const) {
    for (const plan of ['fused', 'tiny'] as const) await againstCpu(300, 5, 3, () => sgd({ lr: 0.05 }), 20, { plan }, TOL, form);
  }
});

test('fused, tiny and per-node plans give the same losses and parameters (float32 rounding, 2e-5)', async () => {
  const results = [];
  for (const plan of ['per-node', 'fused', 'tiny'] as const) {
    const m = await regression(await webgpu(), 257, 4, 2, adam({ lr: 0.05 }), { plan });
    results.push({ plan, loss: (await m.train({ epochs: 50 })).loss, W: await m.read('W'), b: await m.read('b') });
    m.dispose();
  }
  // Each plan sums in its own order: float32 rounding (6e-8 a step) over 257-row sums and 50
  // steps stays far below 2e-5 of the values' scale.
  for (const r of results.slice(1)) {
    assertClose(r.loss, results[0]!.loss, 2e-5, `${r.plan} vs per-node: loss`);
    assertClose(r.W, results[0]!.W, 2e-5, `${r.plan} vs per-node: W`);
    assertClose(r.b, results[0]!.b, 2e-5, `${r.plan} vs per-node: b`);
  }
});

test('both row layouts (contiguous runs, grid stride) give the same numbers', async () => {
  for (const rows of ['contiguous', 'strided'] as const) {
    const { plan } = await againstCpu(3001, 4, 1, () => sgd({ lr: 0.1 }), 10, { plan: 'fused', layout: { rows } }, TOL);
    assert.match(plan, new RegExp(`rows layout: ${rows}`));
  }
});

test('from 65536 rows a timed trial picks the rows layout, walking at most 16 MiB of rows a dispatch', async () => {
  // 70000 rows of 4 features: the trial runs, names both times, and the plan trains as the CPU does.
  const { plan } = await againstCpu(70000, 4, 1, () => sgd({ lr: 0.1 }), 3, {}, TOL);
  assert.match(plan, /the rows layout was chosen by a timed trial: contiguous [\d.]+ ms, strided [\d.]+ ms/);
  // Its block: the chunk's first rows, as many as 2^22 words hold, never fewer than 4096, never more than the chunk.
  const block = { start: 0, rows: 100000, group_base: 0, scalar_at: 0, contiguous: 1, groups: 4, replica_groups: 0, unused: 0 };
  assert.is(trialBlock(block, 4 * 100000 * 1028 + 4 * 1025).rows, 4096, '1024 features and a target: 1028 words a row, 4080 rows in 2^22 words, so the floor');
  assert.is(trialBlock(block, 4 * 100000 * 260).rows, 16131, '256 features: 260 words a row');
  assert.is(trialBlock(block, 4 * 100000 * 20).rows, 100000, '16 features: the whole chunk fits');
  assert.is(trialBlock(block, 4 * 100000 * 40000).rows, 4096);
  assert.equal({ ...trialBlock(block, 4 * 100000 * 1028), rows: 100000 }, block, 'only the rows change');
});

test('data larger than the binding limit is bound in chunks of rows (limit lowered to 16 KiB)', async () => {
  // 5000 rows of [x | y] = 5 floats = 100 KB: seven chunks of 819 rows, whether x is read as a vec4
  // and y as a float or both as floats. Each chunk is one more row-pass dispatch.
  for (const [rowLoads, chunks, rows] of [['scalar', 7, 819], ['vec4', 7, 819]] as const) {
    const { dispatches, plan } = await againstCpu(5000, 4, 1, () => sgd({ lr: 0.1 }), 10, { layout: { maxBindingBytes: 16384, rowLoads } }, TOL);
    assert.match(plan, new RegExp(`the training set is bound in ${chunks} chunks of at most ${rows} rows`));
    assert.is(dispatches, 10 * (chunks + 1));
  }
});

test('more rows than 65535 workgroups of 64 cover (4.2 million) train correctly', async () => {
  await againstCpu(4_200_000, 1, 1, () => sgd({ lr: 0.3 }), 3, { plan: 'fused', layout: { rows: 'strided' } }, TOL);
});

test('a device allowing only 4 storage buffers splits the update kernel: 3 dispatches per epoch, same numbers', async () => {
  const { dispatches, plan } = await againstCpu(500, 3, 2, () => adam({ lr: 0.05 }), 20, { layout: { maxStorageBuffers: 4 } }, TOL);
  assert.is(dispatches, 60);
  assert.match(plan, /the finishing kernel would bind 5 storage buffers and the device allows 4: it stores the gradients and an update kernel applies them/);
});

test('the single-dispatch plan splits a long run into dispatches of at most epochsPerDispatch epochs', async () => {
  const { dispatches } = await againstCpu(20, 2, 1, () => sgd({ lr: 0.1 }), 20, { plan: 'tiny', layout: { epochsPerDispatch: 7 } }, TOL);
  assert.is(dispatches, 3);
});

test('the single-dispatch kernel takes its workgroup size from the layout, chosen per adapter: 4, 8 and 64 lanes train the same model', async () => {
  for (const tinyWorkgroup of [4, 8, 64]) {
    const { plan } = await againstCpu(398, 2, 1, () => sgd({ lr: 0.1, momentum: 0.5 }), 40, { plan: 'tiny', layout: { tinyWorkgroup } }, TOL);
    assert.match(plan, new RegExp(`the whole run in one workgroup of ${tinyWorkgroup}:`));
  }
  // A CPU adapter gets one SIMD vector of lanes (lavapipe: 256 bits, 8 floats); a GPU 64.
  const backend = (await webgpu()) as unknown as { description: string; layout: { tinyWorkgroup: number } };
  const software = /llvmpipe|lavapipe|swiftshader/i.test(backend.description);
  assert.is(backend.layout.tinyWorkgroup, software ? Number(/(\d+)-bits/.exec(backend.description)?.[1] ?? 256) / 32 : 64, backend.description);
});

test('a node fused away cannot be read, and says how to read it; a graph the compiler does not fuse is an error with "fused"', async () => {
  const g = new Graph();
  const X = g.input('X', [8, 2]);
  const Y = g.input('Y', [8, 1]);
  const W = g.param('W', [1, 2]);
  const b = g.param('b', [1]);
  const pred = g.add(g.matmul(X, g.transpose(W)), b);
  const loss = g.mean(g.squaredError(pred, Y));
  const model = await compile(g, { loss, optimizer: sgd(), backend: await webgpu() });
  model.write({ X: new Float32Array(16), Y: new Float32Array(8) });
  await rejects(() => model.read(pred), /has not been computed: nothing has run since compile/);
  await model.train({ epochs: 1 });
  const stored = await model.read(pred).then(() => null, (e: Error) => e);
  assert.is(stored?.name, 'PlanError');
  assert.match(stored!.message, /is fused into the tiny plan's kernels and never stored; model\.predict\(rows\) computes predictions on every plan, or compile with plan: 'per-node'/);
  await rejects(() => model.evaluate([loss]), /compile with plan: 'per-node' to evaluate/);
  // One value per pair of rows ([n, n]) has no per-row code.
  const h = new Graph();
  const Z = h.input('Z', [6, 2]);
  const V = h.param('V', [2]);
  const backend = await webgpu();
  const gram = h.matmul(h.add(Z, V), Z, { transB: true });
  await rejects(() => compile(h, { loss: h.mean(gram), optimizer: sgd(), backend, plan: 'fused' }), /plan "fused": %\d+ matmul is \[6,6\]: the row count along both axes/);
  model.dispose();
});

test.run();
