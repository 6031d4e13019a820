// Builds the package, examples, benchmarks and tests with esbuild (WGSL files inlined as text),
// then, unless --no-types, emits the .d.ts files with tsc.
import { build } from 'esbuild';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const listTs = (dir, suffix = '.ts') =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(suffix)).map((f) => `${dir}/${f}`) : [];

rmSync('dist', { recursive: true, force: true });
const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  loader: { '.wgsl': 'text' },
  // Dependencies stay imports (node_modules has them); the browser bundle (its own build) inlines what it needs.
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
};
// The published bundles (package.json "files") keep their source maps beside them unlinked: the
// package leaves the maps out, and a link to a missing map is a warning in every bundler.
await build({ ...common, sourcemap: 'external', entryPoints: ['index.ts'], outfile: 'dist/index.js' });
// The command: a small entry (cli/bin.ts) that checks the command's optional dependencies, then loads the rest.
await build({ ...common, sourcemap: 'external', entryPoints: ['cli/main.ts'], outfile: 'dist/cli-main.js' });
await build({ ...common, entryPoints: ['cli/bin.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' }, plugins: [{ name: 'cli-main', setup: (b) => b.onResolve({ filter: /^\.\/main\.js$/ }, () => ({ path: './cli-main.js', external: true })) }] });
await build({ ...common, entryPoints: listTs('examples'), outdir: 'dist/examples' });
await build({ ...common, entryPoints: listTs('bench'), outdir: 'dist/bench' });
await build({ ...common, entryPoints: listTs('test', '.test.ts'), outdir: 'dist/test' });
// The browser bundle and the teaching page: everything inlined. Node's WebGPU binding, its
// modules and the PNG renderer are imported only where Node was found (a browser has navigator.gpu,
// and plots stay SVG), so they become empty modules here: the bundle imports nothing, and an app
// bundles it with no --external flags.
const nodeOnly = {
  name: 'node-only',
  setup(b) {
    b.onResolve({ filter: /^(webgpu|@resvg\/resvg-js|node:.*)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};
const browser = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', loader: { '.wgsl': 'text' }, plugins: [nodeOnly], sourcemap: 'linked', logLevel: 'warning' };
await build({ ...browser, sourcemap: 'external', entryPoints: ['browser.ts'], outfile: 'dist/fusegrad.browser.js' });
if (existsSync('web/app.ts')) {
  await build({ ...browser, entryPoints: ['web/app.ts'], outfile: 'dist/web/app.js' });
  for (const f of ['index.html', 'style.css']) copyFileSync(`web/${f}`, `dist/web/${f}`);
  copyFileSync('examples/data/auto-mpg.csv', 'dist/web/auto-mpg.csv');
}
if (!process.argv.includes('--no-types')) {
  execFileSync('node', ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  // The types name GPUDevice and its kin: the entry points pull in @webgpu/types (a dependency), so
  // an app's tsc needs nothing installed beside fusegrad. tsc drops such a line from its output.
  for (const entry of ['dist/types/index.d.ts', 'dist/types/browser.d.ts']) writeFileSync(entry, `/// <reference types="@webgpu/types" />\n${readFileSync(entry, 'utf8')}`);
}
