import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

function fusegrad(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('fusegrad explain prints the graphs, the plan and the WGSL of every pipeline', () => {
  const r = fusegrad('explain', '--device', 'webgpu');
  assert.is(r.code, 0, r.err);
  for (const part of ['== forward graph ==', '== backward graph (added by autograd) ==', '== kernel plan on ', 'plan: tiny', '--- dispatch 0: linear_mse_tiny.wgsl', 'fn optimizer_step']) {
    assert.ok(r.out.includes(part), `missing "${part}"`);
  }
});

test('fusegrad explain for a large problem shows the two fused kernels', () => {
  const r = fusegrad('explain', '--rows', '20000', '--features', '4', '--targets', '1', '--optimizer', 'adam', '--device', 'webgpu');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /plan: fused \(2 dispatches per epoch\)/);
  assert.match(r.out, /--- dispatch 0: linear_mse_partials\.wgsl/);
  assert.match(r.out, /--- dispatch 1: linear_mse_update\.wgsl/);
});

test('bad usage exits 2 with a message naming the option; an unknown command lists the commands', () => {
  const r = fusegrad('explain', '--rows', 'ten');
  assert.is(r.code, 2);
  assert.match(r.err, /--rows: expected a number, got "ten"/);
  const p = fusegrad('explain', '--plan', 'fastest');
  assert.is(p.code, 2);
  assert.match(p.err, /--plan: expected one of auto, fused, tiny, per-node, got "fastest"/);
  const t = fusegrad('explain', '--rows', '100000', '--plan', 'tiny', '--device', 'webgpu');
  assert.is(t.code, 2, 'a plan the device refuses is a message, not a crash');
  assert.match(t.err, /plan "tiny": 100000 rows x 9 sums exceed one workgroup's budget \(65536\); use "fused" or "auto"/);
  assert.not.match(t.err, /\n\s+at /, 'no stack trace');
  const u = fusegrad('frobnicate');
  assert.is(u.code, 2);
  assert.match(u.err, /unknown command "frobnicate"/);
});

test('FUSEGRAD_DEBUG=1 writes a summary to stderr and leaves stdout alone', () => {
  const quiet = fusegrad('explain', '--device', 'webgpu');
  const r = spawnSync(process.execPath, ['dist/cli.js', 'explain', '--device', 'webgpu'], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', FUSEGRAD_DEBUG: '1' }, encoding: 'utf8' });
  assert.match(r.stderr, /fusegrad: compiled the tiny plan on .*: 1 dispatch per 5000 epochs/);
  assert.is(r.stdout, quiet.out);
});

test.run();
