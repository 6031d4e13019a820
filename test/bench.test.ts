import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fusegrad, scratchPath } from './cli-helpers.js';

// Runs the benchmark on a tiny matrix, to keep it from rotting: the structure of its output, not its speed.
test('fusegrad bench on a tiny matrix: every row, the counters, the files', () => {
  const dir = scratchPath('bench');
  const r = fusegrad('bench', '--sizes', 'apples,300x4', '--rows', 'fused,per-node,cpu32,cpu64,cpu-reference,loop,tfjs-webgpu,tfjs-cpu,jax-webgpu,jax-cpu', '--runs', '1', '--target-ms', '10', '--results', dir, '--json');
  assert.is(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.type(out.bandwidth.gbps, 'number');
  assert.ok(out.bandwidth.gbps > 0);
  const rows = out.rows as { size: string; row: string; msPerEpoch: number; dispatchesPerEpoch: number | null; submitsPerEpoch: number | null; lossAgrees: boolean; vsFastest: number }[];
  const names = [...new Set(rows.map((x) => x.row))];
  for (const name of ['fusegrad WebGPU (fused)', 'fusegrad WebGPU (per node)', 'fusegrad CPU float32 (compiled, 1 thread)', 'fusegrad CPU float64 (compiled, 1 thread)', 'fusegrad CPU float64 (reference interpreter)', 'plain TypeScript loop (Float32Array)', 'TensorFlow.js webgpu', 'TensorFlow.js cpu', 'jax-js webgpu (read every epoch)', 'jax-js webgpu (read once)', 'jax-js wasm (read every epoch)', 'jax-js wasm (read once)']) {
    assert.ok(names.includes(name), `row ${name} (rows: ${names.join(', ')}; skipped: ${JSON.stringify(out.skipped)})`);
  }
  assert.is(rows.length, 2 * names.length);
  for (const x of rows) {
    assert.ok(x.msPerEpoch > 0, `${x.size} ${x.row}: ms/epoch`);
    assert.ok(x.lossAgrees, `${x.size} ${x.row}: its loss after two epochs agrees with float64`);
    assert.ok(x.vsFastest >= 1);
  }
  const fused = rows.find((x) => x.size === 'apples 5x3->2' && x.row === 'fusegrad WebGPU (fused)')!;
  assert.ok(fused.dispatchesPerEpoch! < 0.5, 'the tiny plan runs many epochs per dispatch');
  const tf = rows.find((x) => x.size === 'apples 5x3->2' && x.row === 'TensorFlow.js webgpu')!;
  assert.ok(tf.dispatchesPerEpoch! >= 5, 'dispatches of a peer are counted too');
  assert.equal(rows.filter((x) => x.row.includes('cpu') || x.row.includes('CPU') || x.row.includes('wasm') || x.row.includes('loop')).map((x) => x.dispatchesPerEpoch), Array(14).fill(null));
  const files = readdirSync(dir);
  for (const ext of ['.json', '.md', '.svg']) assert.ok(files.some((f) => f.endsWith(`-bench${ext}`)), `a ${ext} file in ${files.join(', ')}`);
  const md = readFileSync(`${dir}/${files.find((f) => f.endsWith('.md'))}`, 'utf8');
  assert.match(md, /\| size +\| row +\| ms\/epoch \(median\)/);
  assert.ok(existsSync(`${dir}/${files.find((f) => f.endsWith('.svg'))}`));
});

test('fusegrad bench on networks (NxDhH): every row starts from the same weights and agrees, with the compute floor beside the bandwidth floor', () => {
  const dir = scratchPath('bench-net');
  const r = fusegrad('bench', '--sizes', '300x3h5h4', '--rows', 'fused,cpu64,cpu-reference,loop,tfjs-webgpu,tfjs-cpu,jax-webgpu,jax-cpu', '--runs', '1', '--target-ms', '10', '--results', dir, '--json');
  assert.is(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.ok(out.compute.gflops > 0, 'the multiply-add rate is measured');
  const names = out.rows.map((x: { row: string }) => x.row);
  assert.equal(names, ['fusegrad WebGPU (fused)', 'fusegrad CPU float64 (compiled, 1 thread)', 'fusegrad CPU float64 (reference interpreter)', 'TensorFlow.js webgpu', 'TensorFlow.js cpu', 'jax-js webgpu (read every epoch)', 'jax-js webgpu (read once)', 'jax-js wasm (read every epoch)', 'jax-js wasm (read once)'], 'no plain loop: it is linear only');
  for (const x of out.rows) {
    assert.is(x.size, '300x3h5h4');
    assert.equal(x.hidden, [5, 4]);
    assert.ok(x.lossAgrees, `${x.row}: loss after two epochs ${x.lossAfter2}, the reference's ${out.rows[2].lossAfter2}`);
    // 300 rows through 3 -> 5 -> 4 -> 1: 300 (3·5·4 + 5·4·6 + 4·1·6) flops an epoch.
    assert.ok(Math.abs((x.gflops * x.msPerEpoch * 1e6) / (300 * (60 + 120 + 24)) - 1) < 1e-9, `${x.row}: flops an epoch`);
    assert.ok(x.computeRatio > 0);
  }
  const md = readFileSync(`${dir}/${readdirSync(dir).find((f) => f.endsWith('.md'))}`, 'utf8');
  assert.match(md, /multiply-add [\d.]+ GFLOP\/s/);
  assert.match(md, /\| GFLOP\/s +\| x compute +\|/);
  const bad = fusegrad('bench', '--sizes', '100x4h');
  assert.is(bad.code, 2);
  assert.match(bad.err, /--sizes: "100x4h" is not apples, NxD, NxDxK or a network NxDhH/);
});

test('fusegrad bench --epochs fixes the epochs per timed run; --optimizer adam times fusegrad rows only', () => {
  const dir = scratchPath('bench-adam');
  const r = fusegrad('bench', '--sizes', '200x3', '--rows', 'fused,cpu32,tfjs-cpu', '--optimizer', 'adam', '--epochs', '7', '--runs', '2', '--results', dir, '--json');
  assert.is(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.is(out.optimizer, 'adam');
  assert.equal(out.rows.map((x: { row: string }) => x.row), ['fusegrad WebGPU (fused)', 'fusegrad CPU float32 (compiled, 1 thread)']);
  for (const x of out.rows) assert.is(x.epochsPerRun, 7);
  const bad = fusegrad('bench', '--rows', 'cuda');
  assert.is(bad.code, 2);
  assert.match(bad.err, /--rows: "cuda" is not one of fused, per-node/);
  // A results folder that cannot be made is refused before the benchmark runs.
  const nowhere = fusegrad('bench', '--sizes', '200x3', '--rows', 'cpu32', '--results', '/dev/null/results');
  assert.is(nowhere.code, 2);
  assert.match(nowhere.err, /--results \/dev\/null\/results: cannot write there \(ENOTDIR\)/);
  assert.not.match(nowhere.err, /fusegrad CPU float32|\n\s+at /, 'nothing ran, no stack trace');
});

test.run();
