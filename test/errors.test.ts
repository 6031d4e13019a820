import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { NoAdapterError, requestBackend } from '../runtime/device.js';
import { type CompileOptions, DataError, DisposedError, compile } from '../runtime/model.js';
import { WebGpuBackend } from '../runtime/webgpu.js';
import { KernelCache, KernelError } from '../wgsl/kernels.js';
import { assertClose, caught, cpu32, cpu64, rejects, webgpu } from './helpers.js';

function regression() {
  const g = new Graph();
  const X = g.input('X', [4, 3]);
  const Y = g.input('Y', [4, 1]);
  const W = g.param('W', [1, 3]);
  const loss = g.mean(g.squaredError(g.matmul(X, W, { transB: true }), Y));
  return { g, loss };
}

test('a shape error names the op, both shapes and the rule', () => {
  const g = new Graph();
  const X = g.input('X', [5, 3]);
  const W = g.param('W', [2, 3]);
  assert.throws(() => g.matmul(X, W), (e: Error) => e.name === 'ShapeError' && /matmul: inner dimensions differ: A is \[5,3\].*B is \[2,3\]/.test(e.message));
  assert.throws(() => g.add(X, g.param('b', [2])), /add: cannot broadcast \[5,3\] with \[2\]: axis 1 .* sizes 3 and 2/);
  assert.throws(() => g.input('T', [2, 2, 2]), /rank 3, fusegrad allows at most 2/);
  assert.throws(() => g.input('X', [1]), /already has an input or parameter of that name/);
  assert.throws(() => g.mean(X, 2), /mean: axis 2 is out of range for shape \[5,3\]/);
  assert.throws(() => g.reshape(X, [4, 4]), /cannot reshape \[5,3\] \(15 elements\) to \[4,4\] \(16 elements\)/);
});

test('writing the wrong number of values names the tensor, the count and the shape, and writes nothing', async () => {
  const { g, loss } = regression();
  const model = await compile(g, { loss, optimizer: sgd(), backend: cpu64() });
  model.write({ W: [[1, 2, 3]] });
  assert.throws(() => model.write({ W: [[9, 9, 9]], X: new Float32Array(11) }), /write X: got 11 values, shape \[4,3\] needs 12/);
  assert.equal([...(await model.read('W'))], [1, 2, 3], 'W kept its value: a bad batch writes nothing');
  assert.throws(() => model.write({ X: [[1, 2, 3], [1, 2], [1, 2, 3], [1, 2, 3]] }), /write X: row 1 has 2 values, shape \[4,3\] needs 3/);
  assert.throws(() => model.write({ Z: [1] }), /no input or parameter "Z" \(it has X, Y, W\)/);
});

test('a NaN in the data is refused with its row and column', async () => {
  const { g, loss } = regression();
  const model = await compile(g, { loss, optimizer: sgd(), backend: cpu64() });
  const X = [[1, 2, 3], [4, 5, 6], [7, NaN, 9], [1, 1, 1]];
  assert.throws(() => model.write({ X }), (e: Error) => e.name === 'DataError' && /write X: the value at row 2, column 1 is NaN/.test(e.message));
  assert.throws(() => model.write({ Y: [1, 2, Infinity, 4] }), /write Y: the value at row 2, column 0 is Infinity/);
});

test('training before the inputs are written, or with a bad epoch count, says what is missing', async () => {
  const { g, loss } = regression();
  const model = await compile(g, { loss, optimizer: sgd(), backend: cpu64() });
  await rejects(() => model.train({ epochs: 3 }), /train: inputs X, Y not written yet/);
  model.write({ X: new Float32Array(12), Y: new Float32Array(4) });
  await rejects(() => model.train({ epochs: 0 }), /epochs must be a positive integer, got 0/);
  const plain = await compile(g, { backend: cpu64() });
  plain.write({ X: new Float32Array(12), Y: new Float32Array(4) });
  await rejects(() => plain.train({ epochs: 1 }), /train: the model was compiled without a loss and an optimizer/);
});

/** Throws from `fn`, or null: for synchronous calls that must refuse. */
function thrown(fn: () => unknown): Error | null {
  try {
    fn();
    return null;
  } catch (e) {
    return e as Error;
  }
}

