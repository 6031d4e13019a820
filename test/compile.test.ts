/**
 * @file The fusion compiler on graphs beyond the regression: every graph a user writes from the op
 * set in the family of per-row losses compiles to at most 2 dispatches per full-batch epoch (1 per
 * run when small), and trains with Adam, shuffled minibatches and a validation set on WebGPU as the
 * float64 CPU backend does, epoch by epoch; a graph whose rows wait for a sum over rows takes one
 * more pass; and what runs changes when a gradient rule does.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GRADS } from '../autograd/rules.js';
import { Graph } from '../engine/graph.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import type { Optimizer } from '../optim/optimizer.js';
import { compile, type CompileOptions } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { synthetic } from '../regression/synthetic.js';
import { assertClose, countDispatches, cpu64, webgpu } from './helpers.js';
import { D, FAMILY, type Family, build, linear } from './family.js';

for (const f of FAMILY) {
  test(`${f.name}: ${(f.passes ?? 1) + 1} dispatches per full-batch epoch at 20000 rows, 1 per run at 200, equal to float64 with Adam, shuffled minibatches of 5000 and validation`, async () => {
    const gpu = await webgpu();
    const lr = f.lr ?? 0.02;
    const big = await build(f, gpu, 20000, adam({ lr }));
    assert.is(big.planName, 'fused', `${f.name} at 20000 rows: ${big.plan()}`);
    const { dispatches: perEpoch } = await countDispatches(() => big.train({ epochs: 3 }));
    assert.is(perEpoch, 3 * ((f.passes ?? 1) + 1), `${f.name}: dispatches in 3 full-batch epochs`);
    big.dispose();
    const small = await build(f, gpu, 200, adam({ lr }));
    assert.is(small.planName, 'tiny');
    const { dispatches: perRun } = await countDispatches(() => small.train({ epochs: 50 }));
    assert.is(perRun, 1, `${f.name}: 50 epochs at 200 rows`);
    small.dispose();

    const options = { batchSize: 5000, shuffle: true, seed: 5, validationRows: 700 };
    const model = await build(f, gpu, 20000, adam({ lr }), options);
    const ref = await build(f, cpu64(), 20000, adam({ lr }), options);
    const [run, want] = [await model.train({ epochs: 6 }), await ref.train({ epochs: 6 })];
    // float32 sums of 5000 rows against float64, over 24 Adam steps: well under 1e-4 of the scale.
    assertClose(run.loss, want.loss, 1e-4, `${f.name}: training loss by epoch`);
    assertClose(run.validLoss!, want.validLoss!, 1e-4, `${f.name}: validation loss by epoch`);
    for (const p of model.program.params) assertClose(await model.read(p.name), await ref.read(p.name), 1e-4, `${f.name}: ${p.name}`);
    model.dispose();
  });
}

test('many models of other graphs: a sweep of a tanh network and a pairs and a residual bootstrap of a ridge fit, on both plans, as on the CPU', async () => {
  const tanh = FAMILY.find((f) => f.name === 'a tanh hidden layer')!;
  const ridge = FAMILY.find((f) => f.name === 'a ridge penalty written in the graph')!;
  const n = 300;
  const data = synthetic(n, D, 1, 7);
  const cases: [Family, Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'>, () => Optimizer][] = [
    [tanh, { sweep: { lr: [0.05, 0.01, 0.002] }, batchSize: 64, shuffle: true, seed: 3 }, () => adam()],
    [ridge, { replicates: 4, bootstrap: 'pairs', seed: 9, validationRows: 50 }, () => sgd({ lr: 0.05, momentum: 0.5 })],
    [ridge, { replicates: 3, bootstrap: 'residuals', seed: 4, batchSize: 100 }, () => adam({ lr: 0.05 })],
  ];
  for (const [f, options, optimizer] of cases) {
    for (const plan of ['tiny', 'fused'] as const) {
      const label = `${f.name}, ${JSON.stringify(options)} on ${plan}`;
      const make = async (backend: Backend) => {
        const m = await build(f, backend, n, optimizer(), { ...options, ...(backend.kind === 'webgpu' ? { plan } : {}) });
        // Residuals: the data's own as the pool, Y as the fitted values (any pool will do to compare backends).
        if (options.bootstrap === 'residuals') m.write({ Y: Float64Array.from(data.Y, (v) => 0.1 * v) }, 'residuals');
        return m;
      };
      const [gpu, cpu] = [await make(await webgpu()), await make(cpu64())];
      assert.is(gpu.planName, plan, label);
      const { result: run, dispatches } = await countDispatches(() => gpu.train({ epochs: 12 }));
      if (plan === 'tiny') assert.is(dispatches, 1, `${label}: every model in one dispatch`);
      const want = await cpu.train({ epochs: 12 });
      for (let r = 0; r < gpu.replicates; r++) {
        assertClose(run.replicates!.loss[r]!, want.replicates!.loss[r]!, 1e-4, `${label}: replicate ${r}'s loss`);
        if (options.validationRows) assertClose(run.replicates!.validLoss![r]!, want.replicates!.validLoss![r]!, 1e-4, `${label}: replicate ${r}'s validation loss`);
      }
      for (const p of gpu.program.params) assertClose(await gpu.read(p.name), await cpu.read(p.name), 1e-4, `${label}: every replicate's ${p.name}`);
      gpu.dispose();
    }
  }
});

test('a network past the binding limit and on a device with 4 storage buffers: chunks of rows and a split finishing kernel', async () => {
  const tanh = FAMILY.find((f) => f.name === 'a tanh hidden layer')!;
  for (const layout of [{ maxBindingBytes: 16384 }, { maxStorageBuffers: 4 }]) {
    const gpu = await build(tanh, await webgpu(), 3000, adam({ lr: 0.02 }), { plan: 'fused', batchSize: 1000, layout });
    const cpu = await build(tanh, cpu64(), 3000, adam({ lr: 0.02 }), { batchSize: 1000 });
    const { result: run, dispatches } = await countDispatches(() => gpu.train({ epochs: 4 }));
    const want = await cpu.train({ epochs: 4 });
    // 3000 records of 4 floats (3 features, 1 target) in 16 KiB chunks of 1024 rows: 3 row-pass dispatches; or 1 and a finishing kernel split in two.
    assert.is(dispatches, 4 * 3 * ('maxBindingBytes' in layout ? 3 + 1 : 1 + 2), JSON.stringify(layout));
    assertClose(run.loss, want.loss, 1e-4, `${JSON.stringify(layout)}: loss`);
    for (const p of gpu.program.params) assertClose(await gpu.read(p.name), await cpu.read(p.name), 1e-4, `${JSON.stringify(layout)}: ${p.name}`);
    gpu.dispose();
  }
});

test('a gradient rule changed in the table changes what every plan runs', async () => {
  const train = async (plan: 'tiny' | 'fused' | 'per-node', backend: Backend) => {
    const g = new Graph();
    const X = g.input('X', [64, 2]);
    const Y = g.input('Y', [64, 1]);
    const loss = g.mean(g.squaredError(linear(g, X), Y));
    const m = await compile(g, { loss, optimizer: sgd({ lr: 0.01 }), backend, plan: backend.kind === 'cpu' ? undefined : plan });
    const data = synthetic(64, 2, 1, 9);
    m.write({ X: data.X, Y: data.Y });
    await m.train({ epochs: 1 });
    const W = await m.read('W');
    m.dispose();
    return W;
  };
  const rule = GRADS.squaredError;
  const gpu = await webgpu();
  const plans = ['tiny', 'fused', 'per-node'] as const;
  const before: Float32Array[] = [];
  for (const plan of plans) before.push((await train(plan, gpu)) as Float32Array);
  // d (a - b)² written with 20 in place of 2: every step 10 times as large.
  GRADS.squaredError = ({ g, inputs: [a, b], grad }) => {
    const d = () => g.scale(g.mul(grad, g.sub(a!, b!)), 20);
    return [d, () => g.scale(d(), -1)];
  };
  try {
    const after: Float32Array[] = [];
    for (const plan of plans) after.push((await train(plan, gpu)) as Float32Array);
    const cpu = await train('tiny', cpu64());
    plans.forEach((plan, i) => {
      // From zeros, one SGD step is -lr * gradient: ten times the step with the factor 2.
      assertClose(after[i]!, Array.from(before[i]!, (v) => 10 * v), 1e-5, `${plan}: the first step with the changed rule`);
      assertClose(after[i]!, cpu, 1e-5, `${plan}: as the CPU backend with the changed rule`);
    });
  } finally {
    GRADS.squaredError = rule;
  }
});

test.run();
