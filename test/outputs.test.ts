import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeAtomic } from '../cli/atomic.js';
import { fusegrad, scratch, scratchPath } from './cli-helpers.js';

// Files fusegrad writes are whole or untouched; signals end a run cleanly; a run's length is no
// accident of the stack; the fit command's lesser edges (repeated options, --init of a saved model).

const CLI = resolve('dist/cli.js');
const env = { ...process.env, XDG_RUNTIME_DIR: '/tmp' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Five rows, y = 2x + noise: a fit of any length is quick on it. */
const tiny = () => scratch('tiny.csv', 'x,y\n1,2.1\n2,3.9\n3,6.2\n4,8.1\n5,9.8\n');
/** x far from 0 and y with a spread far from 1, so that z-scores and data units differ a lot. */
const wide = () => scratch('units.csv', `x,y\n${Array.from({ length: 40 }, (_, i) => `${100 + 3 * i},${7 + 4.5 * (100 + 3 * i) + ((i * 37) % 11) - 5}`).join('\n')}\n`);

const OLD_MODEL = '{"format": "fusegrad-linear-1", "old": true}\n';

/** A folder on a 64 KiB tmpfs, filled to the last byte but for `old` (the model already there). */
function fullDisk(name: string): { dir: string; unmount: () => void } {
  const dir = scratchPath(name);
  mkdirSync(dir, { recursive: true });
  // The test needs a file system that runs out of space; root can mount one (the suite runs as root).
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  writeFileSync(join(dir, 'model.json'), OLD_MODEL);
  writeFileSync(join(dir, 'plot.svg'), '<svg>old</svg>\n');
  const filler = Buffer.alloc(4096, 120);
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(dir, `filler-${i}`), filler);
    } catch {
      break;
    }
  }
  // The last partial block too: not one byte is left.
  try {
    writeFileSync(join(dir, 'filler-last'), Buffer.alloc(1, 120), { flag: 'a' });
  } catch {
    // Full already.
  }
  return { dir, unmount: () => execFileSync('umount', [dir]) };
}

const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

test('writeAtomic on a full disk: the old bytes stay, the temporary is removed, the error is thrown', () => {
  const { dir, unmount } = fullDisk('atomic-full');
  try {
    const file = join(dir, 'model.json');
    assert.throws(() => writeAtomic(file, 'x'.repeat(200_000)), /ENOSPC/);
    assert.is(readFileSync(file, 'utf8'), OLD_MODEL);
    assert.equal(temps(dir), []);
  } finally {
    unmount();
  }
  // And where there is room, the new bytes replace the old at once.
  const file = scratch('atomic-ok.json', 'old');
  writeAtomic(file, 'new');
  assert.is(readFileSync(file, 'utf8'), 'new');
});

test('fit on a full disk: --save and --plot keep their old bytes, the report is printed, each failure named, exit 4', () => {
  const data = tiny();
  const { dir, unmount } = fullDisk('fit-full');
  try {
    const r = fusegrad('fit', data, '--y', 'y', '--device', 'cpu', '--epochs', '20', '--save', join(dir, 'model.json'), '--plot', join(dir, 'plot.svg'));
    assert.is(r.code, 4, r.err);
    assert.match(r.out, /coefficient +gradient descent/);
    assert.match(r.err, new RegExp(`--save ${join(dir, 'model.json')}: the write failed \\(.*ENOSPC.*\\); the file keeps what it held before`));
    assert.match(r.err, new RegExp(`--plot ${join(dir, 'plot.svg')}: the write failed`));
    assert.is(readFileSync(join(dir, 'model.json'), 'utf8'), OLD_MODEL);
    assert.is(readFileSync(join(dir, 'plot.svg'), 'utf8'), '<svg>old</svg>\n');
    assert.equal(temps(dir), []);
  } finally {
    unmount();
  }
});

test('bench --results on a full disk: no empty or partial results file, the table printed, each failure named, exit 4', () => {
  const { dir, unmount } = fullDisk('bench-full');
  try {
    const r = fusegrad('bench', '--sizes', '200x3', '--rows', 'cpu32', '--runs', '1', '--target-ms', '10', '--results', dir);
    assert.is(r.code, 4, r.err);
    assert.match(r.out, /\| size +\| row +\| ms\/epoch \(median\)/);
    for (const ext of ['json', 'md', 'svg']) assert.match(r.err, new RegExp(`--results ${dir}/[^ ]+-bench\\.${ext}: the write failed \\(.*ENOSPC`));
    // What was there before stays; nothing new was left behind, whole or in part.
    assert.is(readFileSync(join(dir, 'model.json'), 'utf8'), OLD_MODEL);
    assert.equal(readdirSync(dir).filter((f) => f.includes('-bench')), []);
    assert.equal(temps(dir), []);
  } finally {
    unmount();
  }
});