test('entries that are not numbers are refused, not read as 0 or parsed: null, "88", undefined, nested junk', async () => {
  const { g, loss } = regression();
  const model = await compile(g, { loss, optimizer: sgd(), backend: cpu64() });
  model.write({ W: [[1, 2, 3]] });
  const cases: [unknown, RegExp][] = [
    [[[1, null, 3]], /write W: the value at row 0, column 1 is null, not a number/],
    [[[1, '88', 3]], /write W: the value at row 0, column 1 is "88", not a number/],
    [[1, 2, undefined], /write W: the value at row 0, column 2 is undefined, not a number/],
    [[[1, 2, [3]]], /write W: the value at row 0, column 2 is \[3\], not a number/],
    ['123', /write W: expected a number, an array \(flat, or of rows.* got "123"/],
    [null, /write W: expected a number, an array .* got null/],
  ];
  for (const [value, re] of cases) {
    const err = thrown(() => model.write({ W: value as number[] }));
    assert.instance(err, DataError, String(value));
    assert.match(err!.message, re);
  }
  assert.match(thrown(() => model.write(null as unknown as Record<string, number>))!.message, /write: expected an object of values by name/);
  assert.equal([...(await model.read('W'))], [1, 2, 3], 'nothing was written');
});

test('values a float32 device cannot hold are a DataError at write, naming the value and the way out', async () => {
  const { g, loss } = regression();
  for (const backend of [await webgpu(), cpu32()]) {
    const model = await compile(g, { loss, optimizer: sgd(), backend });
    const err = thrown(() => model.write({ Y: [1, 2, 1e39, 4] }));
    assert.instance(err, DataError);
    assert.match(err!.message, /write Y: the value at row 2, column 0 is 1e\+39, beyond float32's range \(±3\.4028e\+38\).*train on the CPU backend in float64 \(device: 'cpu', fusegrad fit --device cpu\)/);
    assert.match(thrown(() => model.write({ W: [[1e40, 0, 0]] }))!.message, /write W: the value at row 0, column 0 is 1e\+40, beyond float32's range/);
    model.dispose();
  }
  const f64 = await compile(g, { loss, optimizer: sgd(), backend: cpu64() });
  f64.write({ Y: [1, 2, 1e39, 4] });
});

test('a first loss that overflows float32 blames the data, not the learning rate', async () => {
  const { g, loss } = regression();
  const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-3 }), backend: await webgpu() });
  model.write({ X: new Float32Array(12).fill(1), Y: [1e20, 2e20, 3e20, 1e20] });
  const run = await model.train({ epochs: 5 });
  assert.is(run.diverged!.epoch, 0);
  assert.match(run.diverged!.message, /The first loss overflowed before any update could matter: the largest value written is 3\.00e\+20.*float32's.*Rescale the data/);
  assert.not.match(run.diverged!.message, /learning rate/);
  model.dispose();
});

test('unknown compile options, a bad plan, an optimizer without a loss: named errors at compile', async () => {
  const { g, loss } = regression();
  const backend = cpu64();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ loss, optimizer: sgd(), backend, batchsize: 2 }, /compile: unknown option "batchsize" \(did you mean "batchSize"\?\); the options are loss, optimizer/],
    [{ loss, optimizer: sgd(), backend, learningRate: 0.1 }, /compile: unknown option "learningRate"; the options are/],
    [{ loss, optimizer: sgd(), backend, plan: 'bogus' }, /compile: plan must be one of 'auto', 'fused', 'tiny', 'per-node', 'compiled', 'reference', got "bogus"/],
    [{ loss, optimizer: sgd(), backend, layout: { workgroups: 3 } }, /compile: unknown layout option "workgroups"/],
    [{ optimizer: sgd(), backend }, /compile: an optimizer needs a loss to minimize/],
    [{ loss, optimizer: sgd(), backend, seed: 2 ** 32 }, /seed must be an integer in \[0, 4294967295\], got 4294967296/],
  ];
  for (const [options, re] of cases) {
    const err = await caught(compile(g, options as CompileOptions));
    assert.instance(err, DataError, JSON.stringify(Object.keys(options)));
    assert.match(err!.message, re);
  }
});

