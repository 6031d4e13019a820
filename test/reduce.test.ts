import { test } from 'uvu';
import { Graph, type Tensor } from '../engine/graph.js';
import { sizeOf, type Shape } from '../engine/shape.js';
import { compile } from '../runtime/model.js';
import { assertClose, cpu64, f32Tol, randoms, webgpu } from './helpers.js';

/** Evaluates `build(a)` for a random input of `shape` on WebGPU and float64 CPU, and compares. */
async function compare(shape: Shape, build: (g: Graph, a: Tensor) => Tensor[], what: string) {
  const data = randoms(sizeOf(shape), sizeOf(shape));
  const results = [];
  for (const backend of [await webgpu(), cpu64()]) {
    const g = new Graph();
    const a = g.input('a', shape);
    const outs = build(g, a);
    const model = await compile(g, { backend });
    model.write({ a: data });
    results.push(await model.evaluate(outs));
    model.dispose();
  }
  const [gpu, ref] = results;
  ref!.forEach((want, i) => assertClose(gpu![i]!, want, f32Tol(sizeOf(shape)), `${what} #${i}`));
}

// Workgroups hold 64 invocations; 65535 workgroups cover 4,194,240 elements. The sizes cross every
// boundary: below, at and above one workgroup, the one- to two-pass switch (512), and past 65535
// workgroups' worth.
for (const n of [1, 3, 63, 64, 65, 511, 513, 100_003, 4_500_001]) {
  test(`sum and mean of ${n} elements: a tree over workgroups matches float64`, () =>
    compare([n], (g, a) => [g.sum(a), g.mean(a), g.scale(a, 3)], `n=${n}`));
}

test('axis reductions with more outputs than 65535 workgroups in y (grid stride over outputs)', () =>
  compare([70_001, 3], (g, a) => [g.sum(a, 1), g.mean(a, 0), g.sum(a, 0)], 'axis sums of [70001,3]'));

test('elementwise ops past 65535 workgroups of 64 (grid stride)', () =>
  compare([4_300_000, 1], (g, a) => [g.squaredError(a, g.constant(0.25)), g.transpose(a)], 'zip and map over 4.3M'));

test('a long matmul inner dimension (Xᵀ X over 300001 rows) reduces as split-K partials and a tree', () =>
  compare([300_001, 3], (g, a) => [g.matmul(a, a, { transA: true })], 'XᵀX'));

test.run();
