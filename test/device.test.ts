import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

// Trains a few epochs in a child process and prints the adapter and the losses as JSON.
const script = `
import { requestBackend, Graph, compile, sgd } from ${JSON.stringify(resolve('dist/index.js'))};
const backend = await requestBackend({ device: 'webgpu' });
const g = new Graph();
const X = g.input('X', [3, 2]), Y = g.input('Y', [3, 1]), W = g.param('W', [1, 2]), b = g.param('b', [1]);
const loss = g.mean(g.squaredError(g.add(g.matmul(X, W, { transB: true }), b), Y));
const model = await compile(g, { loss, optimizer: sgd({ lr: 0.01 }), backend });
model.write({ X: [[1, 2], [3, 4], [5, 7]], Y: [1, 2, 3] });
const run = await model.train({ epochs: 5 });
console.log(JSON.stringify({ adapter: backend.description, loss: [...run.loss] }));
model.dispose();
backend.dispose();
`;

function train(env: Record<string, string>): { adapter: string; loss: number[] } {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  return JSON.parse(out.toString().trim().split('\n').pop()!);
}

test('with no Vulkan driver, Node falls back to Dawn on OpenGL ES (compatibility) and trains the same', () => {
  const vulkan = train({});
  const gles = train({ VK_DRIVER_FILES: '/nonexistent.json', VK_ICD_FILENAMES: '/nonexistent.json' });
  assert.not.match(vulkan.adapter, /OpenGL ES/);
  assert.match(gles.adapter, /Dawn OpenGL ES \(compatibility\)/);
  assert.equal(gles.loss.length, 5);
  gles.loss.forEach((l, i) => assert.ok(Math.abs(l - vulkan.loss[i]!) <= 1e-5 * vulkan.loss[i]!, `epoch ${i}: ${l} vs ${vulkan.loss[i]}`));
});

test.run();
