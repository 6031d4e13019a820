import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; optionalDependencies: Record<string, string>; devDependencies: Record<string, string> };

/** What `npm pack` would put in the tarball (scripts off: `prepack` would rebuild dist under the running tests). */
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
  const said = `\`npm pack --dry-run\` gives ${files.length} files, under 2 MB\nunpacked`;
  assert.ok(readFileSync('README.md', 'utf8').includes(said), `the README says: ${said}`);
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
  // The runtime dependencies as npm would install them, the command's optional ones included (linked
  // from this checkout's node_modules), and none of the dev dependencies: the benchmark's peers are absent, as for a user.
  for (const dep of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies)]) {
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

/** The package as `npm install fusegrad --omit=optional` installs it: the tarball unpacked into an empty project, its dependencies (not the command's optional ones) linked from this checkout. */
function installed(): { dir: string; project: string; modules: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fusegrad-app-'));
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { stdio: 'ignore' });
  const modules = join(dir, 'project', 'node_modules');
  mkdirSync(join(modules, 'fusegrad'), { recursive: true });
  execFileSync('tar', ['-xzf', join(dir, 'fusegrad-0.1.0.tgz'), '-C', join(modules, 'fusegrad'), '--strip-components=1']);
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(join(modules, dep, '..'), { recursive: true });
    symlinkSync(realpathSync(join('node_modules', dep)), join(modules, dep));
  }
  writeFileSync(join(dir, 'project', 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true, dependencies: { fusegrad: '0.1.0' } }));
  return { dir, project: join(dir, 'project'), modules };
}

/**
 * The README's complete app, the code block after `<!-- the complete app -->`: a two-layer network
 * from the layers, trained with validation and early stopping, saved to JSON, loaded again and
 * asked for predictions. Its last line is one JSON line of what it saw.
 */
const APP = /<!-- the complete app -->\n```ts\n([\s\S]*?)```/.exec(readFileSync('README.md', 'utf8'))?.[1] ?? '';

test('a consumer app from the tarball without the optional dependencies: the command names them; tsc --strict, Node, Deno with no flags, and an esbuild browser bundle with no --external flags in Chromium', async () => {
  assert.ok(APP.includes("from 'fusegrad'"), 'the README has the complete app');
  const { project } = installed();
  writeFileSync(join(project, 'app.ts'), APP);
  // Strict, no @types of its own, and the library's types checked too (no skipLibCheck).
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [], outDir: 'out', skipLibCheck: false }, files: ['app.ts'] }));
  const tsc = spawnSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
  assert.is(tsc.status, 0, `tsc --strict: ${tsc.stdout}${tsc.stderr}`);
  const expect = (out: string, where: string) => {
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { kind: string; epochs: number; stopped: string | null; callbacks: number; learnt: boolean; same: boolean };
    assert.ok(r.learnt, `${where}: the validation loss fell tenfold (${out})`);
    assert.ok(r.same, `${where}: the loaded model predicts what the saved one did`);
    assert.ok(r.callbacks >= 1 && r.epochs >= 1, `${where}: ${out}`);
    return r;
  };
  const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp' };
  // Without the optional dependencies the command says what to install, and the library works (below).
  const cli = spawnSync(process.execPath, ['node_modules/fusegrad/dist/cli.js', 'ols', 'x.csv', '--y', 'y'], { cwd: project, env, encoding: 'utf8', timeout: 60_000 });
  assert.is(cli.status, 2, cli.stderr);
  assert.match(cli.stderr, /^fusegrad: the command needs papaparse, cli-progress, asciichart, @stdlib\/math-base-special-betainc, @stdlib\/stats-base-dists-t-cdf, @stdlib\/stats-base-dists-t-quantile, @resvg\/resvg-js, optional dependencies that were not installed \(npm install --omit=optional leaves them out\); install them with: npm install papaparse /);
  const node = spawnSync(process.execPath, ['out/app.js'], { cwd: project, env, encoding: 'utf8', timeout: 120_000 });
  assert.is(node.status, 0, node.stderr);
  assert.is(expect(node.stdout, 'Node').kind, 'webgpu');
  const deno = spawnSync(resolve('node_modules/@deno/linux-x64-glibc/deno'), ['run', 'out/app.js'], { cwd: project, env: { ...env, NO_COLOR: '1' }, encoding: 'utf8', timeout: 120_000 });
  assert.is(deno.status, 0, `deno run with no flags: ${deno.stderr}`);
  expect(deno.stdout, 'Deno');
  const { build } = await import('esbuild');
  await build({ entryPoints: [join(project, 'out/app.js')], bundle: true, format: 'esm', platform: 'browser', outfile: join(project, 'web/app.js'), logLevel: 'silent', absWorkingDir: project });
  writeFileSync(join(project, 'web/index.html'), '<!doctype html><script type="module">const log = console.log; console.log = (s) => { document.title = s; log(s); }; import("./app.js").catch((e) => (document.title = "error: " + e.message));</script>');
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    const name = req.url === '/' ? 'index.html' : 'app.js';
    res.writeHead(200, { 'content-type': name.endsWith('.html') ? 'text/html' : 'text/javascript' }).end(readFileSync(join(project, 'web', name)));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    await page.waitForFunction(() => document.title.startsWith('{') || document.title.startsWith('error'), undefined, { timeout: 120_000 });
    const title = await page.title();
    assert.ok(title.startsWith('{'), `Chromium: ${title}`);
    expect(title, 'Chromium');
  } finally {
    await browser.close();
    server.close();
  }

});

test.run();
