/**
 * @file Run control (runtime/run.ts): train() with onEpoch, an AbortSignal or early stopping runs
 * in chunks, one submission each, and returns what an uninterrupted run of the same epochs
 * returns; an abort and an early stop return what was trained with the reason, early stopping at
 * the epoch a per-epoch check finds in the uninterrupted run's losses.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { adam } from '../optim/adam.js';
import { type CompileOptions, compile } from '../runtime/model.js';
import type { Progress } from '../runtime/run.js';
import type { Backend } from '../runtime/program.js';
import { synthetic } from '../regression/synthetic.js';
import { requestBackend } from '../runtime/device.js';
import { assertClose, cpu64, rejects, webgpu } from './helpers.js';

const N = 64;

/** y = X Wᵀ + b on seeded data; with validation rows, a validation set whose targets are the negated ones (so its loss rises as the fit improves). */
async function model(backend: Backend, options: Omit<CompileOptions, 'loss' | 'optimizer' | 'backend'> = {}, lr = 0.05) {
  const g = new Graph();
  const X = g.input('X', [N, 3]);
  const Y = g.input('Y', [N, 1]);
  const W = g.param('W', [1, 3]);
  const b = g.param('b', [1]);
  const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
  const m = await compile(g, { loss, optimizer: adam({ lr }), backend, ...options });
  const data = synthetic(N, 3, 1, 3);
  m.write({ X: data.X, Y: data.Y });
  if (options.validationRows) {
    const v = synthetic(options.validationRows, 3, 1, 4);
    m.write({ X: v.X, Y: v.Y.map((y) => -y) }, 'validation');
  }
  return m;
}

const backends = async () => [await webgpu(), cpu64()];

test('onEpoch: called once a chunk with the last epoch, one submission a chunk, and the run equals an uninterrupted one', async () => {
  for (const backend of await backends()) {
    const [a, b] = [await model(backend, { validationRows: 16 }), await model(backend, { validationRows: 16 })];
    const seen: Progress[] = [];
    const before = { ...a.stats };
    const run = await a.train({ epochs: 100, chunkEpochs: 25, onEpoch: (p) => void seen.push(p) });
    const whole = await b.train({ epochs: 100 });
    assert.equal(seen.map((p) => p.epoch), [25, 50, 75, 100], `${backend.kind}: the callbacks`);
    seen.forEach((p) => {
      assert.is(p.epochs, 100);
      assert.is(p.loss, whole.loss[p.epoch - 1]);
      assert.is(p.validLoss, whole.validLoss![p.epoch - 1]);
    });
    // The CPU backend submits nothing; on WebGPU each chunk is one submission and one read.
    if (backend.kind === 'webgpu') {
      assert.is(a.stats.submits - before.submits, 4, '4 chunks, 4 submissions');
      assert.is(a.stats.readbacks - before.readbacks, 4, 'and 4 reads');
    }
    assertClose(run.loss, whole.loss, 0, `${backend.kind}: the losses, chunk after chunk`);
    assertClose(run.validLoss!, whole.validLoss!, 0, `${backend.kind}: the validation losses`);
    assertClose(await a.read('W'), await b.read('W'), 0, `${backend.kind}: the weights`);
    assert.is(run.epochs, 100);
    assert.is(run.stopped, undefined);
  }
});

test('chunks by time: the first is one epoch, they grow, the last ends the run, and the callback may be async', async () => {
  const a = await model(await webgpu());
  const b = await model(await webgpu());
  const seen: number[] = [];
  const run = await a.train({
    epochs: 3000,
    onEpoch: async (p) => {
      seen.push(p.epoch);
      await new Promise((r) => setTimeout(r, 1));
    },
  });
  assert.is(seen[0], 1, 'the first chunk is one epoch, which times the rest');
  assert.is(seen.at(-1), 3000);
  assert.ok(seen.every((e, i) => i === 0 || e > seen[i - 1]!), 'increasing');
  assert.ok(seen.length < 3000 / 4, `chunks of many epochs (${seen.length} callbacks for 3000 epochs)`);
  assertClose(run.loss, (await b.train({ epochs: 3000 })).loss, 0, 'the same run');
});

test('abort: the run stops between chunks and returns the epochs trained, with the reason', async () => {
  for (const backend of await backends()) {
    const [a, b] = [await model(backend), await model(backend)];
    const controller = new AbortController();
    const run = await a.train({ epochs: 200, chunkEpochs: 10, signal: controller.signal, onEpoch: (p) => {
        if (p.epoch === 50) controller.abort();
      },
    });
    assert.is(run.epochs, 50, `${backend.kind}: epochs trained`);
    assert.is(run.loss.length, 50);
    assert.is(run.stopped?.reason, 'aborted');
    assert.is(run.stopped?.epoch, 50);
    assert.match(run.stopped!.message, /aborted after 50 of 200 epochs \(the signal fired\); the model holds the parameters of epoch 50/);
    const whole = await b.train({ epochs: 50 });
    assertClose(run.loss, whole.loss, 0, `${backend.kind}: the 50 epochs`);
    assertClose(await a.read('W'), await b.read('W'), 0, `${backend.kind}: the weights of epoch 50`);
    const none = await a.train({ epochs: 5, signal: AbortSignal.abort() });
    assert.is(none.epochs, 0, 'a signal aborted before the run trains nothing');
    assert.is(none.stopped?.reason, 'aborted');
  }
});

/** Keras's EarlyStopping over a whole run's losses: the epoch (from 1) it stops after, and its best epoch. */
function kerasStop(losses: ArrayLike<number>, patience: number, minDelta: number): { stop: number; best: number } | null {
  let best = Infinity;
  let bestEpoch = 0;
  let wait = 0;
  for (let i = 0; i < losses.length; i++) {
    if (losses[i]! < best - minDelta) [best, bestEpoch, wait] = [losses[i]!, i + 1, 0];
    else if (++wait >= patience) return { stop: i + 1, best: bestEpoch };
  }
  return null;
}

