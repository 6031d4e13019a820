import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { assertClose, cpu64, webgpu } from './helpers.js';
import { fitRegression } from '../regression/fit.js';
import { parseTable, selectColumns } from '../regression/data.js';
import { fusegrad, scratch, scratchPath } from './cli-helpers.js';

const MPG = 'examples/data/auto-mpg.csv';

function fitJson(...args: string[]) {
  const r = fusegrad('fit', ...args, '--json');
  assert.is(r.code, 0, r.err);
  return JSON.parse(r.out); // the whole of stdout is one JSON object
}

test('fit --json: the schema, and the closed-form line reproduced to 4 significant digits on WebGPU and the CPU', () => {
  for (const device of ['webgpu', 'cpu']) {
    const o = fitJson(MPG, '--y', 'mpg', '--x', 'displacement', '--standardize', '--lr', '0.01', '--epochs', '1000', '--device', device);
    assert.is(o.device.backend, device);
    assert.type(o.device.adapter, 'string');
    assert.equal(o.features, ['displacement']);
    assert.equal(o.targets, ['mpg']);
    assert.is(o.n, 398);
    assert.is(o.epochs, 1000);
    assert.is(o.history.loss.length, 1000);
    assert.type(o.finalLoss, 'number');
    assert.is(o.params.weight.length, 1);
    assert.is(o.coefficients.weight[0].length, 1);
    assert.type(o.timing.msPerEpoch, 'number');
    assert.type(o.timing.dispatchesPerEpoch, 'number');
    const [c0, c1] = o.closedForm[0].coef;
    const sig4 = (a: number, b: number) => Math.abs(a - b) <= 5e-5 * Math.abs(b);
    assert.ok(sig4(o.coefficients.bias[0], c0), `${device} intercept ${o.coefficients.bias[0]} vs ${c0}`);
    assert.ok(sig4(o.coefficients.weight[0][0], c1), `${device} slope ${o.coefficients.weight[0][0]} vs ${c1}`);
    // The closed form is the textbook line for the 398 cars.
    assert.ok(Math.abs(c0 - 35.17475) < 1e-5 && Math.abs(c1 + 0.0602828) < 1e-6, `closed form ${c0}, ${c1}`);
    // Standardized: the loss of z-scores starts at 1 (zero weights) and ends at 1 - R².
    assert.ok(Math.abs(o.history.loss[0] - 1) < 1e-5);
    assert.ok(Math.abs(o.finalLoss - (1 - o.closedForm[0].r2)) < 1e-6, `final loss ${o.finalLoss} vs 1 - R² ${1 - o.closedForm[0].r2}`);
  }
});

test('fit on WebGPU matches the float64 CPU run epoch by epoch (Adam, minibatches, shuffle, validation split)', () => {
  const args = [MPG, '--y', 'mpg', '--x', 'displacement,weight,acceleration', '--standardize', '--optimizer', 'adam', '--lr', '0.05', '--epochs', '200', '--batch-size', '64', '--shuffle', '--seed', '3', '--valid-frac', '0.25'];
  const gpu = fitJson(...args, '--device', 'webgpu');
  const cpu = fitJson(...args, '--device', 'cpu');
  assert.is(gpu.validRows, 100);
  assert.is(gpu.n, 298);
  assertClose(gpu.history.loss, cpu.history.loss, 1e-4, 'training loss');
  assertClose(gpu.history.validLoss, cpu.history.validLoss, 1e-4, 'validation loss');
  assertClose(gpu.coefficients.weight[0], cpu.coefficients.weight[0], 1e-4, 'coefficients');
  assert.is(gpu.timing.submits, 1);
  assert.is(gpu.timing.readbacks, 1);
});

