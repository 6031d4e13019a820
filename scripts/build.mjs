// Builds the package, examples, benchmarks and tests with esbuild (WGSL files inlined as text),
// then, unless --no-types, emits the .d.ts files with tsc.
import { build } from 'esbuild';
import { readdirSync, rmSync, existsSync } from 'node:fs';
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
await build({ ...common, entryPoints: ['index.ts'], outfile: 'dist/index.js' });
await build({ ...common, entryPoints: ['cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } });
await build({ ...common, entryPoints: listTs('examples'), outdir: 'dist/examples' });
await build({ ...common, entryPoints: listTs('bench'), outdir: 'dist/bench' });
await build({ ...common, entryPoints: listTs('test', '.test.ts'), outdir: 'dist/test' });
if (!process.argv.includes('--no-types')) {
  execFileSync('node', ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
