import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sizeOf } from '../engine/shape.js';
import type { Backend } from '../runtime/program.js';
import { CASES } from './cases.js';
import { assertClose, cpu32, cpu64, f32Tol, webgpu } from './helpers.js';
import { buildCase } from './opgraph.js';

const backends: [string, () => Backend | Promise<Backend>][] = [
  ['WebGPU', webgpu],
  ['CPU float32', cpu32],
];

for (const [label, make] of backends) {
  for (const c of CASES) {
    test(`${label}: ${c.name}: forward value, loss and gradients match float64`, async () => {
      const ref = await buildCase(c, cpu64());
      const got = await buildCase(c, await make());
      const want = await ref.model.evaluate([ref.out, ref.loss, ...ref.grads]);
      const have = await got.model.evaluate([got.out, got.loss, ...got.grads]);
      // The longest sum in these graphs is over the largest operand.
      const n = Math.max(...c.params.map(sizeOf), sizeOf(ref.out.shape));
      const names = ['output', 'loss', ...c.params.map((_, i) => `d p${i}`)];
      names.forEach((name, i) => assertClose(have[i]!, want[i]!, f32Tol(n), `${label} ${c.name}: ${name}`));
      got.model.dispose();
    });
  }
}

test('WebGPU per-node plan: products in subgroup bands (lavapipe), in 4x8 or 4x4 tiles, a long inner side split; a row times a matrix and sums over rows as column sums; elementwise ops in vec4s; others as before', async () => {
  const gpu = await webgpu();
  const planOf = async (name: string) => {
    const built = await buildCase(CASES.find((c) => c.name === name)!, gpu);
    const text = built.model.plan();
    built.model.dispose();
    return text;
  };
  const count = (text: string, how: string) => text.match(new RegExp(`matmul\\[[^\\]]*\\] \\(${how}\\)`, 'g'))?.length ?? 0;
  // aᵀ b [12,16] (4 x 8) and its gradients b doutᵀ [20,12] (4 x 4) and a dout [20,16] (4 x 8).
  const tiled = await planOf('matmul in 4x8 tiles transA');
  assert.equal([count(tiled, '4x8 tiles'), count(tiled, '4x4 tiles')], [2, 1], tiled);
  const narrow = await planOf('matmul in 4x4 tiles transA transB');
  assert.equal([count(narrow, '4x8 tiles'), count(narrow, '4x4 tiles')], [0, 3], narrow);
  assert.match(await planOf('matmul in 4x8 tiles, long inner (split-K)'), /\(4x8 tiles, split-K partials\)/);
  // a bᵀ [16,40], dout b [16,12] and doutᵀ a [40,12]: every product's rows a multiple of 8, in
  // bands where the adapter has subgroups of 8 (lavapipe through Dawn), else in tiles (Deno's wgpu
  // gives no subgroup size).
  const bands = await planOf('matmul in subgroup bands transB');
  const split = await planOf('matmul in subgroup bands, long inner (split-K)');
  if ((gpu as unknown as { layout: { teamLanes: number } }).layout.teamLanes === 8) {
    assert.is(count(bands, '8-row bands by a subgroup'), 3, bands);
    assert.match(split, /\(8-row bands by a subgroup, split-K partials\)[^]*\(add 16 slices\)/);
  } else {
    assert.is(count(bands, '4x8 tiles') + count(bands, '4x4 tiles'), 3, bands);
    assert.match(split, /\(4x8 tiles, split-K partials\)/);
  }
  const plain = await planOf('matmul');
  assert.not.match(plain, /tiles|bands|column sums/);
  assert.match(await planOf('matmul row times matrix (column sums)'), /matmul\[1,8\] \(column sums, partials\)/);
  assert.match(await planOf('mean axis 0, long, columns in vec4s (partials)'), /mean\[12\] \(column sums, partials\)[^]*mean\[12\] \(add 21 slices\)/);
  assert.match(await planOf('sum axis 0, columns in vec4s'), /sum\[8\] \(column sums, partials\)/);
  assert.match(await planOf('mul [n,k]*[n,1] in vec4s'), /%\d+ mul\[8,4\] \(vec4\)/);
  assert.match(await planOf('mul [n,k]*[n,1] in vec4s, 7 rows'), /%2 mul\[7,4\] \(vec4\)/);
  assert.match(await planOf('sub []-[n,k] in vec4s'), /%2 sub\[6,4\] \(vec4\)/);
  assert.not.match(await planOf('add [n,k]+[] scalar'), /%2 add\[7,3\] \(vec4\)/);
  assert.match(await planOf('tanh in vec4s'), /%\d+ tanh\[6,4\] \(vec4\)/);
});

test.run();