test('fit prints the loss, a chart and the coefficient table; --save and predict; --plot writes SVG and PNG', () => {
  const model = scratchPath('mpg-model.json');
  const svg = scratchPath('mpg.svg');
  const r = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'displacement', '--standardize', '--lr', '0.05', '--epochs', '300', '--save', model, '--plot', svg, '--valid-frac', '0.2');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /fusegrad fit: mpg ~ displacement from examples\/data\/auto-mpg\.csv/);
  assert.match(r.out, /318 training rows, 80 validation rows/);
  assert.match(r.out, /epoch\s+300\s+loss\s+[\d.]+\s+validation\s+[\d.]+/);
  assert.match(r.out, /log10\(training loss\) by epoch/);
  assert.match(r.out, /coefficient\s+gradient descent\s+closed form\s+std err\s+95% interval\s+standardized/);
  assert.match(r.out, /displacement\s+-0\.06\d+\s+-0\.06\d+/);
  const text = readFileSync(svg, 'utf8');
  assert.match(text, /^<svg/);
  for (const name of ['training loss', 'validation loss', 'closed form', 'gradient descent']) assert.ok(text.includes(name), name);
  const saved = JSON.parse(readFileSync(model, 'utf8'));
  assert.is(saved.format, 'fusegrad-linear-1');
  const newRows = scratch('new-cars.csv', 'displacement,name\n100,small\n400,large\n,unknown\n');
  const p = fusegrad('predict', model, newRows);
  assert.is(p.code, 0, p.err);
  const lines = p.out.trim().split('\n');
  assert.is(lines[0], 'displacement,predicted_mpg');
  const predicted = Number(lines[1]!.split(',')[1]);
  assert.ok(Math.abs(predicted - (saved.bias[0] + 100 * saved.weight[0][0])) < 1e-9);
  assert.is(lines[3], ',', 'a missing input gives an empty prediction');
  const png = scratchPath('mpg.png');
  assert.is(fusegrad('fit', MPG, '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '20', '--plot', png).code, 0);
  assert.equal([...readFileSync(png).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'PNG signature');
});

test('polynomial features, several targets, and --init from a file', () => {
  const o = fitJson(MPG, '--y', 'mpg', '--x', 'horsepower', '--poly', '2', '--standardize', '--epochs', '2000', '--lr', '0.1', '--device', 'cpu');
  assert.equal(o.features, ['horsepower', 'horsepower^2']);
  assert.is(o.dropped, 6);
  o.closedForm[0].coef.slice(1).forEach((c: number, j: number) => assert.ok(Math.abs(o.coefficients.weight[0][j] - c) < 2e-3 * Math.abs(c), `term ${j}: ${o.coefficients.weight[0][j]} vs ${c}`));
  const two = fitJson(MPG, '--y', 'mpg,acceleration', '--x', 'weight', '--standardize', '--epochs', '500', '--lr', '0.1', '--device', 'webgpu');
  assert.equal(two.targets, ['mpg', 'acceleration']);
  assert.is(two.closedForm.length, 2);
  const init = scratch('init.json', JSON.stringify({ weight: [[0.5]], bias: [0.25] }));
  const i = fitJson(MPG, '--y', 'mpg', '--x', 'weight', '--standardize', '--epochs', '1', '--lr', '0.1', '--init', init, '--device', 'cpu');
  // z-scores: mean((0.5 z_x + 0.25 - z_y)²) = 0.25 + 0.0625 + 1 - 2 (0.5) r, with r = corr(weight, mpg) = -0.8317.
  assert.ok(Math.abs(i.history.loss[0] - (1 + 0.25 + 0.25 ** 2 - 2 * 0.5 * -0.8317)) < 1e-3, `first loss from the given start: ${i.history.loss[0]}`);
});

test('bad input: each case exits 2 with a message that names the file, the column and the row', () => {
  const cases: [string[], RegExp][] = [
    [[MPG, '--y', 'mpg', '--x', 'origin'], /auto-mpg\.csv: column "origin" is not numeric: line 2 has "USA"/],
    [[MPG, '--y', 'mileage'], /--y names column "mileage", which the file does not have \(it has mpg, cylinders/],
    [[scratch('empty.csv', ''), '--y', 'y'], /empty\.csv: the file is empty/],
    [[scratch('header.csv', 'y,x\n'), '--y', 'y'], /header\.csv: the header has no data rows under it/],
    [[scratch('tiny.csv', 'y,a,b\n1,2,3\n4,5,7\n'), '--y', 'y'], /2 training rows cannot determine 3 coefficients per target \(const, a, b\)/],
    [[scratch('constant.csv', 'y,a,c\n1,2,5\n2,3,5\n4,1,5\n3,7,5\n'), '--y', 'y', '--standardize'], /--standardize: x column "c" is constant \(every value is 5\)/],
    [[scratch('ragged.csv', 'y,a\n1,2\n3\n'), '--y', 'y'], /ragged\.csv: line 3 has 1 fields, the header has 2/],
    [[MPG, '--y', 'mpg', '--x', 'weight,horsepower', '--poly', '2'], /--poly expands one x column, got 2/],
    [[MPG, '--y', 'mpg', '--lr', 'fast'], /--lr: expected a number, got "fast"/],
    [[MPG, '--y', 'mpg', '--optimizer', 'lbfgs'], /--optimizer: expected one of sgd, adam, adamw, got "lbfgs"/],
    [[MPG, '--y', 'mpg', '--lr', '0'], /sgd: lr must be in \(0, Infinity\), got 0/],
    [[MPG, '--y', 'mpg', '--weight-decay=-1'], /sgd: weightDecay must be in \[0, Infinity\), got -1/],
    [[MPG, '--y', 'mpg', '--momentum=-0.5'], /sgd: momentum must be in \[0, Infinity\), got -0.5/],
    [[scratchPath('absent.csv'), '--y', 'y'], /absent\.csv: cannot read the file \(ENOENT\)/],
    [[MPG, '--y', 'mpg', '--valid-frac', '1.5'], /--valid-frac: expected a fraction in \[0, 1\), got 1\.5/],
    // Output files that cannot be written are refused before training, not after.
    [[MPG, '--y', 'mpg', '--save', '/nonexistent-dir/m.json'], /--save \/nonexistent-dir\/m\.json: cannot write there: the folder \/nonexistent-dir does not exist/],
    [[MPG, '--y', 'mpg', '--plot', '/nonexistent-dir/p.svg'], /--plot \/nonexistent-dir\/p\.svg: cannot write there: the folder \/nonexistent-dir does not exist/],
    [[MPG, '--y', 'mpg', '--save', 'test'], /--save test: cannot write there: it is a folder/],
  ];
  for (const [args, re] of cases) {
    const r = fusegrad('fit', ...args);
    assert.is(r.code, 2, `${args.join(' ')}: exit code (stderr: ${r.err})`);
    assert.match(r.err, re);
    assert.not.match(r.err, /\n\s+at /, 'no stack trace');
    assert.is(r.out, '', 'nothing on stdout');
  }
  const json = scratch('records.json', JSON.stringify([{ y: 1, x: 2 }, { y: 2, x: 'two' }]));
  const j = fusegrad('fit', json, '--y', 'y', '--x', 'x');
  assert.is(j.code, 2);
  assert.match(j.err, /records\.json: column "x" is not numeric: record 2 has "two"/, 'records counted from 1, as lines are');
});

test('options read as something else: a seed past 32 bits, null or text in --init, a split with no row; each named', () => {
  const cases: [string[], RegExp][] = [
    [[MPG, '--y', 'mpg', '--seed', '4294967296'], /--seed: expected an integer in \[0, 4294967295\] \(the shuffle's seed is 32-bit\), got 4294967296/],
    [[MPG, '--y', 'mpg', '--x', 'weight', '--init', scratch('null-init.json', '{"weight": [[null]], "bias": [0]}')], /--init: weight\[0\]\[0\] is null, not a finite number/],
    [[MPG, '--y', 'mpg', '--x', 'weight', '--init', scratch('string-init.json', '{"weight": [["88"]], "bias": [0]}')], /--init: weight\[0\]\[0\] is "88", not a finite number/],
    [[MPG, '--y', 'mpg', '--x', 'weight', '--valid-frac', '0.001'], /--valid-frac 0\.001 of 398 rows rounds to no validation row; use at least 0\.00251 \(one row of 398\), or leave it out/],
  ];
  for (const [args, re] of cases) {
    const r = fusegrad('fit', ...args);
    assert.is(r.code, 2, `${args.join(' ')}: exit code (stderr: ${r.err})`);
    assert.match(r.err, re);
    assert.not.match(r.err, /\n\s+at /, 'no stack trace');
    assert.is(r.out, '', 'nothing on stdout');
  }
});

test('values a float32 device cannot hold are refused before any work, naming the value; float64 on the CPU takes them', () => {
  const huge = scratch('huge.csv', 'y,x\n1,1\n2,2\n1e39,3\n4,4\n');
  const r = fusegrad('fit', huge, '--y', 'y', '--x', 'x', '--device', 'webgpu');
  assert.is(r.code, 2, r.err);
  assert.match(r.err, /column "y" at line 4 is 1e\+39, beyond float32 \(the largest it holds is ±3\.4028e38\), which WebGPU computes in; rescale the data \(--standardize\) or train in float64 on the CPU backend \(--device cpu\)/);
  assert.not.match(r.err, /learning rate/);
  const init = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'weight', '--init', scratch('init-1e40.json', '{"weight": [[1e40]], "bias": [0]}'), '--device', 'webgpu');
  assert.is(init.code, 2, init.err);
  assert.match(init.err, /--init: the starting value 1e\+40 is beyond float32/);
  // Values float32 holds whose squared errors it cannot sum.
  const squares = fusegrad('fit', scratch('squares.csv', 'y,x\n1e20,1\n2e20,2\n3e20,3\n4e20,4\n'), '--y', 'y', '--x', 'x', '--device', 'webgpu');
  assert.is(squares.code, 2, squares.err);
  assert.match(squares.err, /at the start, the squared errors over the 4 training rows sum to 3\.00e\+41, beyond float32/);
  const cpu = fusegrad('fit', huge, '--y', 'y', '--x', 'x', '--device', 'cpu', '--standardize', '--epochs', '5');
  assert.is(cpu.code, 0, cpu.err);
});

test('fit reports compiling apart from training', () => {
  const r = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '50', '--device', 'webgpu');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /\ncompiled in [\d.]+ ms \(planning, pipelines, the driver's shader compilation\)\ntrained in [\d.]+ ms \(/);
  const o = fitJson(MPG, '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '50', '--device', 'webgpu');
  assert.type(o.timing.compileMs, 'number');
  assert.type(o.timing.ms, 'number');
});

test('missing values: rows with one are dropped and counted', () => {
  const r = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'horsepower', '--standardize', '--epochs', '10', '--device', 'cpu');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /392 training rows; dropped 6 rows with a missing value \(line 34, line 128, line 332, line 338, line 356, \.\.\.\)/);
  assert.ok(!existsSync(scratchPath('never-written.json')));
});

test('a learning rate that diverges fails the fit: exit 3, nothing saved, the epoch as printed, an honest final loss', () => {
  const model = scratchPath('diverged-model.json');
  const r = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'weight', '--lr', '0.1', '--epochs', '500', '--save', model);
  assert.is(r.code, 3, r.err);
  assert.match(r.err, /fusegrad fit: the training diverged: the loss (became (NaN|Infinity)|grew to [\d.e+]+) at epoch \d+.* training stopped there\. The learning rate \(0\.1\) is probably too large.* Nothing was saved to .*diverged-model\.json\./);
  assert.not.ok(existsSync(model), 'a diverged model is not saved');
  assert.match(r.out, /epoch\s+\d+\s+loss/, 'the report shows the loss curve');
  assert.not.match(r.out, /coefficient\s+gradient descent|NaN/, 'and no coefficients from an exploded model');
  assert.not.match(r.err, /\n\s+at /, 'no stack trace');
  const j = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'weight', '--lr', '0.1', '--epochs', '500', '--json');
  assert.is(j.code, 3, j.err);
  const o = JSON.parse(j.out);
  const printed = Number(/at epoch (\d+)/.exec(o.diverged.message)![1]);
  assert.is(o.diverged.epoch, printed, 'diverged.epoch is the epoch the message prints');
  assert.is(o.history.loss.length, o.diverged.epoch, "and the history's last entry");
  assert.is(o.epochs, o.diverged.epoch);
  assert.ok(typeof o.finalLoss === 'string' || o.finalLoss > 1e6 * o.history.loss[0], `finalLoss is the exploded model's loss, not null: ${o.finalLoss}`);
});

