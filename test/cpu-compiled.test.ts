/**
 * @file The CPU backend's compiled plan (compile/js.ts, runtime/threads.ts): every graph of the
 * compiler's family trains on generated JavaScript equal to the reference interpreter epoch by
 * epoch, with minibatches, shuffle, a short or dropped last batch, validation, snapshots,
 * divergence and replicates, on one thread and on worker threads; float32 within float32's
 * tolerance; explain prints the generated code; workers start once, end with dispose(), never
 * keep a process alive, and a worker that throws fails the run with its message.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import type { Optimizer } from '../optim/optimizer.js';
import { CpuBackend } from '../runtime/cpu.js';
import { compile, type CompileOptions } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { synthetic } from '../regression/synthetic.js';
import { residualPool, rowsOf } from '../regression/bootstrap.js';
import { PlanError } from '../compile/plan.js';
import { Team, sharedArray, threadsAvailable } from '../runtime/threads.js';
import { assertClose, caught, cpu64, f32Tol, rejects, webgpu } from './helpers.js';
import { D, FAMILY, build } from './family.js';

for (const f of FAMILY) {
  test(`${f.name}: compiled equals the reference with Adam, shuffled minibatches (a short last one) and validation, in float64 and in float32`, async () => {
    const options = { batchSize: 64, shuffle: true, seed: 5, validationRows: 50 };
    const lr = f.lr ?? 0.02;
    const ref = await build(f, cpu64(), 300, adam({ lr }), options);
    const want = await ref.train({ epochs: 8 });
    // float64: the same arithmetic summed in another order, a few roundings of 2^-53 a step (Adam
    // can scale a near-zero gradient's rounding up to a step: 1e-9 leaves room for it).
    // float32: values stored in float32 over 40 steps, as the WebGPU tests allow.
    for (const [precision, tol] of [['f64', 1e-9], ['f32', 1e-4]] as const) {
      const model = await build(f, new CpuBackend(precision), 300, adam({ lr }), options);
      assert.is(model.planName, 'compiled');
      const run = await model.train({ epochs: 8 });
      assertClose(run.loss, want.loss, tol, `${f.name}, ${precision}: training loss`);
      assertClose(run.validLoss!, want.validLoss!, tol, `${f.name}, ${precision}: validation loss`);
      for (const p of model.program.params) assertClose(await model.read(p.name), await ref.read(p.name), tol, `${f.name}, ${precision}: ${p.name}`);
    }
  });
}

const regression = FAMILY.find((f) => f.name === 'the regression')!;
const tanh = FAMILY.find((f) => f.name === 'a tanh hidden layer')!;
const centred = FAMILY.find((f) => f.name.startsWith('features centred'))!;

test('float32: the compiled plan stays within float32 tolerance of the float64 reference, full batch, 2000 rows', async () => {
  const model = await build(regression, new CpuBackend('f32'), 2000, sgd({ lr: 0.1 }));
  const ref = await build(regression, cpu64(), 2000, sgd({ lr: 0.1 }));
  const [run, want] = [await model.train({ epochs: 30 }), await ref.train({ epochs: 30 })];
  assertClose(run.loss, want.loss, f32Tol(2000), 'loss by epoch');
  assertClose(await model.read('W'), await ref.read('W'), f32Tol(2000), 'W');
});

test('dropLast, parameter snapshots and a second run that goes on from the first, as the reference', async () => {
  const options = { batchSize: 48, shuffle: true, dropLast: true, seed: 9 };
  const model = await build(tanh, new CpuBackend('f64'), 300, sgd({ lr: 0.05, momentum: 0.9 }), options);
  const ref = await build(tanh, cpu64(), 300, sgd({ lr: 0.05, momentum: 0.9 }), options);
  const [run, want] = [await model.train({ epochs: 6, paramsEvery: 2 }), await ref.train({ epochs: 6, paramsEvery: 2 })];
  assertClose(run.loss, want.loss, 1e-12, 'loss');
  assert.is(run.params!.W1!.length, 3);
  run.params!.W1!.forEach((w, i) => assertClose(w, want.params!.W1![i]!, 1e-12, `W1 after epoch ${2 * i + 2}`));
  assertClose((await model.train({ epochs: 3 })).loss, (await ref.train({ epochs: 3 })).loss, 1e-12, 'a second run');
});

test('divergence: the compiled plan stops at the epoch the reference stops at, and says why', async () => {
  const model = await build(regression, new CpuBackend('f64'), 200, sgd({ lr: 3 }));
  const ref = await build(regression, cpu64(), 200, sgd({ lr: 3 }));
  const [run, want] = [await model.train({ epochs: 200 }), await ref.train({ epochs: 200 })];
  assert.ok(want.diverged, 'the reference diverges at this rate');
  assert.is(run.diverged?.epoch, want.diverged!.epoch);
  assert.is(run.diverged!.reason, want.diverged!.reason);
  assertClose(run.loss, want.loss, 1e-9, 'loss up to the divergence');
});

test('replicates: a sweep, a pairs and a residual bootstrap with shuffled minibatches and validation, as the reference', async () => {
  const n = 120;
  const data = synthetic(n, D, 1, 7);
  const valid = synthetic(30, D, 1, 78);
  const { fitted, residuals } = residualPool(rowsOf(data.X, D), rowsOf(data.Y, 1));
  const cases: [string, () => Optimizer, Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'>, Float64Array | number[]][] = [
    ['sweep', () => sgd(), { sweep: { lr: [0.05, 0.01, 3] } }, data.Y],
    ['pairs', () => adam({ lr: 0.05 }), { replicates: 5, bootstrap: 'pairs', seed: 11, validationRows: 30 }, data.Y],
    ['residuals', () => sgd({ lr: 0.05, momentum: 0.9 }), { replicates: 4, bootstrap: 'residuals', seed: 5, batchSize: 32, shuffle: true, validationRows: 30 }, fitted.flat()],
  ];
  for (const [name, optimizer, options, Y] of cases) {
    for (const threads of [1, 2]) {
      const make = async (backend: Backend, extra: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'> = {}) => {
        const g = new Graph();
        const X = g.input('X', [n, D]);
        const y = g.input('Y', [n, 1]);
        const m = await compile(g, { loss: regression.build(g, X, y, X), optimizer: optimizer(), backend, ...options, ...extra });
        m.write({ X: data.X, Y });
        if (options.validationRows) m.write({ X: valid.X, Y: valid.Y }, 'validation');
        if (options.bootstrap === 'residuals') m.write({ Y: residuals }, 'residuals');
        return m;
      };
      const model = await make(new CpuBackend('f64'), { threads });
      const ref = await make(cpu64());
      const [run, want] = [await model.train({ epochs: 12 }), await ref.train({ epochs: 12 })];
      for (let r = 0; r < model.replicates; r++) {
        const what = `${name}, ${threads} thread${threads > 1 ? 's' : ''}, replicate ${r}`;
        assert.is(run.replicates!.diverged[r]?.epoch, want.replicates!.diverged[r]?.epoch, `${what}: divergence`);
        assertClose(run.replicates!.loss[r]!, want.replicates!.loss[r]!, 1e-9, `${what}: loss`);
        if (options.validationRows) assertClose(run.replicates!.validLoss![r]!, want.replicates!.validLoss![r]!, 1e-9, `${what}: validation loss`);
      }
      assertClose(await model.read('W'), await ref.read('W'), 1e-9, `${name}: every replicate's W`);
      model.dispose();
    }
  }
});

test('threads: rows split across worker threads train as one thread does, minibatches, shuffle and validation included', async () => {
  const options = { batchSize: 100, shuffle: true, seed: 3, validationRows: 50 };
  const one = await build(centred, new CpuBackend('f64'), 300, adam({ lr: 0.02 }), { ...options, threads: 1 });
  const three = await build(centred, new CpuBackend('f64'), 300, adam({ lr: 0.02 }), { ...options, threads: 3 });
  assert.ok(threadsAvailable(), 'worker threads in Node and Deno');
  assert.match(three.explain(), /note: 3 threads \(the main thread and 2 workers, as asked\)/);
  assert.match(one.explain(), /note: one thread, as asked/);
  const [a, b] = [await one.train({ epochs: 10 }), await three.train({ epochs: 10 })];
  // The same sums, added in another grouping: float64 roundings only.
  assertClose(b.loss, a.loss, 1e-12, 'loss');
  assertClose(b.validLoss!, a.validLoss!, 1e-12, 'validation loss');
  assertClose(await three.read('W'), await one.read('W'), 1e-12, 'W');
  three.dispose();
  const big = await build(regression, new CpuBackend('f32'), 20000, sgd({ lr: 0.1 }));
  assert.match(big.explain(), /note: \d+ threads|note: one thread/);
  big.dispose();
});

test('threads: a worker that throws fails the run with its message', async () => {
  const throwing = `(function () {
    return { passes: [(order, draws, first, last, m, short, out) => { if (first > 0) throw new Error('row ' + first + ' is cursed'); }], finish: () => 0 };
  })`;
  const totals = sharedArray(Float64Array, 1);
  const team = await Team.start(2, { trainSource: throwing, validSource: null, data: [], validData: [], params: [], residuals: null, totals, order: new Int32Array(new SharedArrayBuffer(4)), draws: null });
  const local = { passes: [() => {}], finish: () => 0 };
  const err = await caught(Promise.resolve().then(() => team.run(local, true, 0, { at: 0, size: 1 }, null, null, 0, 10, 10, false)));
  assert.match(err?.message ?? '', /CPU worker thread 1 failed: Error: row 5 is cursed/);
  team.dispose();
});

test('threads: a script that never calls dispose() still exits', async () => {
  // The built library: beside this file's folder under Node (dist/test), in dist/ under Deno (test/).
  const here = fileURLToPath(import.meta.url);
  const index = fileURLToPath(new URL(here.includes('/dist/') ? '../index.js' : '../dist/index.js', import.meta.url));
  const script = `
    import { Graph, compile, sgd, CpuBackend } from ${JSON.stringify(index)};
    const g = new Graph();
    const X = g.input('X', [400, 2]), Y = g.input('Y', [400, 1]);
    const loss = g.mean(g.squaredError(g.matmul(X, g.param('W', [1, 2]), { transB: true }), Y));
    const model = await compile(g, { loss, optimizer: sgd({ lr: 0.1 }), backend: new CpuBackend('f32'), threads: 2 });
    model.write({ X: new Float32Array(800).fill(1), Y: new Float32Array(400).fill(2) });
    const run = await model.train({ epochs: 5 });
    console.log(model.explain().includes('2 threads'), run.loss.length);
  `;
  // In the runtime running this suite: Node's worker_threads, or Deno's of them.
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const r = deno ? spawnSync(deno.execPath(), ['eval', script], { encoding: 'utf8', timeout: 20000 }) : spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.is(r.signal, null, `the script was killed after 20 s: the workers kept it alive (stderr: ${r.stderr})`);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'true 5');
});

test('explain on the CPU prints the schedule and the generated JavaScript, every line naming its node', async () => {
  const model = await build(tanh, new CpuBackend('f32'), 300, sgd({ lr: 0.05 }), { batchSize: 100, validationRows: 20 });
  const text = model.explain();
  assert.match(text, /plan: compiled \(generated JavaScript on one thread, float32 values, float64 arithmetic: 1 row pass and a finishing step a batch\)/);
  assert.match(text, /== generated JavaScript: the training step ==/);
  assert.match(text, /== generated JavaScript: the validation loss ==/);
  assert.match(text, /let v\d+_0 = Math\.tanh\(v\d+_0\); \/\/ %\d+ = tanh %\d+/);
  assert.match(text, /a\d+ \+= .*; \/\/ %\d+ = matmul %\d+, %\d+ \(transA\), backward of %\d+ matmul/);
  assert.match(text, /G\[0\] = u\d+_0; \/\/ W1\[0\]: %\d+ dW1/);
});

test('plans by name: reference asks for the interpreter, compiled insists, auto falls back for a graph the compiler does not fuse', async () => {
  const ref = await build(regression, new CpuBackend('f64'), 50, sgd(), { plan: 'reference' });
  assert.is(ref.planName, 'reference');
  assert.match(ref.explain(), /plan: reference \(the CPU backend evaluates every node/);
  const webgpuNamed = await build(regression, new CpuBackend('f64'), 50, sgd(), { plan: 'fused' });
  assert.is(webgpuNamed.planName, 'compiled');
  assert.match(webgpuNamed.explain(), /note: plan "fused" is a WebGPU plan; the CPU backend runs its own/);
  const gram = async (plan: 'auto' | 'compiled') => {
    const g = new Graph();
    const X = g.input('X', [6, 2]);
    return compile(g, { loss: g.mean(g.matmul(X, X, { transB: true })), optimizer: sgd(), backend: new CpuBackend('f64'), plan });
  };
  const fallback = await gram('auto');
  assert.is(fallback.planName, 'reference');
  assert.match(fallback.explain(), /note: not compiled: %\d+ matmul is \[6,6\]: the row count along both axes/);
  const err = await caught(gram('compiled'));
  assert.ok(err instanceof PlanError, String(err));
  assert.match(err!.message, /plan "compiled": %\d+ matmul is \[6,6\]/);
  await rejects(() => build(regression, cpu64(), 10, sgd(), { threads: 0 }), /compile: threads must be a whole number from 1 to 256, got 0/);
});

test('a computed node is never stored by the compiled plan: reading it says so, evaluate computes it as the reference does', async () => {
  const make = async (backend: Backend) => {
    const g = new Graph();
    const X = g.input('X', [40, D]);
    const Y = g.input('Y', [40, 1]);
    const loss = regression.build(g, X, Y, X);
    const model = await compile(g, { loss, optimizer: sgd({ lr: 0.1 }), backend });
    const data = synthetic(40, D, 1, 7);
    model.write({ X: data.X, Y: data.Y });
    await model.train({ epochs: 3 });
    return { model, loss };
  };
  const { model, loss } = await make(new CpuBackend('f64'));
  await rejects(() => model.read(loss), /read: %\d+ \(mean\) is computed inside the compiled plan's generated code and never stored; model\.predict\(rows\) computes predictions, evaluate\(\[\.\.\.\]\) this value, or compile with plan: 'reference'/);
  const ref = await make(cpu64());
  assertClose(...((await Promise.all([model.evaluate([loss]), ref.model.evaluate([ref.loss])])).map((r) => r[0]!) as [Float64Array, Float64Array]), 1e-12, 'the loss, evaluated');
});

test('WebGPU refuses the CPU plans by name', async () => {
  await rejects(async () => build(regression, await webgpu(), 10, sgd(), { plan: 'reference' }), /plan "reference" is the CPU backend's; on WebGPU the plans are auto, fused, tiny and per-node/);
});

test.run();
