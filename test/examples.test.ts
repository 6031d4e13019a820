import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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

test('the walkthrough at FUSEGRAD_DEBUG=4: per-kernel GPU times for runs of any length (a run of 1 epoch crashed)', () => {
  const r = run('dist/examples/walkthrough.js', { FUSEGRAD_DEBUG: '4' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /GPU time per kernel \(timestamp queries, first \d+ dispatches, mean per call\):\n\s+[\d.]+ µs\s+x1\s+(tiny|serial)/);
  assert.not.match(r.stderr, /BigUint64Array|RangeError/);
});

const lesson = (file: string) => run(`dist/examples/${file}.js`);

test('crop yields: gradient descent by hand equals the built-in optimizer; minibatches train', () => {
  const r = lesson('crop-yields');
  assert.is(r.status, 0, r.stderr);
  const hand = /by hand:\s+loss ([\d.]+) -> ([\d.]+) in 100 epochs \(100 reads\)/.exec(r.stdout)!;
  const built = /built-in SGD:\s+loss ([\d.]+) -> ([\d.]+) \(\w+ plan, 1 read\); largest relative difference from by-hand ([\d.e+-]+)/.exec(r.stdout)!;
  assert.ok(hand && built, r.stdout);
  assert.is(hand[2], built[2]);
  assert.ok(Number(built[3]) < 1e-5, `difference ${built[3]}`);
  const mini = /minibatches of 5:\s+loss ([\d.]+) -> ([\d.]+)/.exec(r.stdout)!;
  assert.ok(Number(mini[2]) < Number(mini[1]) / 10, 'minibatch loss falls');
});

test('fuel efficiency: three learning rates, the fastest lands on the closed form, the plot is written', () => {
  const r = lesson('fuel-efficiency');
  assert.is(r.status, 0, r.stderr);
  const rows = [...r.stdout.matchAll(/^(0\.0+1)\s+([\d.]+)\s+([\d.-]+)\s+([\d.-]+)\s+([\d.-]+), ([\d.-]+)$/gm)];
  assert.is(rows.length, 3, r.stdout);
  const [fast, mid, slow] = rows.map((m) => Number(m[2]));
  assert.ok(fast! < mid! && mid! < slow!, 'smaller learning rates are further from the minimum after 1000 epochs');
  assert.ok(Math.abs(Number(rows[0]![3]) - Number(rows[0]![5])) < 1e-3 && Math.abs(Number(rows[0]![4]) - Number(rows[0]![6])) < 1e-4, rows[0]![0]);
  assert.ok(existsSync('examples/out/fuel-efficiency.png'));
});

test('bootstrap: both bootstraps next to the classical standard errors; the residual one agrees with them, the pairs intercept does not, and the spread by displacement says why', () => {
  const r = lesson('bootstrap');
  assert.is(r.status, 0, r.stderr);
  const rows = Object.fromEntries([...r.stdout.matchAll(/^(intercept|slope)\s+(-?[\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$/gm)].map((m) => [m[1], m.slice(3).map(Number)]));
  const [classical, pairs, residuals] = rows.intercept as number[];
  const [cSlope, pSlope, rSlope] = rows.slope as number[];
  assert.ok(Math.abs(residuals! / classical! - 1) < 0.1 && Math.abs(rSlope! / cSlope! - 1) < 0.1, 'residual bootstrap within 10% of the classical SEs');
  assert.ok(pairs! / classical! > 1.08, `pairs intercept SE ${pairs} well above the classical ${classical}`);
  assert.ok(Math.abs(pSlope! / cSlope! - 1) < 0.1, 'the pairs slope SE agrees');
  const ratio = Number(/largest \/ smallest: ([\d.]+)/.exec(r.stdout)![1]);
  assert.ok(ratio > 1.3, `the residual spread differs by displacement (${ratio})`);
  assert.ok(existsSync('examples/out/bootstrap.png'));
});

test('multiple regression: Adam with validation lands next to ols, in one submission', () => {
  const r = lesson('multiple-regression');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /\(tiny plan, 1 submit, 1 read\): 318 training rows, 80 validation rows/);
  for (const m of r.stdout.matchAll(/^(const|displacement|weight|acceleration)\s+([\d.-]+)\s+([\d.-]+)$/gm)) {
    assert.ok(Math.abs(Number(m[2]) - Number(m[3])) <= 1e-3 * Math.max(1, Math.abs(Number(m[3]))), m[0]);
  }
  assert.match(r.stdout, /OLS: mpg ~ displacement \+ weight \+ acceleration/);
});

test('polynomial: gradient descent from (5, 4, 3) moves towards the closed form every 1000 epochs', () => {
  const r = lesson('polynomial');
  assert.is(r.status, 0, r.stderr);
  const cf = /closed form:\s+([\d.-]+)\s+([\d.-]+)\s+([\d.-]+)/.exec(r.stdout)!.slice(1).map(Number);
  const steps = [...r.stdout.matchAll(/^\s*(\d+)\s+([\d.-]+)\s+([\d.-]+)\s+([\d.-]+)\s+([\d.]+)$/gm)].map((m) => m.slice(2, 5).map(Number));
  assert.is(steps.length, 10);
  const dist = (p: number[]) => Math.hypot(...p.map((v, i) => v - cf[i]!));
  for (let i = 1; i < steps.length; i++) assert.ok(dist(steps[i]!) < dist(steps[i - 1]!), `closer at step ${i}`);
  assert.ok(dist(steps[9]!) < 0.3 * dist([5, 4, 3]), `after 10000 epochs: ${dist(steps[9]!)}`);
});


test('the README example under Deno prints the same numbers as under Node (float32 rounding apart)', () => {
  const numbers = (out: string) => [...out.matchAll(/^\s+epoch\s+\d+\s+loss\s+([\d.]+)$|^(?:apples|oranges): .*?\s(-?\d+\.\d+)\s+-?\d+\.\d+$/gm)].map((m) => Number(m[1] ?? m[2]));
  const node = run('dist/examples/demo.js', { FUSEGRAD_DEVICE: 'webgpu' });
  const deno = spawnSync('node_modules/@deno/linux-x64-glibc/deno', ['run', '-A', 'dist/examples/demo.js'], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', FUSEGRAD_DEVICE: 'webgpu' }, encoding: 'utf8', timeout: 120_000 });
  assert.is(deno.status, 0, deno.stderr);
  assert.match(deno.stdout, /backend: webgpu — .*\(navigator\.gpu\)/);
  assert.match(deno.stdout, /1000 epochs in .* on the tiny plan: 1 dispatch, 1 submit, 1 readback/);
  const [a, b] = [numbers(node.stdout), numbers(deno.stdout)];
  assert.is(a.length, 19);
  assert.is(b.length, a.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 1e-4 * Math.max(1, Math.abs(v)), `value ${i}: node ${v}, deno ${b[i]}`));
});

test('hidden layer: a tanh network beats least squares on the held-out cars, trained in one dispatch', () => {
  const r = lesson('hidden-layer');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /3000 epochs on \w+ \(tiny plan: 1 dispatch, 1 submit, 1 read\)/);
  const mse = (name: string) => /\s+([\d.]+)\s+([\d.]+)$/m.exec(r.stdout.split('\n').find((l) => l.startsWith(name))!)!.slice(1).map(Number);
  const [lineTrain, lineHeld] = mse('least squares');
  const [netTrain, netHeld] = mse('tanh network');
  // The plane is the best any linear model does on the training rows; the network bends past it.
  assert.ok(netTrain! < lineTrain!, `training: network ${netTrain} vs least squares ${lineTrain}`);
  assert.ok(netHeld! < 0.9 * lineHeld!, `held out: network ${netHeld} vs least squares ${lineHeld}`);
  assert.ok(existsSync('examples/out/hidden-layer.svg'));
});

test.run();