test('early stopping stops at the epoch a per-epoch check stops at, in the uninterrupted run, with the best epoch and loss', async () => {
  for (const backend of await backends()) {
    for (const [patience, minDelta, chunkEpochs] of [[5, 0, undefined], [3, 1e-4, 1000], [8, 0, 7]] as const) {
      const [a, b] = [await model(backend, { validationRows: 16 }, 0.01), await model(backend, { validationRows: 16 }, 0.01)];
      const whole = await b.train({ epochs: 400 });
      const want = kerasStop(whole.validLoss!, patience, minDelta);
      assert.ok(want, 'the validation loss stops improving');
      const run = await a.train({ epochs: 400, chunkEpochs, earlyStopping: { patience, minDelta } });
      const what = `${backend.kind}, patience ${patience}, minDelta ${minDelta}, chunks ${chunkEpochs ?? 'by time'}`;
      assert.is(run.stopped?.reason, 'early stopping', what);
      assert.is(run.stopped?.epoch, want!.stop, `${what}: the stop`);
      assert.is(run.epochs, want!.stop, `${what}: epochs trained`);
      assert.is(run.stopped?.best?.epoch, want!.best, `${what}: the best epoch`);
      assert.is(run.stopped?.best?.loss, whole.validLoss![want!.best - 1]);
      assertClose(run.validLoss!, whole.validLoss!.subarray(0, want!.stop), 0, `${what}: the losses`);
      assert.match(run.stopped!.message, new RegExp(`early stopping after epoch ${want!.stop} of 400: the validation loss has not improved by more than ${minDelta} for ${patience} epochs`));
    }
  }
});

test('early stopping on the training loss, and a chunk never runs past where patience could run out', async () => {
  const m = await model(await webgpu());
  const before = m.stats.submits;
  // No epoch after the first improves by 1e9: the stop is epoch 6, after chunks of 5 and 1.
  const run = await m.train({ epochs: 1000, chunkEpochs: 1000, earlyStopping: { patience: 5, minDelta: 1e9 } });
  assert.is(run.epochs, 6);
  assert.is(run.stopped?.best?.epoch, 1);
  assert.match(run.stopped!.message, /the training loss has not improved/);
  assert.is(m.stats.submits - before, 2, 'two chunks: 5 epochs, then 1');
});

test('chunked replicates and snapshots equal an uninterrupted run', async () => {
  const [a, b] = [await model(await webgpu(), { bootstrap: 'pairs', replicates: 3 }), await model(await webgpu(), { bootstrap: 'pairs', replicates: 3 })];
  const run = await a.train({ epochs: 30, chunkEpochs: 10, onEpoch: () => {} });
  const whole = await b.train({ epochs: 30 });
  for (let r = 0; r < 3; r++) assertClose(run.replicates!.loss[r]!, whole.replicates!.loss[r]!, 0, `replicate ${r}`);
  const [c, d] = [await model(cpu64()), await model(cpu64())];
  const snap = await c.train({ epochs: 12, paramsEvery: 4, chunkEpochs: 3, onEpoch: () => {} });
  const want = await d.train({ epochs: 12, paramsEvery: 4 });
  assert.is(snap.params!.W!.length, 3, 'snapshots after epochs 4, 8, 12 (chunks rounded to multiples of 4)');
  snap.params!.W!.forEach((w, i) => assertClose(w, want.params!.W![i]!, 0, `snapshot ${i}`));
});

test('run-control options are checked', async () => {
  const m = await model(cpu64());
  await rejects(() => m.train({ epochs: 5, onEpoch: 3 as never }), /train: onEpoch must be a function, got 3/);
  await rejects(() => m.train({ epochs: 5, signal: {} as never }), /train: signal must be an AbortSignal/);
  await rejects(() => m.train({ epochs: 5, chunkEpochs: 0 }), /train: chunkEpochs must be a whole number >= 1, got 0/);
  await rejects(() => m.train({ epochs: 5, earlyStopping: { patience: 0 } }), /earlyStopping\.patience must be a whole number of epochs >= 1, got 0/);
  await rejects(() => m.train({ epochs: 5, earlyStopping: { patience: 2, wait: 1 } as never }), /earlyStopping has no option "wait" \(it takes patience, minDelta, monitor\)/);
  await rejects(() => m.train({ epochs: 5, earlyStopping: { patience: 2, monitor: 'validation' } }), /monitors the validation loss, but the model has no validation set/);
  await rejects(() => m.train({ epochs: 5, onepoch: () => {} } as never), /unknown option "onepoch" \(did you mean "onEpoch"\?\)/);
  const r = await model(cpu64(), { replicates: 2, bootstrap: true });
  await rejects(() => r.train({ epochs: 5, earlyStopping: { patience: 2 } }), /early stopping is for one model; this one trains 2 replicates/);
  // Typed errors on the user's path: snapshots of replicates, an unknown device.
  const snapshots = await r.train({ epochs: 2, paramsEvery: 1 }).then(() => null, (e: Error) => e);
  assert.is(snapshots?.name, 'DataError');
  assert.match(snapshots!.message, /train: parameter snapshots are for one model; with replicates, read the parameters after the run/);
  const device = await requestBackend({ device: 'gpu' as never }).then(() => null, (e: Error) => e);
  assert.is(device?.name, 'DataError');
  assert.match(device!.message, /unknown device "gpu": use auto, webgpu or cpu/);
});

test.run();