test('a failed --plot keeps the --json object and the --save that succeeded', () => {
  const data = tiny();
  const save = scratchPath('kept-model.json');
  rmSync(save, { force: true });
  const { dir, unmount } = fullDisk('plot-full');
  try {
    const r = fusegrad('fit', data, '--y', 'y', '--device', 'cpu', '--epochs', '20', '--json', '--save', save, '--plot', join(dir, 'plot.png'));
    assert.is(r.code, 4, r.err);
    const json = JSON.parse(r.out);
    assert.is(json.epochs, 20);
    assert.match(r.err, /--plot .*plot\.png: the write failed/);
    assert.is(JSON.parse(readFileSync(save, 'utf8')).format, 'fusegrad-linear-1');
    assert.equal(temps(dir), []);
  } finally {
    unmount();
  }
});

test('an output that names an input is refused before any work: --save data.csv, --save of the --init model', () => {
  const data = tiny();
  const before = readFileSync(data, 'utf8');
  const r = fusegrad('fit', data, '--y', 'y', '--device', 'cpu', '--save', data);
  assert.is(r.code, 2);
  assert.match(r.err, /--save .*tiny\.csv: that is the data file this command reads; write to another file/);
  assert.is(readFileSync(data, 'utf8'), before);
  const model = scratchPath('init-model.json');
  assert.is(fusegrad('fit', data, '--y', 'y', '--device', 'cpu', '--epochs', '5', '--save', model).code, 0);
  const again = fusegrad('fit', data, '--y', 'y', '--device', 'cpu', '--init', model, '--save', model);
  assert.is(again.code, 2);
  assert.match(again.err, /that is the --init model this command reads/);
});

/** Starts fit on `data` with --save pointing at a file holding OLD_MODEL; resolves its pid and exit. */
function start(name: string, data: string, args: string[]) {
  const save = scratch(`${name}.json`, OLD_MODEL);
  const child = spawn(process.execPath, [CLI, 'fit', data, '--y', 'y', ...args, '--save', save], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }>((done) => child.on('close', (code, signal) => done({ code, signal, err })));
  return { pid: child.pid!, save, exit, kill: (s: NodeJS.Signals) => child.kill(s) };
}

const children = (pid: number): number[] => {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
};
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

// Long enough to be killed mid-run: 2000000 epochs of 1000 rows take several seconds on either
// backend here (the compiled CPU plan does 200000 in under a second, lavapipe 60000 in 0.35 s). A
// child left running is caught by the liveness check below whether or not it gets as far as writing.
const LONG = ['--epochs', '2000000', '--lr', '0.01'];
const rows = (n: number) => scratch(`rows-${n}.csv`, `x,y\n${Array.from({ length: n }, (_, i) => `${(i % 97) / 25},${(2 * (i % 97)) / 25 + 1 + ((i * 31) % 7) / 70}`).join('\n')}\n`);

for (const device of ['webgpu', 'cpu'] as const) {
  test(`kill -9 of fit (${device}): its child ends at once and never writes the --save file`, async () => {
    const run = start(`killed-${device}`, rows(1000), [...LONG, '--device', device]);
    let kids: number[] = [];
    for (let i = 0; i < 50 && !kids.length; i++) {
      await sleep(50);
      kids = children(run.pid);
    }
    assert.ok(kids.length, 'fit runs its work in a child process');
    await sleep(800);
    run.kill('SIGKILL');
    assert.is((await run.exit).signal, 'SIGKILL', 'the run was still going when it was killed');
    // The child notices within its watchdog's period (a quarter second), even in a synchronous CPU run.
    for (let i = 0; i < 40 && kids.some(alive); i++) await sleep(100);
    assert.ok(!kids.some(alive), `the child (${kids.join(', ')}) outlived its parent`);
    await sleep(1000);
    assert.is(readFileSync(run.save, 'utf8'), OLD_MODEL);
  });
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`${signal} to the parent's pid ends the run: exit ${code}, what was interrupted with the epochs done, --save untouched`, async () => {
    // Ten million epochs of 1000 rows (most of a minute of a synchronous CPU run), interrupted once
    // its child is training.
    const run = start(`signal-${signal}`, rows(1000), ['--epochs', '10000000', '--lr', '0.01', '--device', 'cpu']);
    for (let i = 0; i < 100 && !children(run.pid).length; i++) await sleep(50);
    await sleep(1500);
    run.kill(signal);
    const r = await run.exit;
    assert.is(r.code, code, r.err);
    assert.match(r.err, new RegExp(`fusegrad fit: interrupted by ${signal} while training: \\d+ of 10000000 epochs done`), r.err);
    assert.match(r.err, /no file was written/);
    assert.is(readFileSync(run.save, 'utf8'), OLD_MODEL);
    for (const kid of children(run.pid)) assert.ok(!alive(kid), 'no child is left');
  });
}

