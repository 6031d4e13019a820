import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { APPLES } from '../examples/apples.js';
import { assertClose, cpu64, randoms, webgpu } from './helpers.js';

/** The lesson's model: yields = X Wᵀ + b, mean squared error, full-batch SGD. */
async function applesModel(backend: Backend, lr = 1e-5) {
  const g = new Graph();
  const X = g.input('X', [5, 3]);
  const Y = g.input('Y', [5, 2]);
  const W = g.param('W', [2, 3]);
  const b = g.param('b', [2]);
  const pred = g.add(g.matmul(X, g.transpose(W)), b);
  const loss = g.mean(g.squaredError(pred, Y));
  const model = await compile(g, { loss, optimizer: sgd({ lr }), backend });
  model.write({ X: APPLES.X, Y: APPLES.Y, W: randoms(6, 7), b: randoms(2, 8) });
  return model;
}

/** Counts dispatches independently of fusegrad's own stats, by wrapping the WebGPU entry point. */
function countDispatches(): { count: () => number; restore: () => void } {
  const proto = (globalThis as unknown as { GPUComputePassEncoder: { prototype: GPUComputePassEncoder } }).GPUComputePassEncoder.prototype;
  const original = proto.dispatchWorkgroups;
  let n = 0;
  proto.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>) {
    n++;
    return original.apply(this, args);
  };
  return { count: () => n, restore: () => void (proto.dispatchWorkgroups = original) };
}

test('apples: 100 SGD epochs on WebGPU match the float64 CPU run within 1e-4, in 1 submit and 1 readback', async () => {
  const gpu = await applesModel(await webgpu());
  const ref = await applesModel(cpu64());
  const before = { ...gpu.stats };
  const counter = countDispatches();
  let run;
  try {
    run = await gpu.train({ epochs: 100 });
  } finally {
    counter.restore();
  }
  const want = await ref.train({ epochs: 100 });
  assert.is(gpu.stats.submits - before.submits, 1, 'submits for the whole run');
  assert.is(gpu.stats.readbacks - before.readbacks, 1, 'readbacks for the whole run');
  const perEpoch = (gpu.stats.dispatches - before.dispatches) / 100;
  assert.ok(Number.isInteger(perEpoch) && perEpoch > 0, `dispatches per epoch: ${perEpoch}`);
  assert.is(counter.count(), gpu.stats.dispatches - before.dispatches, 'dispatches counted by wrapping dispatchWorkgroups');
  assert.is(run.loss.length, 100);
  assert.ok(want.loss[99]! < want.loss[0]! / 2, `the loss falls: ${want.loss[0]} -> ${want.loss[99]}`);
  // Per-epoch losses and final parameters: relative error 1e-4 (the bar); float32 against
  // float64 over 100 steps stays near 1e-6 here.
  for (let e = 0; e < 100; e++) {
    const rel = Math.abs(run.loss[e]! - want.loss[e]!) / want.loss[e]!;
    assert.ok(rel < 1e-4, `epoch ${e}: loss ${run.loss[e]} vs ${want.loss[e]} (relative error ${rel})`);
  }
  assertClose(await gpu.read('W'), await ref.read('W'), 1e-4, 'W after 100 epochs');
  assertClose(await gpu.read('b'), await ref.read('b'), 1e-4, 'b after 100 epochs');
  gpu.dispose();
});

test('the learning rate lives in a device buffer: setHyper changes the run without recompiling', async () => {
  const gpu = await applesModel(await webgpu(), 1e-5);
  const ref = await applesModel(cpu64(), 1e-5);
  gpu.setHyper({ lr: 5e-5 });
  ref.setHyper({ lr: 5e-5 });
  const a = await gpu.train({ epochs: 20 });
  const b = await ref.train({ epochs: 20 });
  assertClose(a.loss, b.loss, 1e-4, 'loss curve at lr 5e-5');
  assert.throws(() => gpu.setHyper({ momentum: 0.9 }), /sgd: no hyperparameter "momentum" \(it has lr\)/);
  gpu.dispose();
});

test('successive runs continue from where the last one stopped', async () => {
  const gpu = await applesModel(await webgpu());
  const first = await gpu.train({ epochs: 30 });
  const second = await gpu.train({ epochs: 30 });
  const ref = await applesModel(cpu64());
  const whole = await ref.train({ epochs: 60 });
  assertClose([...first.loss, ...second.loss], whole.loss, 1e-4, 'two runs of 30 vs one of 60');
  gpu.dispose();
});

test.run();
