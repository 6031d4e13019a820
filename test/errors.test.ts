import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { NoAdapterError, requestBackend } from '../runtime/device.js';
import { compile } from '../runtime/model.js';
import { WebGpuBackend } from '../runtime/webgpu.js';
import { KernelCache, KernelError } from '../wgsl/kernels.js';
import { caught, cpu64, rejects, webgpu } from './helpers.js';

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
  await rejects(() => plain.train({ epochs: 1 }), /compile the model with a loss and an optimizer first/);
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
