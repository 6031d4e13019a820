import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { adam } from '../optim/adam.js';
import type { Optimizer } from '../optim/optimizer.js';
import { type CompileOptions, compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { resampleRow } from '../wgsl/shuffle.js';
import { assertClose, caught, cpu64, countDispatches, rejects, webgpu } from './helpers.js';
import { synthetic } from '../regression/synthetic.js';
import { bootstrapFit, residualPool, rowsOf } from '../regression/bootstrap.js';
import { InputError } from '../regression/data.js';
import { fitRegression } from '../regression/fit.js';

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
  const { result: run, dispatches } = await countDispatches(() => gpu.train({ epochs: 200 }));
  assert.is(dispatches, 1, 'all three models in one dispatch');
  const cpu = await model(cpu64(), sgd(), { sweep: { lr: rates } });
  const both = await cpu.train({ epochs: 200 });
  for (const [r, lr] of rates.entries()) {
    const alone = await model(cpu64(), sgd({ lr }));
    const want = await alone.train({ epochs: 200 });
    const got = run.replicates!.loss[r]!;
    if (lr === 3) {
      // The device stops this replicate alone, where the float64 run alone stops too: the loss
      // grew a million-fold from its first value (the rule is the same on every backend).
      const d = run.replicates!.diverged[r]!;
      assert.ok(d, `lr ${lr} diverges on WebGPU`);
      assert.match(d.message, /The learning rate \(3\) is probably too large/);
      assert.is(got.length, d.epoch + 1);
      assert.ok(want.diverged, 'the float64 run alone diverges');
      assert.ok(Math.abs(want.diverged!.epoch - d.epoch) <= 1, `at the same epoch, float32 rounding apart (${want.diverged!.epoch} and ${d.epoch})`);
      assert.equal(both.replicates!.diverged[r]!.epoch, want.diverged!.epoch, 'the CPU replicate stops where it stops alone');
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

test('a sweep over optimizer settings too: each replicate its own Adam betas, or SGD momentum and Nesterov, as trained alone', async () => {
  const cases: [string, (h: Record<string, number>) => Optimizer, Record<string, number[]>][] = [
    ['adam', (h) => adam({ lr: h.lr!, betas: [h.beta1!, 0.999] }), { lr: [0.05, 0.05, 0.02], beta1: [0.9, 0.5, 0.8] }],
    ['sgd', (h) => sgd({ lr: h.lr!, momentum: h.momentum!, nesterov: h.nesterov === 1 }), { lr: [0.05, 0.05, 0.02], momentum: [0, 0.9, 0.9], nesterov: [0, 0, 1] }],
  ];
  for (const [name, make, sweep] of cases) {
    const at = (r: number) => Object.fromEntries(Object.entries(sweep).map(([k, v]) => [k, v[r]!]));
    const gpu = await model(await webgpu(), make(at(0)), { sweep });
    const cpu = await model(cpu64(), make(at(0)), { sweep });
    const [run, ref] = [await gpu.train({ epochs: 60 }), await cpu.train({ epochs: 60 })];
    for (let r = 0; r < 3; r++) {
      const alone = await model(cpu64(), make(at(r)));
      const want = await alone.train({ epochs: 60 });
      assertClose(run.replicates!.loss[r]!, want.loss, 1e-4, `${name} ${JSON.stringify(at(r))}: WebGPU replicate vs alone`);
      assertClose(ref.replicates!.loss[r]!, want.loss, 1e-12, `${name} ${JSON.stringify(at(r))}: CPU replicate vs alone`);
    }
    assert.ok(Math.abs(run.replicates!.loss[0]![59]! - run.replicates!.loss[1]![59]!) > 1e-6, `${name}: the settings change the curves`);
    gpu.dispose();
  }
});

/**
 * Each replicate's rows over many workgroups (the fused plan, which a GPU takes for replicates
 * past one workgroup's budget): the same curves and parameters as the CPU backend's replicates,
 * which the tests above hold to each replicate trained alone.
 */
test('replicates on the fused plan: a sweep with a diverging rate, a pairs and a residual bootstrap with shuffled minibatches and validation, as on the CPU', async () => {
  const nv = 30;
  const valid = synthetic(nv, D, 1, 78);
  const { fitted, residuals } = residualPool(rowsOf(data.X, D), rowsOf(data.Y, 1));
  const cases: [string, () => Optimizer, Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'>, ArrayLike<number>][] = [
    ['sweep', () => sgd(), { sweep: { lr: [0.05, 0.01, 3] } }, data.Y],
    ['pairs', () => adam({ lr: 0.05 }), { replicates: 5, bootstrap: 'pairs', seed: 11, validationRows: nv }, data.Y],
    ['residuals', () => sgd({ lr: 0.05, momentum: 0.9 }), { replicates: 4, bootstrap: 'residuals', seed: 5, batchSize: 32, shuffle: true, validationRows: nv }, fitted.flat()],
  ];
  const epochs = 40;
  for (const [name, optimizer, options, Y] of cases) {
    const build = async (backend: Backend, extra: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'> = {}) => {
      const m = await model(backend, optimizer(), { ...options, ...extra }, data.X, Y);
      if (options.validationRows) m.write({ X: valid.X, Y: valid.Y }, 'validation');
      if (options.bootstrap === 'residuals') m.write({ Y: residuals }, 'residuals');
      return m;
    };
    const gpu = await build(await webgpu(), { plan: 'fused' });
    assert.match(gpu.plan(), new RegExp(`${gpu.replicates} replicates, each over \\d+ workgroups of every row pass`), `${name}: the plan says how the replicates are laid out`);
    const { result: run, dispatches } = await countDispatches(() => gpu.train({ epochs }));
    const batches = options.batchSize ? Math.ceil(N / options.batchSize) : 1;
    assert.is(dispatches, epochs * (2 * batches + (options.validationRows ? 2 : 0)), `${name}: every replicate in the same dispatches`);
    const cpu = await build(cpu64());
    const want = await cpu.train({ epochs });
    const [W, cW, b, cb] = [await gpu.read('W'), await cpu.read('W'), await gpu.read('b'), await cpu.read('b')];
    for (let r = 0; r < gpu.replicates; r++) {
      const got = run.replicates!.loss[r]!;
      const diverged = run.replicates!.diverged[r];
      if (diverged) {
        // float32 overflows before float64: this replicate stops alone, the others train on.
        assert.ok(name === 'sweep' && r === 2, `${name} replicate ${r}: only the rate 3 diverges`);
        assert.is(got.length, diverged.epoch + 1);
        assertClose(got.slice(0, 5), want.replicates!.loss[r]!.slice(0, 5), 1e-4, 'the first epochs agree');
        continue;
      }
      assertClose(got, want.replicates!.loss[r]!, 1e-4, `${name} replicate ${r}: loss curve`);
      if (options.validationRows) assertClose(run.replicates!.validLoss![r]!, want.replicates!.validLoss![r]!, 1e-4, `${name} replicate ${r}: validation curve`);
      assertClose(W.subarray(r * D, r * D + D), cW.subarray(r * D, r * D + D), 1e-4, `${name} replicate ${r}: W`);
      assertClose(b.subarray(r, r + 1), cb.subarray(r, r + 1), 1e-4, `${name} replicate ${r}: b`);
    }
    if (name === 'sweep') assert.ok(run.replicates!.diverged[2], 'the rate 3 diverges');
    assert.ok(Math.abs(W[0]! - W[D]!) > 1e-4, `${name}: replicates 0 and 1 differ`);
    // A second run goes on from the first, as on the CPU (steps, epochs and draws carry over).
    const [more, wantMore] = [await gpu.train({ epochs: 5 }), await cpu.train({ epochs: 5 })];
    assertClose(more.replicates!.loss[0]!, wantMore.replicates!.loss[0]!, 1e-4, `${name}: a second run, replicate 0`);
    gpu.dispose();
  }
});

test('past one workgroup\'s budget, replicates spread over many workgroups unless the layout says to keep one workgroup each', async () => {
  const gpu = await webgpu();
  const over = { tinyMaxWork: 400 };
  const spread = await model(gpu, sgd(), { replicates: 3, bootstrap: 'pairs', layout: { ...over, bigReplicas: 'fused' } });
  assert.is(spread.planName, 'fused');
  assert.match(spread.plan(), /not the single-dispatch plan: 3 replicates of 120 rows x 4 sums, over one workgroup's budget \(400\): each one's rows spread over many workgroups/);
  const byDefault = await model(gpu, sgd(), { replicates: 3, bootstrap: 'pairs', layout: over });
  assert.is(byDefault.planName, 'fused', 'spread by default, on this software adapter too');
  const kept = await model(gpu, sgd(), { replicates: 3, bootstrap: 'pairs', layout: { ...over, bigReplicas: 'tiny' } });
  assert.is(kept.planName, 'tiny');
  const forced = await model(gpu, sgd(), { replicates: 3, bootstrap: 'pairs', plan: 'tiny', layout: { ...over, bigReplicas: 'fused' } });
  assert.is(forced.planName, 'tiny', "plan 'tiny' keeps them one workgroup each");
  const small = await model(gpu, sgd(), { replicates: 3, bootstrap: 'pairs', layout: { bigReplicas: 'fused' } });
  assert.is(small.planName, 'tiny', 'within the budget: one workgroup each');
  for (const m of [spread, byDefault, kept, forced, small]) m.dispose();
});

test('more replicates than the device has workgroups per dimension wrap onto the next rows of the grid, and match the CPU', async () => {
  const layout = { maxGroupsPerDim: 4, tinyMaxWork: 400, bigReplicas: 'fused' as const };
  const gpu = await model(await webgpu(), sgd({ lr: 0.05 }), { replicates: 10, bootstrap: 'pairs', seed: 3, layout });
  assert.is(gpu.planName, 'tiny', 'too many to spread over the fused plan: one workgroup each');
  assert.match(gpu.plan(), /tiny +4x3 /);
  const run = await gpu.train({ epochs: 20 });
  const cpu = await model(cpu64(), sgd({ lr: 0.05 }), { replicates: 10, bootstrap: 'pairs', seed: 3 });
  const want = await cpu.train({ epochs: 20 });
  for (let r = 0; r < 10; r++) assertClose(run.replicates!.loss[r]!, want.replicates!.loss[r]!, 1e-4, `replicate ${r}: loss curve`);
  assertClose(await gpu.read('W'), await cpu.read('W'), 1e-4, "every replicate's W");
  gpu.dispose();
});

test('bootstrapFit trains many replicates in runs whose loss records fit one binding; the answer is the same as in one run', async () => {
  const sample = { X: rowsOf(data.X, D), Y: rowsOf(data.Y, 1) };
  const backend = await webgpu();
  const fitWith = (lr: number, recordsPerRun?: number) => bootstrapFit(sample, { optimizer: sgd({ lr, momentum: 0.5 }), backend, epochs: 50, seed: 4 }, { B: 8, method: 'pairs', recordsPerRun }, undefined);
  const whole = await fitWith(0.05);
  const chunked = await fitWith(0.05, 8 * 7); // 7 epochs a run: 8 runs
  assert.equal(chunked.draws, whole.draws, 'the same coefficients, to the last bit');
  assert.is(whole.diverged, 0);
  // A replicate that diverges in one run stays out, whatever the later runs do.
  const [wild, wildChunked] = [await fitWith(3), await fitWith(3, 8 * 7)];
  assert.is(wild.diverged, 8);
  assert.is(wildChunked.diverged, 8);
});

test('a command the device rejects is an error, not old numbers read back', async () => {
  // A planner told the device allows more workgroups per dimension than it does: the dispatch is
  // invalid. compile() runs every pipeline once (so that drivers compile shaders then), and that
  // first dispatch is refused already, before any training.
  const device = await webgpu();
  await rejects(() => model(device, sgd({ lr: 0.05 }), { replicates: 70000, bootstrap: 'pairs', layout: { maxGroupsPerDim: 1 << 20 } }), /WebGPU rejected the first dispatch of the tiny plan's pipelines \(a fusegrad bug, please report it\): .*70000/);
  // A run the device rejects (here, one that writes to a buffer destroyed behind fusegrad's back)
  // fails too, rather than reading back what the buffers held before.
  const gpu = await model(await webgpu(), sgd({ lr: 0.05 }), { replicates: 4, bootstrap: 'pairs' });
  const exe = (gpu as unknown as { exe: { buffers: GPUBuffer[]; compiled: { records: number } } }).exe;
  exe.buffers[exe.compiled.records]!.destroy();
  await rejects(() => gpu.train({ epochs: 1 }), /WebGPU rejected the commands of the tiny plan \(a fusegrad bug, please report it\)/);
  assert.is((await gpu.read('b')).length, 4, 'the model still reads back (the staging buffer was unmapped)');
  gpu.dispose();
});

test('sweeps take one value per replicate, and the fused plan names what it cannot hold', async () => {
  const gpu = await webgpu();
  await rejects(() => model(gpu, sgd(), { replicates: 4, plan: 'fused', layout: { maxStorageBuffers: 4 } }), /4 replicates train together on row passes and a finishing kernel only with 5 storage buffers per kernel, and the device allows 4/);
  await rejects(() => model(gpu, sgd(), { replicates: 4, plan: 'fused', layout: { maxGroupsPerDim: 3 } }), /4 replicates train together on row passes and a finishing kernel only up to 3 of them \(the device's workgroups per dimension\)/);
  // One invocation per workgroup (4 bytes of shared memory a sum), so 120 workgroups per replicate.
  const narrow = { maxBindingBytes: 10000, rows: 'strided' as const, stridedGroups: 1000, maxWorkgroupBytes: 16 };
  await rejects(() => model(gpu, sgd(), { replicates: 8, plan: 'fused', layout: narrow }), /8 replicates x 120 workgroups x 4 sums of partials need 15360 bytes, over one binding \(10000 bytes\); train fewer replicates at once/);
  await rejects(() => model(gpu, sgd(), { replicates: 200, layout: { maxBindingBytes: 1500 } }), /200 replicates: the theta = \[W, b\] of 200 replicates \(3 parameters each\) need 2400 bytes, over one binding \(1500 bytes\); train fewer replicates at once/);
  await rejects(() => model(gpu, sgd(), { replicates: 4, sweep: { lr: [0.1, 0.2] } }), /sweep lr: 2 values for 4 replicates/);
  await rejects(() => model(gpu, sgd(), { sweep: { beta: [0.1, 0.2] } }), /sgd: no hyperparameter "beta"/);
  await rejects(() => model(gpu, sgd(), { sweep: { lr: [0.1, -1] } }), /sgd: lr must be in \(0, Infinity\), got -1/);
  await rejects(() => model(gpu, adam(), { sweep: { beta1: [0.9, 1] } }), /adam: betas\[0\] must be in \[0, 1\), got 1/);
});


test('residual pool: the closed-form fit, and residuals divided by sqrt(1 - leverage) and centred, against the hat matrix formed directly', () => {
  const X = rowsOf(data.X, D);
  const Y = rowsOf(data.Y, 1);
  const { fitted, residuals } = residualPool(X, Y);
  // The hat matrix's diagonal from (AᵀA)⁻¹ by Gauss-Jordan (A = [1 | X], 3 columns, well conditioned).
  const A = X.map((r) => [1, ...r]);
  const p = D + 1;
  const M = Array.from({ length: p }, (_, i) => [...Array.from({ length: p }, (_, j) => A.reduce((s, r) => s + r[i]! * r[j]!, 0)), ...Array.from({ length: p }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < p; c++) {
    const pivot = M[c]![c]!;
    M[c] = M[c]!.map((v) => v / pivot);
    for (let r = 0; r < p; r++) if (r !== c) M[r] = M[r]!.map((v, j) => v - M[r]![c]! * M[c]![j]!);
  }
  const inv = M.map((r) => r.slice(p));
  const h = A.map((a) => a.reduce((s, ai, i) => s + ai * a.reduce((t, aj, j) => t + inv[i]![j]! * aj, 0), 0));
  assert.ok(Math.abs(h.reduce((s, v) => s + v, 0) - p) < 1e-12, 'the leverages sum to the number of coefficients');
  // Normal equations: the raw residuals are orthogonal to every column of A.
  const raw = Y.map((y, i) => y[0]! - fitted[i]![0]!);
  for (let j = 0; j < p; j++) assert.ok(Math.abs(A.reduce((s, a, i) => s + a[j]! * raw[i]!, 0)) < 1e-10, `residuals orthogonal to column ${j}`);
  const modified = raw.map((e, i) => e / Math.sqrt(1 - h[i]!));
  const mean = modified.reduce((s, v) => s + v, 0) / N;
  assertClose(residuals.map((r) => r[0]!), modified.map((v) => v - mean), 1e-12, 'modified, centred residuals');
});

test('residual bootstrap: replicate i keeps X and trains on Y plus the residuals drawn from (seed, i), as trained alone on those targets; with shuffled minibatches too', async () => {
  const B = 6;
  const seed = 5;
  const { fitted, residuals } = residualPool(rowsOf(data.X, D), rowsOf(data.Y, 1));
  const options = { replicates: B, bootstrap: 'residuals' as const, seed, batchSize: 32, shuffle: true };
  const optimizer = () => sgd({ lr: 0.05, momentum: 0.9 });
  const gpu = await model(await webgpu(), optimizer(), options, data.X, fitted.flat());
  gpu.write({ Y: residuals }, 'residuals');
  const { result: run, dispatches } = await countDispatches(() => gpu.train({ epochs: 40 }));
  assert.is(dispatches, 1, 'every replicate in one dispatch');
  const cpu = await model(cpu64(), optimizer(), options, data.X, fitted.flat());
  cpu.write({ Y: residuals }, 'residuals');
  const both = await cpu.train({ epochs: 40 });
  const [W, b, cW, cb] = [await gpu.read('W'), await gpu.read('b'), await cpu.read('W'), await cpu.read('b')];
  for (const r of [0, 4]) {
    const targets = fitted.map((f, row) => f[0]! + residuals[resampleRow(seed, r, row, N)]![0]!);
    const alone = await model(cpu64(), optimizer(), { batchSize: 32, shuffle: true, seed }, data.X, targets);
    const want = await alone.train({ epochs: 40 });
    assertClose(run.replicates!.loss[r]!, want.loss, 1e-4, `replicate ${r}: WebGPU loss curve vs alone`);
    assertClose(W.subarray(r * D, r * D + D), await alone.read('W'), 1e-4, `replicate ${r}: WebGPU W`);
    assertClose(b.subarray(r, r + 1), await alone.read('b'), 1e-4, `replicate ${r}: WebGPU b`);
    assertClose(both.replicates!.loss[r]!, want.loss, 1e-12, `replicate ${r}: CPU loss curve vs alone`);
    assertClose(cW.subarray(r * D, r * D + D), await alone.read('W'), 1e-12, `replicate ${r}: CPU W`);
    assertClose(cb.subarray(r, r + 1), await alone.read('b'), 1e-12, `replicate ${r}: CPU b`);
  }
  // The replicates differ from one another (each drew its own residuals) and from the fit itself.
  assert.ok(Math.abs(W[0]! - W[4 * D]!) > 1e-4, 'replicates 0 and 4 differ');
  gpu.dispose();
});

test('bootstrap options and residual writes that cannot work say why', async () => {
  for (const backend of [await webgpu(), cpu64()]) {
    await rejects(() => model(backend, sgd(), { replicates: 1, bootstrap: 'residuals' }), /bootstrap: 1 replicate; a bootstrap needs replicates >= 2/);
    await rejects(() => model(backend, sgd(), { replicates: 4, bootstrap: 'wild' as never }), /bootstrap: expected true, 'pairs' or 'residuals', got "wild"/);
    const pairs = await model(backend, sgd(), { replicates: 4, bootstrap: 'pairs' });
    assert.throws(() => pairs.write({ Y: data.Y }, 'residuals'), /residuals are for a residual bootstrap \(compile with bootstrap: 'residuals'\)/);
    const resid = await model(backend, sgd(), { replicates: 4, bootstrap: 'residuals' });
    assert.throws(() => resid.write({ X: data.X }, 'residuals'), /residuals go to the target "Y", the input the loss compares predictions with, not to "X"/);
    await rejects(() => resid.train({ epochs: 1 }), /the residual bootstrap's residuals are not written yet \(model.write\(\{ Y: residuals \}, 'residuals'\)\)/);
    const bad = Float64Array.from(data.Y);
    bad[7] = NaN;
    assert.throws(() => resid.write({ Y: bad }, 'residuals'), /write Y \(residuals\): the value at row 7, column 0 is NaN/);
    assert.throws(() => resid.write({ Y: data.Y.subarray(1) }, 'residuals'), /write Y \(residuals\): got 119 values, shape \[120,1\] needs 120/);
    for (const m of [pairs, resid]) m.dispose();
  }
});

test('with bigReplicas: \'tiny\', replicates past one workgroup\'s budget stay one workgroup each, with fewer epochs per dispatch, and match the CPU', async () => {
  // 120 rows x 4 sums = 480 over a budget of 400: 10 x 400 / 480 = 8 epochs per dispatch.
  const layout = { tinyMaxWork: 400, epochsPerDispatch: 10, bigReplicas: 'tiny' as const };
  const gpu = await model(await webgpu(), sgd({ lr: 0.05 }), { replicates: 3, bootstrap: 'pairs', seed: 2, layout });
  assert.match(gpu.plan(), /one workgroup of \d+ per replicate: 120 rows x 4 sums over the budget of 400, so fewer epochs per dispatch; up to 8 epochs per dispatch/);
  const { result: run, dispatches } = await countDispatches(() => gpu.train({ epochs: 20 }));
  assert.is(dispatches, 3, '20 epochs in dispatches of 8');
  const cpu = await model(cpu64(), sgd({ lr: 0.05 }), { replicates: 3, bootstrap: 'pairs', seed: 2 });
  const want = await cpu.train({ epochs: 20 });
  for (let r = 0; r < 3; r++) assertClose(run.replicates!.loss[r]!, want.replicates!.loss[r]!, 1e-4, `replicate ${r}: loss curve`);
  assertClose(await gpu.read('W'), await cpu.read('W'), 1e-4, 'every replicate\'s W');
  gpu.dispose();
});
test('what the device cannot hold is a PlanError that names the numbers; fit turns it into advice before any training', async () => {
  const gpu = await webgpu();
  const err = await caught(model(gpu, sgd(), { replicates: 4, bootstrap: 'pairs', layout: { maxBindingBytes: 1024 } }));
  assert.is(err?.name, 'PlanError', 'a PlanError (by name: the shared backend may come from another test bundle)');
  assert.match(err!.message, /4 replicates train together on row passes and a finishing kernel only with their data in one binding, and here the data \(1440 bytes\) exceed one binding \(1024 bytes\)/);
  const m = await model(gpu, sgd(), { replicates: 4, bootstrap: 'pairs' });
  const limit = (gpu as unknown as { layout: { maxBindingBytes: number } }).layout.maxBindingBytes;
  const epochs = Math.floor(limit / 16) + 1;
  await rejects(() => m.train({ epochs }), new RegExp(`train: 4 replicates x ${epochs} epochs of losses need ${16 * epochs} bytes on the device, over its binding limit of ${limit}; train in shorter runs`));
  m.dispose();
  // fit, through a backend whose binding limit is 1 KiB: the bootstrap is planned (and refused) first.
  const small: Backend = { kind: gpu.kind, description: gpu.description, precision: gpu.precision, gone: null, compile: (p, o) => gpu.compile(p, { ...o, layout: { ...o?.layout, maxBindingBytes: 1024 } }), dispose: () => {} };
  const X = rowsOf(data.X, D);
  const Y = rowsOf(data.Y, 1);
  const refused = await caught(fitRegression(X, Y, ['a', 'b'], ['y'], small, { bootstrap: 5, epochs: 3 }));
  assert.instance(refused, InputError);
  assert.match(refused!.message, /^--bootstrap: 5 replicates train .* exceed one binding \(1024 bytes\)\. On the CPU backend \(--device cpu\) the replicates train one after another at any size$/);
});

test.run();