test('a fit trained in chunks (the page, the progress bar) reports the divergence at the epoch its curve shows', async () => {
  const sel = selectColumns(parseTable(MPG, readFileSync(MPG, 'utf8')), ['mpg'], ['displacement']);
  for (const backend of [await webgpu(), cpu64()]) {
    // Standardized, a rate just past the stable limit of 1: the loss grows x1.2 an epoch and passes
    // a million times its start in the second of 20 chunks of 50 epochs.
    const r = await fitRegression(sel.X, sel.Y, sel.features, sel.targets, backend, { standardize: true, lr: 1.05, epochs: 1000, chunks: 20 });
    assert.ok(r.diverged, backend.kind);
    assert.ok(r.diverged!.epoch > 50, `${backend.kind}: past the first chunk (${r.diverged!.epoch})`);
    assert.is(r.history.loss.length, r.diverged!.epoch, `${backend.kind}: the curve ends at the epoch reported`);
    assert.match(r.diverged!.message, new RegExp(`at epoch ${r.diverged!.epoch},`), `${backend.kind}: the message names it too: ${r.diverged!.message}`);
  }
});

test('runaway growth short of overflow is a divergence too, in a fit, a sweep and a bootstrap', () => {
  // Raw weights (~3000 lb): the stable rate is about 2 / (2 E[x²]) = 1e-7; just past it the loss
  // grows geometrically and would stay finite for hundreds of epochs.
  const fit = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'weight', '--lr', '1.2e-7', '--epochs', '60', '--json');
  assert.is(fit.code, 3, fit.err);
  const o = JSON.parse(fit.out);
  assert.is(o.diverged.reason, 'runaway');
  assert.ok(Number.isFinite(o.diverged.loss) && o.diverged.loss > 1e6 * o.history.loss[0], `${o.diverged.loss}`);
  assert.match(o.diverged.message, /grew to .* more than 1e6 times its reference [\d.e+-]+ \(the larger of its first value since the data or parameters were written and the targets' mean square over 1e6\)/);
  // A sweep whose first setting diverged: its table prints no exploded coefficients, and --save,
  // which keeps that setting's model, saves nothing.
  const saved = scratchPath('sweep-model.json');
  const first = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'displacement', '--standardize', '--lr', '3,0.1', '--epochs', '50', '--save', saved);
  assert.is(first.code, 3, first.err);
  assert.match(first.err, /the sweep's first setting \(lr 3\), the model --save keeps, diverged: .* Nothing was saved to/);
  assert.not.ok(existsSync(saved));
  assert.match(first.out, /^const\s+diverged\s+35\.17475/m);
  assert.not.match(first.out, /NaN|Infinity/);
  for (const device of ['webgpu', 'cpu']) {
    const sweep = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'weight', '--lr', '1e-8,1.2e-7', '--epochs', '60', '--json', '--device', device);
    assert.is(sweep.code, 0, `${device}: one setting diverging is a result of the sweep (${sweep.err})`);
    const s = JSON.parse(sweep.out).sweep;
    assert.is(s[0].diverged, null);
    assert.match(s[1].diverged, /grew to .* more than 1e6 times/, device);
    // Resamples differ in scale: a rate well past the limit for every one of them.
    const boot = fusegrad('fit', MPG, '--y', 'mpg', '--x', 'weight', '--lr', '3e-7', '--epochs', '60', '--bootstrap', '20', '--device', device, '--json');
    assert.is(boot.code, 3, `${device}: ${boot.err}`);
    assert.match(boot.err, /the training diverged/);
    assert.is(JSON.parse(boot.out).bootstrap.diverged, 20, `${device}: every replicate is flagged, none summarized`);
  }
});


