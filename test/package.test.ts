import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** What `npm pack` would put in the tarball (scripts off: `prepare` would rebuild dist under the running tests). */
function packed(): { files: string[]; unpackedSize: number } {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' });
  const [p] = JSON.parse(out) as { files: { path: string }[]; unpackedSize: number }[];
  return { files: p!.files.map((f) => f.path).sort(), unpackedSize: p!.unpackedSize };
}

test('the package holds the library, its types, the CLI, the browser bundle and the README: no tests, benchmarks or source maps', () => {
  const { files, unpackedSize } = packed();
  for (const f of ['dist/index.js', 'dist/cli.js', 'dist/fusegrad.browser.js', 'dist/types/index.d.ts', 'dist/types/browser.d.ts', 'dist/types/runtime/model.d.ts', 'README.md', 'package.json']) assert.ok(files.includes(f), `${f} is in the package`);
  const stray = files.filter((f) => /\.map$|(^|\/)(test|bench|examples(?!\/apples\.d\.ts)|web|cli)\//.test(f));
  assert.equal(stray, [], 'nothing of the repository but what a user runs');
  assert.ok(unpackedSize < 2e6, `${unpackedSize} bytes unpacked`);
  // Every type file a packed one imports is packed too.
  for (const f of files.filter((x) => x.endsWith('.d.ts'))) {
    for (const [, rel] of readFileSync(f, 'utf8').matchAll(/from '(\.[^']+)\.js'/g)) {
      const target = join(f, '..', `${rel}.d.ts`);
      assert.ok(files.includes(target), `${f} imports ${target}`);
    }
  }
});

test('installed from the tarball into an empty project: the library, fit and ols work, and bench names the peers to install', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fusegrad-install-'));
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { stdio: 'ignore' });
  const tarball = readFileSync(join(dir, 'fusegrad-0.1.0.tgz'));
  const modules = join(dir, 'project', 'node_modules');
  mkdirSync(join(modules, 'fusegrad'), { recursive: true });
  writeFileSync(join(dir, 'fusegrad.tgz'), tarball);
  execFileSync('tar', ['-xzf', join(dir, 'fusegrad.tgz'), '-C', join(modules, 'fusegrad'), '--strip-components=1']);
  // The runtime dependencies as npm would install them (linked from this checkout's node_modules),
  // and none of the dev dependencies: the benchmark's peers are absent, as for a user.
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(join(modules, dep, '..'), { recursive: true });
    symlinkSync(realpathSync(join('node_modules', dep)), join(modules, dep));
  }
  const project = join(dir, 'project');
  writeFileSync(join(project, 'use.mjs'), `import { Graph, compile, sgd, requestBackend } from 'fusegrad';
const backend = await requestBackend({ device: 'cpu' });
const g = new Graph();
const X = g.input('X', [3, 1]), Y = g.input('Y', [3, 1]);
const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.param('W', [1, 1]), { transB: true }), g.param('b', [1])), Y));
const model = await compile(g, { loss, optimizer: sgd({ lr: 0.1 }), backend });
model.write({ X: [[1], [2], [3]], Y: [[2], [4], [6]] });
console.log((await model.train({ epochs: 3 })).epochs);
`);
  const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp' };
  const run = (args: string[]) => spawnSync(process.execPath, args, { cwd: project, env, encoding: 'utf8', timeout: 120_000 });
  const lib = run(['use.mjs']);
  assert.is(lib.status, 0, lib.stderr);
  assert.is(lib.stdout.trim(), '3');
  const cli = join(modules, 'fusegrad', 'dist', 'cli.js');
  const data = resolve('examples/data/auto-mpg.csv');
  const fit = run([cli, 'fit', data, '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '20']);
  assert.is(fit.status, 0, fit.stderr);
  assert.match(fit.stdout, /trained in/);
  const ols = run([cli, 'ols', data, '--y', 'mpg', '--x', 'displacement']);
  assert.is(ols.status, 0, ols.stderr);
  const bench = run([cli, 'bench', '--sizes', 'apples', '--rows', 'cpu32,tfjs-cpu,jax-cpu', '--runs', '1', '--target-ms', '5', '--results', join(dir, 'results'), '--json']);
  assert.is(bench.status, 0, bench.stderr);
  const skipped = (JSON.parse(bench.stdout) as { skipped: { row: string; why: string }[] }).skipped;
  const tf = `npm install @tensorflow/tfjs@${pkg.devDependencies['@tensorflow/tfjs']} @tensorflow/tfjs-backend-webgpu@${pkg.devDependencies['@tensorflow/tfjs-backend-webgpu']}`;
  assert.equal(skipped, [
    { row: 'tfjs-cpu', why: `TensorFlow.js is not installed; to compare against it, ${tf}` },
    { row: 'jax-cpu', why: `jax-js is not installed; to compare against it, npm install @jax-js/jax@${pkg.devDependencies['@jax-js/jax']}` },
  ]);
  assert.match(bench.stderr, /bench: TensorFlow\.js is not installed; to compare against it, npm install @tensorflow\/tfjs@/);
  assert.not.match(bench.stderr, /Cannot find package/);
});

test.run();