test('train() and read() need not be awaited in turn: they run in call order, on WebGPU as on the CPU', async () => {
  const reference = await (async () => {
    const g = new Graph();
    const X = g.input('X', [4, 3]);
    const Y = g.input('Y', [4, 1]);
    const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.param('W', [1, 3]), { transB: true }), g.param('b', [1])), Y));
    const m = await compile(g, { loss, optimizer: sgd({ lr: 0.01 }), backend: cpu32() });
    m.write({ X: [[1, 2, 3], [0, 1, 0], [2, 0, 1], [1, 1, 1]], Y: [1, 2, 3, 4] });
    const a = await m.train({ epochs: 10 });
    const w = await m.read('W');
    const b = await m.train({ epochs: 10 });
    return { a: a.loss, w, b: b.loss };
  })();
  for (const plan of ['tiny', 'per-node'] as const) {
    // With a bias, so that the single-dispatch plan takes it.
    const g = new Graph();
    const X = g.input('X', [4, 3]);
    const Y = g.input('Y', [4, 1]);
    const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.param('W', [1, 3]), { transB: true }), g.param('b', [1])), Y));
    const m = await compile(g, { loss, optimizer: sgd({ lr: 0.01 }), backend: await webgpu(), plan });
    m.write({ X: [[1, 2, 3], [0, 1, 0], [2, 0, 1], [1, 1, 1]], Y: [1, 2, 3, 4] });
    // Three calls at once, and a write queued behind them that must not reach the first two.
    const calls = [m.train({ epochs: 10 }), m.read('W'), m.train({ epochs: 10 })] as const;
    m.write({ Y: [0, 0, 0, 0] });
    const after = m.train({ epochs: 1 });
    const [a, w, b] = await Promise.all(calls);
    assertClose(a.loss, reference.a, 1e-5, `${plan}: first run`);
    assertClose(w, reference.w, 1e-5, `${plan}: the read saw the first run's W, not the second's`);
    assertClose(b.loss, reference.b, 1e-5, `${plan}: the second run went on from the first`);
    assert.ok((await after).loss[0]! !== b.loss.at(-1), 'the write landed after the second run');
    m.dispose();
  }
});

