import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { adam } from '../optim/adam.js';
import type { Optimizer } from '../optim/optimizer.js';
import { type CompileOptions, compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { resampleRow } from '../runtime/shuffle.js';
import { assertClose, cpu64, countDispatches, rejects, webgpu } from './helpers.js';
import { synthetic } from '../regression/synthetic.js';

const N = 120;
const D = 2;
const data = synthetic(N, D, 1, 77);

async function model(backend: Backend, optimizer: Optimizer, options: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'> = {}, X: ArrayLike<number> = data.X, Y: ArrayLike<number> = data.Y) {
  const g = new Graph();
  const x = g.input('X', [N, D]);
  const y = g.input('Y', [N, 1]);
  const W = g.param('W', [1, D]);
  const b = g.param('b', [1]);
  const loss = g.mean(g.squaredError(g.add(g.matmul(x, g.transpose(W)), b), y));
  const m = await compile(g, { loss, optimizer, backend, ...options });
  m.write({ X: Float64Array.from(X), Y: Float64Array.from(Y) });
  return m;
}

test('a 3-rate sweep trains in one dispatch, each replicate with the curve it has alone; a diverging rate stops alone', async () => {
  const rates = [0.05, 0.01, 3];
  const gpu = await model(await webgpu(), sgd(), { sweep: { lr: rates } });
  assert.is(gpu.replicates, 3);
  const counter = countDispatches();
  let run;
  try {
    run = await gpu.train({ epochs: 200 });
  } finally {
    counter.restore();
  }
  assert.is(counter.count(), 1, 'all three models in one dispatch');
  const cpu = await model(cpu64(), sgd(), { sweep: { lr: rates } });
  const both = await cpu.train({ epochs: 200 });
  for (const [r, lr] of rates.entries()) {
    const alone = await model(cpu64(), sgd({ lr }));
    const want = await alone.train({ epochs: 200 });
    const got = run.replicates!.loss[r]!;
    if (lr === 3) {
      // float32 overflows long before float64 does: the device stops this replicate alone, and
      // the float64 run alone is exploding too.
      const d = run.replicates!.diverged[r]!;
      assert.ok(d, `lr ${lr} diverges on WebGPU`);
      assert.match(d.message, /The learning rate \(3\) is probably too large/);
      assert.is(got.length, d.epoch + 1);
      assert.ok(!(want.loss[d.epoch]! < 1e30), `and in float64 the loss is ${want.loss[d.epoch]} by then`);
      assertClose(got.slice(0, 5), want.loss.slice(0, 5), 1e-4, 'the first epochs agree');
      assert.equal(Array.from(both.replicates!.loss[r]!), Array.from(want.loss), `lr ${lr}: CPU replicate vs alone, the same numbers`);
      continue;
    }
    assert.is(got.length, 200, `lr ${lr}: every epoch`);
    assertClose(got, want.loss, 1e-4, `lr ${lr}: WebGPU replicate vs alone`);
    assertClose(both.replicates!.loss[r]!, want.loss, 1e-12, `lr ${lr}: CPU replicate vs alone`);
    // Replicate 0's parameters too (the CPU backend once read back its values from before the run).
    assertClose((await cpu.read('W')).subarray(r * D, r * D + D), await alone.read('W'), 1e-12, `lr ${lr}: CPU replicate's W vs alone`);
    assert.is(run.replicates!.diverged[r], null);
  }
  const W = await gpu.read('W');
  assert.is(W.length, 3 * D, 'parameters read as every replicate in turn');
  gpu.dispose();
});

test('bootstrap: replicate i trains on the resample drawn from (seed, i), the same as training on that resample alone', async () => {
  const B = 8;
  const gpu = await model(await webgpu(), adam({ lr: 0.05 }), { replicates: B, bootstrap: true, seed: 11 });
  await gpu.train({ epochs: 300 });
  const W = await gpu.read('W');
  const b = await gpu.read('b');
  for (const r of [0, 5]) {
    const rows = Array.from({ length: N }, (_, p) => resampleRow(11, r, p, N));
    const X = rows.flatMap((row) => Array.from(data.X.subarray(row * D, row * D + D)));
    const Y = rows.map((row) => data.Y[row]!);
    const alone = await model(cpu64(), adam({ lr: 0.05 }), {}, X, Y);
    await alone.train({ epochs: 300 });
    assertClose(W.subarray(r * D, r * D + D), await alone.read('W'), 1e-4, `replicate ${r}: W`);
    assertClose(b.subarray(r, r + 1), await alone.read('b'), 1e-4, `replicate ${r}: b`);
  }
  // Reproducible from the seed; another seed draws other resamples.
  const again = await model(await webgpu(), adam({ lr: 0.05 }), { replicates: B, bootstrap: true, seed: 11 });
  await again.train({ epochs: 300 });
  assertClose(await again.read('W'), W, 0, 'the same seed, the same replicates');
  const other = await model(await webgpu(), adam({ lr: 0.05 }), { replicates: B, bootstrap: true, seed: 12 });
  await other.train({ epochs: 300 });
  assert.ok(Array.from(await other.read('W')).some((v, i) => Math.abs(v - W[i]!) > 1e-4), 'another seed, other resamples');
  for (const m of [gpu, again, other]) m.dispose();
});

test('replicates need the single-workgroup plan, and sweeps one value per replicate', async () => {
  const gpu = await webgpu();
  await rejects(() => model(gpu, sgd(), { replicates: 4, plan: 'fused' }), /4 replicates train in one dispatch of the single-workgroup plan, and here the general fused plan trains one model/);
  await rejects(() => model(gpu, sgd(), { replicates: 4, sweep: { lr: [0.1, 0.2] } }), /sweep lr: 2 values for 4 replicates/);
  await rejects(() => model(gpu, sgd(), { sweep: { beta: [0.1, 0.2] } }), /sgd: no hyperparameter "beta"/);
});


test('fit --bootstrap 2000 (mpg ~ displacement): the slope\'s bootstrap SE within 10% of the closed form; both equal a float64 bootstrap of the same resamples; reproducible', async () => {
  const { fusegrad } = await import('./cli-helpers.js');
  const args = ['fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--lr', '0.1', '--epochs', '200', '--bootstrap', '2000', '--seed', '1', '--json'];
  const r = fusegrad(...args);
  assert.is(r.code, 0, r.err);
  const o = JSON.parse(r.out);
  const bs = o.bootstrap;
  const cf = o.closedForm[0];
  assert.is(bs.replicates, 2000);
  assert.is(bs.diverged, 0);
  const slopeRatio = bs.se.weight[0][0] / cf.se[1];
  assert.ok(Math.abs(slopeRatio - 1) < 0.1, `slope: bootstrap se ${bs.se.weight[0][0]} vs closed form ${cf.se[1]}`);
  // The same 2000 resamples refitted exactly in float64 (ols): the device's resampling and training
  // agree to within 1%, for the intercept too (whose pairs-bootstrap SE is ~16% above the classical
  // one on these data: the spread grows with displacement, which the classical formula ignores).
  const { readFileSync } = await import('node:fs');
  const { parseTable, selectColumns } = await import('../regression/data.js');
  const { ols } = await import('../regression/ols.js');
  const sel = selectColumns(parseTable('auto-mpg.csv', readFileSync('examples/data/auto-mpg.csv', 'utf8')), ['mpg'], ['displacement']);
  const n = sel.X.length;
  const c0: number[] = [];
  const c1: number[] = [];
  for (let b = 0; b < 2000; b++) {
    const rows = Array.from({ length: n }, (_, p) => resampleRow(1, b, p, n));
    const fit = ols(rows.map((i) => sel.X[i]!), rows.map((i) => sel.Y[i]![0]!), ['displacement']);
    c0.push(fit.coef[0]!);
    c1.push(fit.coef[1]!);
  }
  const sd = (v: number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
  };
  assert.ok(Math.abs(bs.se.bias[0] / sd(c0) - 1) < 0.01, `intercept: device ${bs.se.bias[0]} vs float64 ${sd(c0)}`);
  assert.ok(Math.abs(bs.se.weight[0][0] / sd(c1) - 1) < 0.01, `slope: device ${bs.se.weight[0][0]} vs float64 ${sd(c1)}`);
  const again = JSON.parse(fusegrad(...args).out);
  assert.equal(again.bootstrap, bs, 'the same seed gives the same replicates');
});

test('fit --lr 0.1,0.01,0.001,3: one model per rate in one run, each as trained alone; the diverging one is reported alone', async () => {
  const { fusegrad } = await import('./cli-helpers.js');
  const base = ['fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '300', '--json'];
  const o = JSON.parse(fusegrad(...base, '--lr', '0.1,0.01,0.001,3').out);
  assert.equal(o.sweep.map((s: { lr: number }) => s.lr), [0.1, 0.01, 0.001, 3]);
  assert.is(o.timing.submits, 1);
  for (const s of o.sweep.slice(0, 3)) {
    const alone = JSON.parse(fusegrad(...base, '--lr', String(s.lr)).out);
    assertClose(s.loss, alone.history.loss, 1e-4, `lr ${s.lr}`);
    assert.is(s.diverged, null);
  }
  assert.match(o.sweep[3].diverged, /The learning rate \(3\) is probably too large/);
  const text = fusegrad(...base.filter((a) => a !== '--json'), '--lr', '0.1,0.01,0.001,3');
  assert.match(text.out, /learning-rate sweep \(one model per rate, trained together\):/);
  assert.match(text.out, /\s3\s+Infinity\s+diverged: /);
});

test.run();