test('the remaining fit options on WebGPU and the CPU: momentum, weight decay, --init normal, --log-every; predict --json', () => {
  const args = [MPG, '--y', 'mpg', '--x', 'weight,acceleration', '--standardize', '--momentum', '0.9', '--weight-decay', '0.01', '--init', 'normal', '--seed', '5', '--lr', '0.01', '--epochs', '120'];
  const gpu = fitJson(...args, '--device', 'webgpu');
  const cpu = fitJson(...args, '--device', 'cpu');
  assertClose(gpu.history.loss, cpu.history.loss, 1e-4, 'loss with momentum, weight decay and a normal start');
  assert.ok(gpu.history.loss[0] > 1.2, `a random start is worse than zeros (loss ${gpu.history.loss[0]})`);
  assert.equal(gpu.optimizer.hyper, { lr: 0.01, momentum: 0.9, dampening: 0, nesterov: 0, weightDecay: 0.01 });
  const text = fusegrad('fit', ...args, '--log-every', '40', '--device', 'cpu');
  assert.is(text.code, 0, text.err);
  assert.equal([...text.out.matchAll(/^\s+epoch\s+(\d+)\s+loss/gm)].map((m) => Number(m[1])), [1, 40, 80, 120]);
  const model = scratchPath('two.json');
  assert.is(fusegrad('fit', MPG, '--y', 'mpg', '--x', 'horsepower', '--poly', '2', '--standardize', '--epochs', '50', '--save', model).code, 0);
  const p = fusegrad('predict', model, scratch('hp.csv', 'horsepower\n100\n'), '--json');
  const saved = JSON.parse(readFileSync(model, 'utf8'));
  const [row] = JSON.parse(p.out);
  assert.ok(Math.abs(row.predicted_mpg - (saved.bias[0] + saved.weight[0][0] * 100 + saved.weight[0][1] * 100 ** 2)) < 1e-9, 'the polynomial terms are rebuilt from the column');
});

test('on a terminal a long run shows a progress bar, and training in chunks gives the same numbers', async () => {
  const args = ['fit', MPG, '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '20000', '--lr', '0.001', '--device', 'webgpu'];
  const quoted = ['node', 'dist/cli.js', ...args].map((a) => `'${a}'`).join(' ');
  const tty = spawnSync('script', ['-qec', quoted, '/dev/null'], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
  assert.is(tty.status, 0, tty.stderr);
  assert.match(tty.stdout, /training \[.*\] \d+\/20000 epochs/);
  const plain = fusegrad(...args);
  const final = (s: string) => /epoch\s+20000\s+loss\s+([\d.]+)/.exec(s)![1];
  assert.is(final(tty.stdout), final(plain.out), 'the same final loss with and without the bar');
  assert.match(tty.stdout, /20 submits\); final training loss/);
});

test.run();
