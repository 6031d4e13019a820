// Runs every bundled test file in dist/test with uvu in one process (or those named on the command
// line), then, under Node with no names given, the WebGPU suites again under Deno; prints the plain
// closing line "N passed, N failed" over both and exits non-zero on any failure.
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
let out = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  out += String(chunk);
  return write(chunk, ...rest);
};

const isDeno = typeof globalThis.Deno !== 'undefined';
// Deno's Linux x64 build, a dev dependency (the machines this project builds on are Linux x64).
const DENO = 'node_modules/@deno/linux-x64-glibc/deno';
// The suites that exercise WebGPU through the library alone (no child processes, no browser): these
// also run under Deno.
const DENO_FILES = ['backends', 'train', 'fuse', 'compile', 'loader', 'optim', 'reduce', 'errors', 'debug', 'snapshot', 'replicas', 'predict.test', 'run.test', 'nn.test', 'saved.test'];

globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = readdirSync('dist/test')
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
for (const [i, file] of files.entries()) {
  globalThis.UVU_INDEX = i;
  globalThis.UVU_QUEUE.push([file]);
  await import(pathToFileURL(resolve('dist/test', file)).href);
}
await uvu.exec(false);

const counts = (text) => {
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  return { total, passed, skipped, failed: total - passed - skipped };
};
const node = counts(out);
process.stdout.write = write;
let all = node;
// Then the WebGPU tests again under Deno (its own navigator.gpu), unless this is that run.
if (!isDeno && !only.length && !process.argv.includes('--no-deno')) {
  const { spawnSync } = await import('node:child_process');
  console.log(`\nnode: ${node.passed} passed, ${node.failed} failed; now the WebGPU tests under Deno (${DENO_FILES.join(', ')})\n`);
  const deno = spawnSync(DENO, ['run', '-A', 'scripts/test.mjs', ...DENO_FILES], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  process.stdout.write(deno.stdout ?? '');
  const d = deno.error ? { total: 1, passed: 0, skipped: 0, failed: 1 } : counts(deno.stdout ?? '');
  if (deno.error) console.log(`deno did not run: ${deno.error.message}`);
  if (d.total === 0 || deno.status !== 0) d.failed = Math.max(d.failed, 1);
  all = { total: node.total + d.total, passed: node.passed + d.passed, skipped: node.skipped + d.skipped, failed: node.failed + d.failed };
}
console.log(`\ntests: ${all.passed} passed, ${all.failed} failed, ${all.skipped} skipped`);
process.exit(all.failed > 0 || all.total === 0 || process.exitCode ? 1 : 0);
