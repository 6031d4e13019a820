// Runs every bundled test file in dist/test with uvu in one process, then prints the plain
// closing line "N passed, N failed" and exits non-zero on any failure.
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

globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
const only = process.argv.slice(2);
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

const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const failed = total - passed - skipped;
process.stdout.write = write;
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || total === 0 || process.exitCode ? 1 : 0);
