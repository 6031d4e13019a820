import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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

const NO_VULKAN = { VK_DRIVER_FILES: '/nonexistent.json', VK_ICD_FILENAMES: '/nonexistent.json' };

function node(code: string, env: Record<string, string>) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...env }, encoding: 'utf8', timeout: 120_000 });
}

function train(env: Record<string, string>): { adapter: string; loss: number[] } {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  return JSON.parse(out.toString().trim().split('\n').pop()!);
}

test('with no Vulkan driver, Node falls back to Dawn on OpenGL ES (compatibility), trains the same, and says it is the slower fallback', () => {
  const vulkan = train({});
  const gles = train(NO_VULKAN);
  assert.not.match(vulkan.adapter, /OpenGL ES/);
  assert.match(gles.adapter, /Dawn OpenGL ES \(compatibility\)/);
  assert.equal(gles.loss.length, 5);
  gles.loss.forEach((l, i) => assert.ok(Math.abs(l - vulkan.loss[i]!) <= 1e-5 * vulkan.loss[i]!, `epoch ${i}: ${l} vs ${vulkan.loss[i]}`));
  const said = node(script, NO_VULKAN);
  assert.match(said.stderr, /fusegrad: no Vulkan adapter, so WebGPU runs on Dawn's OpenGL ES fallback \(.*\), slower than Vulkan on the same machine\. On Debian 12 without a GPU, install/);
  assert.not.match(node(script, {}).stderr, /OpenGL ES fallback/, 'on Vulkan, nothing is said');
});

/**
 * Debian 12's own Mesa 22.3, unpacked by `npm test`'s set-up (scripts/setup.sh) into
 * .cache/mesa-bookworm, and an environment that makes Dawn use it: no Vulkan driver, EGL's vendor
 * file naming its libEGL_mesa, the libraries and DRI drivers found there. The system's Mesa is
 * not touched.
 */
function mesa22(): Record<string, string> {
  const lib = resolve('.cache/mesa-bookworm/root/usr/lib/x86_64-linux-gnu');
  assert.ok(existsSync(`${lib}/libEGL_mesa.so.0`), `Debian 12's Mesa 22 drivers are missing from ${lib}: run scripts/setup.sh (npm test does)`);
  const vendor = join(mkdtempSync(join(tmpdir(), 'fusegrad-mesa22-')), 'mesa22.json');
  writeFileSync(vendor, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: `${lib}/libEGL_mesa.so.0` } }));
  return { ...NO_VULKAN, __EGL_VENDOR_LIBRARY_FILENAMES: vendor, LD_LIBRARY_PATH: lib, LIBGL_DRIVERS_PATH: `${lib}/dri` };
}

// A shuffled minibatch run long enough to pass llvmpipe's loop limit in Mesa 22 (it stopped at 139 of 200 epochs).
const shuffled = (makeBackend: string) => `
import { Graph, compile, sgd, requestBackend, WebGpuBackend } from ${JSON.stringify(resolve('dist/index.js'))};
const backend = await (${makeBackend});
const n = 398;
const g = new Graph();
const X = g.input('X', [n, 1]), Y = g.input('Y', [n, 1]), W = g.param('W', [1, 1]), b = g.param('b', [1]);
const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
const model = await compile(g, { loss, optimizer: sgd({ lr: 0.01 }), backend, batchSize: 32, shuffle: true });
const xs = Array.from({ length: n }, (_, i) => [Math.sin(i)]);
model.write({ X: xs, Y: xs.map(([x]) => [2 * x + 1]) });
try {
  const run = await model.train({ epochs: 200 });
  console.log(JSON.stringify({ kind: backend.kind, adapter: backend.description, epochs: run.epochs }));
} catch (err) {
  console.log(JSON.stringify({ error: err.name, message: err.message }));
}
`;

