import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

const run = (file: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [file], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...env }, encoding: 'utf8', timeout: 120_000 });

test('the quick-start demo trains on WebGPU and lands on the closed form', () => {
  const r = run('dist/examples/demo.js', { FUSEGRAD_DEVICE: 'webgpu' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /backend: webgpu/);
  // Every coefficient row prints gradient descent then closed form; after 1000 epochs they agree to 3 decimals.
  const rows = [...r.stdout.matchAll(/^(apples|oranges): .*?\s(-?\d+\.\d+)\s+(-?\d+\.\d+)$/gm)];
  assert.is(rows.length, 8);
  for (const [line, , gd, exact] of rows) assert.ok(Math.abs(Number(gd) - Number(exact)) < 1e-3, line);
  assert.match(r.stdout, /1000 epochs in .* ms .* on the tiny plan: 1 dispatch, 1 submit, 1 readback/);
});

test('the demo runs on the CPU backend too', () => {
  const r = run('dist/examples/demo.js', { FUSEGRAD_DEVICE: 'cpu' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /backend: cpu — CPU float64/);
});

test('the walkthrough runs end to end: graphs, plans, WGSL, one step with the same loss on every plan', () => {
  const r = run('dist/examples/walkthrough.js');
  assert.is(r.status, 0, r.stderr);
  for (const part of ['1. The forward graph', '2. The backward graph autograd added', '3. The kernel plan', '4. The WGSL', '5. One training step']) assert.ok(r.stdout.includes(part), part);
  const loss = /loss before the update: ([\d.]+)/.exec(r.stdout)![1];
  assert.match(r.stdout, new RegExp(`on the tiny plan: ${loss!.replace('.', '\\.')}, on the per-node plan: ${loss!.replace('.', '\\.')}`));
});

test.run();
