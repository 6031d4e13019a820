import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { dawnFilter } from '../cli/quiet.js';

function fusegrad(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('fusegrad explain prints the graphs, the plan and the WGSL of every pipeline', () => {
  const r = fusegrad('explain', '--device', 'webgpu');
  assert.is(r.code, 0, r.err);
  for (const part of ['== forward graph ==', '== backward graph (added by autograd) ==', '== kernel plan on ', 'plan: tiny', '.wgsl — every batch of every epoch', 'fn optimizer_step']) {
    assert.ok(r.out.includes(part), `missing "${part}"`);
  }
});

test('fusegrad explain for a large problem shows the two fused kernels', () => {
  const r = fusegrad('explain', '--rows', '20000', '--features', '4', '--targets', '1', '--optimizer', 'adam', '--device', 'webgpu');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /plan: fused \(2 dispatches per epoch\)/);
  assert.match(r.out, /--- dispatch 0: row_pass\.wgsl/);
  assert.match(r.out, /--- dispatch 1: finish\.wgsl/);
});

test('fusegrad explain with many models: a sweep on the single-dispatch plan, a bootstrap on the fused plan', () => {
  const sweep = fusegrad('explain', '--rows', '398', '--features', '1', '--targets', '1', '--lr', '0.1,0.01,0.001', '--device', 'webgpu');
  assert.is(sweep.code, 0, sweep.err);
  assert.match(sweep.out, /sgd, 3 models \(lr 0\.1, 0\.01, 0\.001\)/);
  assert.match(sweep.out, /note: 3 replicates, one workgroup each, each with its own hyperparameters/);
  assert.match(sweep.out, /override constants: .*REPLICATES=3/);
  const boot = fusegrad('explain', '--rows', '2000', '--features', '2', '--targets', '1', '--replicates', '8', '--bootstrap', 'residuals', '--plan', 'fused', '--device', 'webgpu');
  assert.is(boot.code, 0, boot.err);
  assert.match(boot.out, /8 models \(a residual bootstrap\)/);
  assert.match(boot.out, /note: 8 replicates, each over \d+ workgroups of every row pass \(a dispatch \d+ x 8\)/);
  assert.match(boot.out, /row_pass +\d+x8 /);
  assert.match(boot.out, /finish +8x1 /);
  assert.match(boot.out, /training \[X \| Y\], then the residuals \(2000 x 1\)/);
  for (const [args, message] of [
    [['--lr', '0.1,0.2', '--replicates', '3'], /--lr has 2 rates and --replicates is 3: a sweep trains one model per rate/],
    [['--bootstrap', 'pairs'], /--bootstrap: 1 replicate; a bootstrap needs --replicates >= 2/],
    [['--replicates', '2', '--bootstrap', 'wild'], /--bootstrap: expected one of pairs, residuals, got "wild"/],
    [['--lr', '0.1,fast'], /--lr: expected a number, got "fast"/],
    [['--lr', '0.1,-1'], /--lr: expected a positive rate, got -1/],
  ] as const) {
    const r = fusegrad('explain', ...args, '--device', 'webgpu');
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.err, message);
  }
});

test('fusegrad explain --batch-size --shuffle --valid-rows: a network per node in shuffled minibatches, each batch\'s dispatches printed once', () => {
  const r = fusegrad('explain', '--rows', '1000', '--features', '16', '--targets', '1', '--hidden', '64', '--batch-size', '300', '--shuffle', '--valid-rows', '200', '--plan', 'per-node', '--device', 'webgpu');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^fusegrad explain: 1000 rows x 16 features -> 1 targets, a hidden layer of 64 tanh units, batches of 300 shuffled, 200 validation rows, sgd, on webgpu/);
  assert.match(r.out, /note: 4 batches of 300 rows per epoch \(the last of 100\), each gathered from the training set on the device, shuffled every epoch, then its graph's kernels, the loss record and the updates: (\d+) dispatches a batch/);
  const per = Number(/: (\d+) dispatches a batch/.exec(r.out)![1]);
  assert.match(r.out, new RegExp(`\\n  ${per}-${3 * per - 1}: the ${per} dispatches above 2 more times\\n`));
  assert.match(r.out, /gather +\S+ +reads +18\.8 KiB  writes +18\.8 KiB .*\n +%0 input X: the batch's 300 rows \(the epoch's shuffled order\)/);
  assert.match(r.out, /valid_record .*\n +record the validation loss %\d+/);
  const bad = fusegrad('explain', '--batch-size', '0');
  assert.is(bad.code, 2);
  assert.match(bad.err, /--batch-size: expected an integer >= 1, got 0/);
});

