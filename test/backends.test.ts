import { test } from 'uvu';
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

test.run();
