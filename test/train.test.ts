import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { compile } from '../runtime/model.js';
import type { Backend, PlanOptions } from '../runtime/program.js';
import { APPLES } from '../examples/apples.js';
import { assertClose, countDispatches, cpu64, randoms, webgpu } from './helpers.js';

/** The lesson's model: yields = X Wᵀ + b, mean squared error, full-batch SGD. */
async function applesModel(backend: Backend, lr = 1e-5, plan: PlanOptions['plan'] = 'auto') {
  const g = new Graph();
  const X = g.input('X', [5, 3]);
  const Y = g.input('Y', [5, 2]);
  const W = g.param('W', [2, 3]);
  const b = g.param('b', [2]);
  const pred = g.add(g.matmul(X, g.transpose(W)), b);
  const loss = g.mean(g.squaredError(pred, Y));
  const model = await compile(g, { loss, optimizer: sgd({ lr }), backend, plan });
  model.write({ X: APPLES.X, Y: APPLES.Y, W: randoms(6, 7), b: randoms(2, 8) });
  return model;
}

// Dispatches per 100 epochs of each plan: one kernel per node (16 per epoch), the two fused
// kernels, and the single-dispatch kernel that loops over all 100 epochs.
const PLANS = [
  ['per-node', 1600],
  ['fused', 200],
  ['tiny', 1],
] as const;

for (const [plan, dispatches] of PLANS) {
  test(`apples, ${plan} plan: 100 SGD epochs on WebGPU match float64 within 1e-4, 1 submit, 1 readback, ${dispatches} dispatches`, async () => {
    const gpu = await applesModel(await webgpu(), 1e-5, plan);
    const ref = await applesModel(cpu64());
    const before = { ...gpu.stats };
    const { result: run, dispatches: counted } = await countDispatches(() => gpu.train({ epochs: 100 }));
    const want = await ref.train({ epochs: 100 });
    assert.is(gpu.stats.submits - before.submits, 1, 'submits for the whole run');
    assert.is(gpu.stats.readbacks - before.readbacks, 1, 'readbacks for the whole run');
    assert.is(gpu.stats.dispatches - before.dispatches, dispatches, 'dispatches by fusegrad stats');
    assert.is(counted, dispatches, 'dispatches counted by wrapping dispatchWorkgroups');
    assert.is(run.loss.length, 100);
    assert.ok(want.loss[99]! < want.loss[0]! / 2, `the loss falls: ${want.loss[0]} -> ${want.loss[99]}`);
    // Relative error 1e-4 per epoch and on the final parameters (the bar); float32
    // against float64 over 100 steps stays near 1e-6 here.
    for (let e = 0; e < 100; e++) {
      const rel = Math.abs(run.loss[e]! - want.loss[e]!) / want.loss[e]!;
      assert.ok(rel < 1e-4, `epoch ${e}: loss ${run.loss[e]} vs ${want.loss[e]} (relative error ${rel})`);
    }
    assertClose(await gpu.read('W'), await ref.read('W'), 1e-4, 'W after 100 epochs');
    assertClose(await gpu.read('b'), await ref.read('b'), 1e-4, 'b after 100 epochs');
    gpu.dispose();
  });

  test(`apples, ${plan} plan: setHyper changes the learning rate without recompiling; runs continue where the last stopped`, async () => {
    const gpu = await applesModel(await webgpu(), 1e-5, plan);
    const ref = await applesModel(cpu64(), 1e-5);
    gpu.setHyper({ lr: 2e-5 });
    ref.setHyper({ lr: 2e-5 });
    const first = await gpu.train({ epochs: 20 });
    const second = await gpu.train({ epochs: 30 });
    const whole = await ref.train({ epochs: 50 });
    assertClose([...first.loss, ...second.loss], whole.loss, 1e-4, 'two runs of 20 and 30 at lr 2e-5 vs one of 50');
    assert.throws(() => gpu.setHyper({ beta1: 0.9 }), /sgd: no hyperparameter "beta1" \(it has lr, momentum, dampening, nesterov, weightDecay\)/);
    gpu.dispose();
  });
}

test('the auto plan picks the single-dispatch kernel for the 5-row problem: 1000 epochs, 1 dispatch', async () => {
  const gpu = await applesModel(await webgpu());
  const before = gpu.stats.dispatches;
  await gpu.train({ epochs: 1000 });
  assert.is(gpu.stats.dispatches - before, 1);
  assert.match(gpu.plan(), /^plan: tiny/);
  gpu.dispose();
});

test.run();