test("Debian 12's own Mesa 22 (llvmpipe stops loops after 65535 iterations) is refused with the driver advice; auto trains on the CPU and says why", () => {
  const env = mesa22();
  const refused = node(`import { requestBackend } from ${JSON.stringify(resolve('dist/index.js'))};
try { await requestBackend({ device: 'webgpu' }); console.log('accepted'); } catch (err) { console.log(err.name + ': ' + err.message); }`, env);
  assert.match(refused.stdout, /^NoAdapterError: fusegrad: the WebGPU adapter .*Mesa 22\.3.* stops shader loops early \(a loop of 100000 iterations ran 65535; llvmpipe in Mesa 22 ends loops after 65535\), so training runs would stop short with wrong numbers; fusegrad does not use it\. On Debian 12 without a GPU, install Mesa's software Vulkan driver \(lavapipe\) from bookworm-backports/);
  const auto = node(shuffled("requestBackend({ device: 'auto' })"), env);
  const out = JSON.parse(auto.stdout.trim().split('\n').pop()!);
  assert.equal(out, { kind: 'cpu', adapter: 'CPU float64', epochs: 200 }, 'every epoch, on the CPU');
  assert.match(auto.stderr, /fusegrad: the WebGPU adapter .* stops shader loops early .*; running on the CPU backend instead\. On Debian 12/);
});

test('on that driver, a run the kernel cut short is a DeviceError, never a shorter result', () => {
  // The adapter by hand, past requestBackend's probe, as an application holding its own GPUDevice would.
  const byHand = `(async () => {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    process.env.EGL_PLATFORM = 'surfaceless';
    // Held for the life of the process: Dawn crashes once its GPU object is collected.
    globalThis.held = create(['backend=opengles']);
    const adapter = await globalThis.held.requestAdapter({ featureLevel: 'compatibility' });
    return new WebGpuBackend(await adapter.requestDevice(), 'llvmpipe (256-bits), Mesa 22 by hand');
  })()`;
  const r = node(shuffled(byHand), mesa22());
  const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}');
  assert.is(out.error, 'DeviceError', r.stdout + r.stderr);
  assert.match(out.message, /^train: the device ran \d+ of the 200 epochs asked and marked no divergence: its driver cut the run short \(llvmpipe \(256-bits\), Mesa 22 by hand\)\. The parameters are not to be trusted/);
});

test('fit on that driver trains every epoch asked, on the CPU, saying why', () => {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '200', '--batch-size', '32', '--shuffle', '--json'], {
    env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...mesa22() },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.is(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.is(o.device.backend, 'cpu');
  assert.is(o.epochs, 200);
  assert.is(o.history.loss.length, 200);
  assert.match(r.stderr, /stops shader loops early/);
});

test('under Deno without --allow-env, fusegrad loads and trains: a refused FUSEGRAD_DEBUG counts as unset', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'fusegrad-deno-')), 'noenv.mjs');
  writeFileSync(file, `import { Graph, compile, sgd, requestBackend, debugLevel } from ${JSON.stringify(resolve('dist/index.js'))};
const backend = await requestBackend({ device: 'cpu' });
const g = new Graph();
const X = g.input('X', [3, 1]), Y = g.input('Y', [3, 1]);
const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.param('W', [1, 1]), { transB: true }), g.param('b', [1])), Y));
const model = await compile(g, { loss, optimizer: sgd({ lr: 0.1 }), backend });
model.write({ X: [[1], [2], [3]], Y: [[2], [4], [6]] });
console.log(JSON.stringify({ level: debugLevel(), epochs: (await model.train({ epochs: 3 })).epochs }));
`);
  const deno = 'node_modules/@deno/linux-x64-glibc/deno';
  const run = (args: string[]) => spawnSync(deno, ['run', '--allow-read', ...args, file], { env: { ...process.env, FUSEGRAD_DEBUG: '1', NO_COLOR: '1' }, encoding: 'utf8', timeout: 60_000 });
  const refused = run([]);
  assert.is(refused.status, 0, refused.stderr);
  assert.equal(JSON.parse(refused.stdout), { level: 0, epochs: 3 });
  const allowed = run(['--allow-env=FUSEGRAD_DEBUG']);
  assert.is(allowed.status, 0, allowed.stderr);
  assert.equal(JSON.parse(allowed.stdout.trim().split('\n').pop()!), { level: 1, epochs: 3 }, 'allowed, the variable is read');
});

test.run();