test('bad usage exits 2 with a message naming the option; an unknown command lists the commands', () => {
  const r = fusegrad('explain', '--rows', 'ten');
  assert.is(r.code, 2);
  assert.match(r.err, /--rows: expected a number, got "ten"/);
  const p = fusegrad('explain', '--plan', 'fastest');
  assert.is(p.code, 2);
  assert.match(p.err, /--plan: expected one of auto, fused, tiny, per-node, compiled, reference, got "fastest"/);
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

// Dawn's native lines as they come on stderr: on a machine with no Vulkan loader, with a Vulkan
// loader and no driver, and the limits note it prints on every adapter.
const DAWN = [
  "Warning: Couldn't load Vulkan: /lib/x86_64-linux-gnu/libvulkan.so.1: cannot open shared object file: No such file or directory",
  '    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)',
  '',
  'Warning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER',
  '    at CheckVkSuccessImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/VulkanError.cpp:106)',
  '',
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
].join('\n');

test("the filter drops Dawn's lines and passes the rest at once, progress bars included, whatever the chunks", () => {
  const ours = 'fusegrad fit: the training diverged: the loss became NaN at epoch 3\n';
  const bar = '\x1b[1Gtraining [███░░░] 3/6 epochs\x1b[0K';
  const text = `${DAWN}\n${ours}${bar}\n(node:1) Warning: a Node warning keeps its prefix\n`;
  for (const size of [1, 3, 7, 64, text.length]) {
    let out = '';
    const f = dawnFilter((t) => (out += t));
    for (let i = 0; i < text.length; i += size) f.push(text.slice(i, i + size));
    f.end();
    assert.is(out, `${ours}${bar}\n(node:1) Warning: a Node warning keeps its prefix\n`, `chunks of ${size}`);
  }
  // A partial progress bar is written before its line ends: nothing waits for a newline that a bar never sends.
  let out = '';
  const f = dawnFilter((t) => (out += t));
  f.push(bar);
  assert.is(out, bar);
});

test("a normal run shows none of Dawn's native lines; FUSEGRAD_DEBUG shows them", () => {
  const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp', VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' };
  const normal = spawnSync(process.execPath, ['dist/cli.js', 'explain', '--device', 'webgpu'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.is(normal.status, 0, normal.stderr);
  assert.not.match(normal.stderr, /^(Warning|Error):|artificially reduced|vkCreateInstance|\n\s+at /m, normal.stderr);
  assert.match(normal.stderr, /fusegrad: no Vulkan adapter, so WebGPU runs on Dawn's OpenGL ES fallback/, "fusegrad's own notes stay");
  const debug = spawnSync(process.execPath, ['dist/cli.js', 'explain', '--device', 'webgpu'], { env: { ...env, FUSEGRAD_DEBUG: '1' }, encoding: 'utf8', timeout: 60_000 });
  assert.match(debug.stderr, /^Warning: .*(vkCreateInstance|artificially reduced)/m);
  assert.is(debug.stdout, normal.stdout);
  const fit = fusegrad('fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '5', '--device', 'webgpu');
  assert.is(fit.code, 0, fit.err);
  assert.is(fit.err, '', 'a fit on Vulkan writes nothing to stderr');
});

test('explain past the device: a PlanError with the limit and the number, before any WGSL; auto takes one kernel per node', () => {
  const fused = fusegrad('explain', '--targets', '70000', '--plan', 'fused', '--device', 'webgpu');
  assert.is(fused.code, 2, fused.err);
  // Loops keep the code small at any width; what binds is the shared memory of the sums' tree.
  assert.match(fused.err, /^fusegrad explain: plan "fused": 280001 sums over rows need 1120004 bytes of shared memory even for a workgroup of one, and the device allows \d+/);
  assert.not.match(fused.err, /\|\s+(\/\/|fn |var)|\n\s+at /, 'no WGSL listing, no stack trace');
  const auto = fusegrad('explain', '--targets', '70000', '--device', 'webgpu');
  assert.is(auto.code, 0, auto.err);
  assert.match(auto.out, /plan: per-node .*\n(.*\n)*\s+note: not fused: 280001 sums over rows need 1120004 bytes of shared memory/);
});

test.run();