test('SIGINT and SIGTERM to ols and predict: each runs under a parent that says what was interrupted, exit 130 / 143', async () => {
  // 400000 rows of 6 columns: ols reads and solves for a few seconds, predict streams for as long.
  const data = scratch('signal-rows.csv', `a,b,c,d,e,y\n${Array.from({ length: 400_000 }, (_, i) => `${i % 7},${(i % 1000) / 10},${i % 13},${(i * 7) % 101},${i % 3},${i % 17}`).join('\n')}\n`);
  const model = scratchPath('signal-model.json');
  assert.is(fusegrad('fit', tiny(), '--y', 'y', '--device', 'cpu', '--epochs', '5', '--save', model).code, 0);
  for (const [args, signal, code, what] of [
    [['ols', data, '--y', 'y'], 'SIGINT', 130, /fusegrad ols: interrupted by SIGINT while (reading the data|solving least squares \(400000 rows, 5 columns\)); no file was written/],
    [['predict', model, scratch('signal-x.csv', `x\n${Array.from({ length: 3_000_000 }, (_, i) => i % 97).join('\n')}\n`)], 'SIGTERM', 143, /fusegrad predict: interrupted by SIGTERM while predicting: \d+ rows written/],
  ] as const) {
    const run = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    run.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    const exit = new Promise<number | null>((done) => run.on('close', (c) => done(c)));
    let kids: number[] = [];
    for (let i = 0; i < 100 && !kids.length; i++) {
      await sleep(50);
      kids = children(run.pid!);
    }
    assert.ok(kids.length, `${args[0]} runs its work in a child process`);
    await sleep(1000);
    run.kill(signal);
    assert.is(await exit, code, err);
    assert.match(err, what);
    for (const kid of kids) assert.ok(!alive(kid), 'no child is left');
  }
});

for (const device of ['cpu', 'webgpu']) {
  test(`a 200000-epoch fit (${device}) with stdout and stderr redirected to files completes, as on a terminal`, () => {
    const out = scratchPath(`long-${device}.out`);
    const err = scratchPath(`long-${device}.err`);
    const plot = scratchPath(`long-${device}.svg`);
    const save = scratchPath(`long-${device}.json`);
    const args = [CLI, 'fit', tiny(), '--y', 'y', '--epochs', '200000', '--lr', '0.01', '--device', device, '--valid-frac', '0.2', '--save', save, '--plot', plot];
    const r = spawnSync('bash', ['-c', `"${process.execPath}" ${args.map((a) => `'${a}'`).join(' ')} > '${out}' 2> '${err}'`], { env, timeout: 120_000 });
    assert.is(r.status, 0, readFileSync(err, 'utf8'));
    assert.match(readFileSync(out, 'utf8'), /epoch +200000 +loss/);
    assert.is(readFileSync(err, 'utf8'), '');
    assert.is(JSON.parse(readFileSync(save, 'utf8')).format, 'fusegrad-linear-1');
    assert.match(readFileSync(plot, 'utf8'), /^<svg/);
    const json = fusegrad('fit', tiny(), '--y', 'y', '--epochs', '200000', '--device', device, '--json');
    assert.is(json.code, 0, json.err);
    assert.is(JSON.parse(json.out).history.loss.length, 200000);
  });

  test(`a 200000-epoch bootstrap and sweep (${device}) with stdout and stderr redirected to files complete`, () => {
    for (const [what, extra, table] of [
      ['bootstrap', ['--lr', '0.01', '--bootstrap', '4'], /coefficient +closed form +std err +bootstrap mean/],
      ['sweep', ['--lr', '0.01,0.02'], /lr +final loss +status\n +0\.01 +[\d.]+ +ok\n +0\.02 +[\d.]+ +ok/],
    ] as const) {
      const out = scratchPath(`long-${what}-${device}.out`);
      const err = scratchPath(`long-${what}-${device}.err`);
      const args = [CLI, 'fit', tiny(), '--y', 'y', '--epochs', '200000', '--device', device, ...extra];
      const r = spawnSync('bash', ['-c', `"${process.execPath}" ${args.map((a) => `'${a}'`).join(' ')} > '${out}' 2> '${err}'`], { env, timeout: 120_000 });
      assert.is(r.status, 0, `${what}: ${readFileSync(err, 'utf8')}`);
      assert.match(readFileSync(out, 'utf8'), table, what);
      assert.is(readFileSync(err, 'utf8'), '', what);
    }
  });
}