test('a disposed model or backend says so at every call, instead of WebGPU errors', async () => {
  const { g, loss } = regression();
  for (const make of [() => webgpu(), async () => cpu64()]) {
    const m = await compile(g, { loss, optimizer: sgd(), backend: await make() });
    m.write({ X: new Float32Array(12), Y: new Float32Array(4) });
    const queued = m.train({ epochs: 3 });
    m.dispose();
    assert.ok((await queued).loss.length === 3, 'work queued before dispose() still runs');
    for (const call of [() => m.train({ epochs: 1 }), () => m.read('W'), () => m.evaluate(['W'])]) {
      const err = await caught(call());
      assert.instance(err, DisposedError);
      assert.match(err!.message, /the model was disposed \(model\.dispose\(\)\); compile the graph again/);
    }
    assert.instance(thrown(() => m.write({ W: [[1, 2, 3]] })), DisposedError);
    assert.instance(thrown(() => m.setHyper({ lr: 0.1 })), DisposedError);
    m.dispose();
  }
  // A backend of its own, disposed: compile and the models on it say so.
  const backend = await requestBackend({ device: 'webgpu' });
  const m = await compile(g, { loss, optimizer: sgd(), backend });
  m.write({ X: new Float32Array(12), Y: new Float32Array(4) });
  backend.dispose();
  const err = await caught(compile(g, { loss, optimizer: sgd(), backend }));
  assert.instance(err, DisposedError);
  assert.match(err!.message, /compile: the backend can no longer be used: it was disposed \(backend\.dispose\(\)\); get a new one with requestBackend\(\)/);
  assert.match((await caught(m.train({ epochs: 1 })))!.message, /train: the model's backend can no longer be used: it was disposed/);
  assert.match(thrown(() => m.write({ W: [[1, 2, 3]] }))!.message, /write: the model's backend can no longer be used/);
});

test('asking for WebGPU where there is no adapter is an error with the driver advice, never a silent CPU run', async () => {
  const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
  const err = await caught(requestBackend({ device: 'webgpu', gpu: noAdapter }));
  assert.instance(err, NoAdapterError);
  assert.match(err!.message, /no WebGPU adapter found/);
  assert.match(err!.message, /apt-get install -t bookworm-backports mesa-vulkan-drivers/);
  const lines: string[] = [];
  const fallback = await requestBackend({ device: 'auto', gpu: noAdapter, log: (l) => lines.push(l) });
  assert.is(fallback.kind, 'cpu');
  assert.is(lines.length, 1, 'auto says once why it runs on the CPU');
  assert.match(lines[0]!, /running on the CPU backend instead.*mesa-vulkan-drivers/);
});

test('a network too wide for the fused kernels, with minibatches and a validation set, trains on one kernel per node on WebGPU, as the CPU does, and says why', async () => {
  const build = async (backend: Awaited<ReturnType<typeof webgpu>>) => {
    const g = new Graph();
    const X = g.input('X', [200, 16]);
    const Y = g.input('Y', [200, 1]);
    // 16 -> 128 -> 64 -> 1: 10497 gradients and the loss summed over rows, past 32 KiB of shared memory.
    const H1 = g.tanh(g.add(g.matmul(X, g.param('W1', [128, 16]), { transB: true }), g.param('b1', [128])));
    const H2 = g.tanh(g.add(g.matmul(H1, g.param('W2', [64, 128]), { transB: true }), g.param('b2', [64])));
    const loss = g.mean(g.squaredError(g.add(g.matmul(H2, g.param('W3', [1, 64]), { transB: true }), g.param('b3', [1])), Y));
    const model = await compile(g, { loss, optimizer: sgd({ lr: 0.05 }), backend, batchSize: 64, shuffle: true, seed: 2, validationRows: 30 });
    const values = (count: number, seed: number) => Float64Array.from({ length: count }, (_, i) => Math.sin(seed * 1000 + i * 0.7) / 4);
    model.write({ X: values(200 * 16, 1), Y: values(200, 2) });
    model.write({ X: values(30 * 16, 3), Y: values(30, 4) }, 'validation');
    // Seeded weights scaled by the fan-in (a network started at zero keeps its hidden units alike).
    for (const p of model.program.params) {
      const shape = model.graph.nodes[p.id]!.shape;
      model.write({ [p.name]: values(shape.reduce((a, b) => a * b, 1), 5 + p.id).map((v) => v / Math.sqrt(shape[1] ?? 1)) });
    }
    return Object.assign(model, { hidden: H2 });
  };
  const gpu = await build(await webgpu());
  assert.is(gpu.planName, 'per-node');
  assert.match(gpu.plan(), /note: not fused: 10498 sums over rows need \d+ bytes of shared memory even for a workgroup of one, and the device allows \d+/);
  assert.match(gpu.plan(), /note: 4 batches of 64 rows per epoch \(the last of 8\), each gathered from the training set on the device, shuffled every epoch/);
  const ref = await build(cpu64());
  const [run, want] = [await gpu.train({ epochs: 3 }), await ref.train({ epochs: 3 })];
  // float32 products of up to 128 terms and sums of 64 rows, over 12 steps: well under 1e-4.
  assertClose(run.loss, want.loss, 1e-4, 'training loss');
  assertClose(run.validLoss!, want.validLoss!, 1e-4, 'validation loss');
  for (const p of gpu.program.params) assertClose(await gpu.read(p.name), await ref.read(p.name), 1e-4, p.name);
  // A hidden value is computed on the batches' copies of the graph, not stored for read(), which says so.
  await rejects(() => gpu.read(gpu.hidden), /read: %\d+ \(tanh\) was not computed by the last train\(\): the per-node plan trains each minibatch on a copy of the graph at the batch's rows\. model\.evaluate\(\[tensor\]\) computes it/);
  const [evaluated] = await gpu.evaluate([gpu.hidden]);
  assertClose(await gpu.read(gpu.hidden), evaluated!, 0, 'read after evaluate');
  assert.is(evaluated!.length, 200 * 64);
  gpu.dispose();
});

test('a WGSL compile error names the kernel, line:col and shows the numbered source', async () => {
  const backend = (await webgpu()) as WebGpuBackend;
  const cache = new KernelCache(backend.device);
  const spec = { kernel: 'zip' as const, holes: { COMBINE: 'x +* y' }, constants: { ROWS: 1, COLS: 1, A_ROW_STRIDE: 0, A_COL_STRIDE: 0, B_ROW_STRIDE: 0, B_COL_STRIDE: 0 }, access: ['read', 'read', 'rw'] as ('read' | 'rw')[] };
  const err = await caught(cache.pipeline(spec));
  assert.instance(err, KernelError);
  assert.match(err!.message, /kernel zip failed to compile:\nzip\.wgsl:\d+:\d+: /);
  assert.match(err!.message, /\d+ \|   return x \+\* y;/);
});

test('a pipeline validation error (a missing override) is caught by the error scope', async () => {
  const backend = (await webgpu()) as WebGpuBackend;
  const cache = new KernelCache(backend.device);
  const err = await caught(cache.pipeline({ kernel: 'map', holes: { APPLY: 'x' }, constants: { ROWS: 1 }, access: ['read', 'rw'] }));
  assert.instance(err, KernelError);
  assert.match(err!.message, /kernel map: pipeline creation failed/);
});

test.run();