test('a repeated option is an error naming both values, not the last one kept', () => {
  const r = fusegrad('fit', tiny(), '--y', 'y', '--x', 'x', '--x', 'y', '--device', 'cpu');
  assert.is(r.code, 2);
  assert.match(r.err, /--x is given 2 times \(x, y\); give it once \(where an option takes a list, it goes comma-separated: --x x,y\)/);
  assert.is(fusegrad('ols', tiny(), '--y', 'y', '--y', 'x').code, 2);
});

test('2^32 epochs on WebGPU and on the CPU: a usage error worded for the command, with the numbers', () => {
  const r = fusegrad('fit', tiny(), '--y', 'y', '--epochs', String(2 ** 32), '--device', 'webgpu');
  assert.is(r.code, 2, r.err);
  assert.match(r.err, /--epochs 4294967296: 4294967296 epochs of losses need \d+ bytes on the device, over its binding limit of \d+; give fewer epochs/);
  assert.not.match(r.err, /train\(\)/);
  const cpu = fusegrad('fit', tiny(), '--y', 'y', '--epochs', String(2 ** 32), '--device', 'cpu');
  assert.is(cpu.code, 2, cpu.err);
  assert.match(cpu.err, /--epochs 4294967296: 4294967296 epochs of losses need 34359738368 bytes in memory, over the CPU backend's limit of 1073741824 for one run; give fewer epochs, and to go on, save the model \(--save a\.json\) and start the next run from it/);
  assert.not.match(cpu.err, /train\(\)|\n\s+at /);
});

test('on a terminal, fit says it is compiling, and clears the line when training starts', () => {
  // The child's view of a terminal (cli/child.ts passes the width); stderr itself is a pipe here.
  const r = spawnSync(process.execPath, [CLI, 'fit', tiny(), '--y', 'y', '--device', 'cpu', '--epochs', '10'], { env: { ...env, FUSEGRAD_CLI_CHILD: '1', FUSEGRAD_STDERR_TTY: '80' }, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stderr.includes('fusegrad fit: compiling the model (1 features, 1 target, cpu) ...\r\x1b[2K'), JSON.stringify(r.stderr));
});

test('on a terminal, a bootstrap says so while its replicates compile and train, then the fit says it compiles', () => {
  const r = spawnSync(process.execPath, [CLI, 'fit', tiny(), '--y', 'y', '--device', 'cpu', '--epochs', '10', '--bootstrap', '3'], { env: { ...env, FUSEGRAD_CLI_CHILD: '1', FUSEGRAD_STDERR_TTY: '80' }, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stderr.includes('fusegrad fit: compiling and training 3 bootstrap replicates (1 features, cpu) ...\r\x1b[2Kfusegrad fit: compiling the model (1 features, 1 target, cpu) ...\r\x1b[2K'), JSON.stringify(r.stderr));
});

test('--init with a model saved by --save starts where that model was, in this fit\'s units', () => {
  const data = wide();
  const model = scratchPath('units-model.json');
  const first = fusegrad('fit', data, '--y', 'y', '--standardize', '--lr', '0.1', '--epochs', '500', '--device', 'cpu', '--save', model);
  assert.is(first.code, 0, first.err);
  const saved = JSON.parse(readFileSync(model, 'utf8'));
  // One step of a tiny rate barely moves the parameters: the fit must start at the saved model,
  // standardized or not, whatever units the first fit trained in.
  for (const standardize of [['--standardize'], []]) {
    const r = fusegrad('fit', data, '--y', 'y', ...standardize, '--lr', '1e-12', '--epochs', '1', '--device', 'cpu', '--init', model, '--json');
    assert.is(r.code, 0, r.err);
    const c = JSON.parse(r.out).coefficients;
    assert.ok(Math.abs(c.weight[0][0] - saved.weight[0][0]) < 1e-6 * Math.abs(saved.weight[0][0]), `${standardize}: weight ${c.weight[0][0]} against ${saved.weight[0][0]}`);
    assert.ok(Math.abs(c.bias[0] - saved.bias[0]) < 1e-6 * Math.abs(saved.bias[0]) + 1e-6, `${standardize}: bias ${c.bias[0]} against ${saved.bias[0]}`);
  }
  const other = fusegrad('fit', tiny(), '--y', 'x', '--device', 'cpu', '--init', model);
  assert.is(other.code, 2);
  assert.match(other.err, /--init .*: the saved model predicts y, this fit x/);
});

test.run();
