/**
 * @file `fusegrad fit` with many models at once, as a command: --bootstrap, and sweeps over --lr,
 * --momentum and --weight-decay. The library's replicates are tested in replicas.test.ts, which
 * also runs under Deno.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resampleRow } from '../wgsl/shuffle.js';
import { assertClose } from './helpers.js';
import { synthetic } from '../regression/synthetic.js';
import { residualPool } from '../regression/bootstrap.js';
import { parseTable, selectColumns } from '../regression/data.js';
import { scaling, standardize, unstandardize } from '../regression/features.js';
import { fitLinear } from '../regression/lstsq.js';
import { ols } from '../regression/ols.js';
import { fusegrad, scratch, scratchPath } from './cli-helpers.js';
import { histogram } from '../regression/plot.js';
import { readFileSync } from 'node:fs';

const mpg = selectColumns(parseTable('auto-mpg.csv', readFileSync('examples/data/auto-mpg.csv', 'utf8')), ['mpg'], ['displacement']);
const sd = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
};

/**
 * `fusegrad fit` of mpg ~ displacement with 2000 bootstrap replicates: checks the summary's counts,
 * that the seed reproduces it, and every replicate's coefficients and the SEs against float64
 * refits of the same 2000 resamples (`refit(b)`: replicate b's intercept and slope in mpg units).
 */
async function bootstrapCli(method: 'pairs' | 'residuals', seed: number, refit: (b: number) => [number, number]) {
  const args = ['fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--lr', '0.1', '--epochs', '200', '--bootstrap', '2000', '--bootstrap-method', method, '--seed', String(seed), '--json'];
  const r = fusegrad(...args);
  assert.is(r.code, 0, r.err);
  const o = JSON.parse(r.out);
  const bs = o.bootstrap;
  assert.is(bs.method, method);
  assert.is(bs.replicates, 2000);
  assert.is(bs.diverged, 0);
  assert.is(bs.draws.bias[0].length, 2000, 'every replicate\'s coefficients are in the JSON');
  assert.ok(Math.abs(sd(bs.draws.weight[0][0]) / bs.se.weight[0][0] - 1) < 1e-12, 'the SE is the draws\' standard deviation');
  const fits = Array.from({ length: 2000 }, (_, b) => refit(b));
  const [se0, se1] = [sd(fits.map((f) => f[0])), sd(fits.map((f) => f[1]))];
  // Replicate by replicate: 200 epochs of SGD in float32 land within ~6e-6 of a standard error of
  // the exact answer on lavapipe; 1e-3 of one leaves room for other devices' rounding, while a
  // replicate trained on any other resample is off by about a whole standard error.
  [0, 1].forEach((c) => {
    const got = c ? bs.draws.weight[0][0] : bs.draws.bias[0];
    const worst = Math.max(...fits.map((f, b) => Math.abs(got[b] - f[c]!))) / (c ? se1 : se0);
    assert.ok(worst < 1e-3, `${c ? 'slope' : 'intercept'}: a replicate is ${worst.toExponential(2)} standard errors from its float64 refit`);
  });
  assert.ok(Math.abs(bs.se.bias[0] / se0 - 1) < 1e-3, `intercept: device ${bs.se.bias[0]} vs float64 ${se0}`);
  assert.ok(Math.abs(bs.se.weight[0][0] / se1 - 1) < 1e-3, `slope: device ${bs.se.weight[0][0]} vs float64 ${se1}`);
  assert.equal(JSON.parse(fusegrad(...args).out).bootstrap, bs, 'the same seed gives the same replicates');
  return { bs, closed: o.closedForm[0], text: fusegrad(...args.filter((a) => a !== '--json')).out };
}

test('fit --bootstrap 2000 (pairs, mpg ~ displacement): the slope\'s SE within 10% of the closed form; both equal float64 refits of the same resamples; reproducible', async () => {
  const n = mpg.X.length;
  const { bs, closed, text } = await bootstrapCli('pairs', 1, (b) => {
    const rows = Array.from({ length: n }, (_, p) => resampleRow(1, b, p, n));
    const fit = ols(rows.map((i) => mpg.X[i]!), rows.map((i) => mpg.Y[i]![0]!), ['displacement']);
    return [fit.coef[0]!, fit.coef[1]!];
  });
  // The intercept's pairs-bootstrap SE is ~15% above the classical one on these data: the spread of
  // mpg is widest among small engines, nearest the intercept, and the classical formula assumes one
  // spread for every car (the float64 refits agree).
  assert.ok(Math.abs(bs.se.weight[0][0] / closed.se[1] - 1) < 0.1, `slope: bootstrap se ${bs.se.weight[0][0]} vs closed form ${closed.se[1]}`);
  assert.match(text, /bootstrap: 2000 resamples of the rows trained together/);
});

test('fit --bootstrap 2000 --bootstrap-method residuals (mpg ~ displacement): both SEs within 10% of the closed form; equal to float64 refits of the same resamples; reproducible', async () => {
  // The refits: x standardized as the fit does, y* = fit + resampled modified residuals, coefficients back in data units.
  const sx = scaling(mpg.X, mpg.features, 'x');
  const sy = scaling(mpg.Y, mpg.targets, 'y');
  const tx = standardize(mpg.X, sx);
  const pool = residualPool(tx, standardize(mpg.Y, sy));
  const { bs, closed, text } = await bootstrapCli('residuals', 3, (b) => {
    const ystar = pool.fitted.map((f, row) => [f[0]! + pool.residuals[resampleRow(3, b, row, tx.length)]![0]!]);
    const fit = fitLinear(tx, ystar);
    const u = unstandardize(fit.W, fit.b, sx, sy);
    return [u.b[0]!, u.W[0]![0]!];
  });
  // The bar. With 2000 replicates an SE estimate itself varies by about 1/sqrt(2 x 2000) = 1.6%.
  assert.ok(Math.abs(bs.se.bias[0] / closed.se[0] - 1) < 0.1, `intercept: bootstrap se ${bs.se.bias[0]} vs closed form ${closed.se[0]}`);
  assert.ok(Math.abs(bs.se.weight[0][0] / closed.se[1] - 1) < 0.1, `slope: bootstrap se ${bs.se.weight[0][0]} vs closed form ${closed.se[1]}`);
  assert.match(text, /bootstrap: 2000 residual resamples \(x fixed, y = fit \+ resampled residuals\) trained together/);
  const usage = fusegrad('fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--bootstrap-method', 'wild', '--bootstrap', '10');
  assert.is(usage.code, 2);
  assert.match(usage.err, /--bootstrap-method: expected one of pairs, residuals, got "wild"/);
  const alone = fusegrad('fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--bootstrap-method', 'residuals');
  assert.is(alone.code, 2);
  assert.match(alone.err, /--bootstrap-method needs --bootstrap <B>/);
});

test('fit --bootstrap --plot draws each coefficient\'s bootstrap distribution (a density histogram) over the closed form\'s normal curve', () => {
  const svg = scratchPath('bootstrap.svg');
  const r = fusegrad('fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--lr', '0.1', '--epochs', '100', '--bootstrap', '300', '--plot', svg);
  assert.is(r.code, 0, r.err);
  const text = readFileSync(svg, 'utf8');
  for (const title of ['Loss by epoch', 'mpg against displacement', 'Bootstrap distribution of const', 'Bootstrap distribution of displacement']) assert.ok(text.includes(title), title);
  assert.match(text, /300 bootstrap replicates \(pairs\)/);
  assert.match(text, /closed form: normal\(coef, std err\)/);
  // The histogram: the outline of bars whose area is 1, each bar's height its count over (n x width).
  const values = [0, 0.1, 0.2, 0.2, 0.9, 1];
  const bars = histogram(values, 5);
  assert.equal(bars[0], [0, 0]);
  assert.equal(bars.at(-1), [1, 0]);
  const heights = bars.slice(1, -1).filter((_, i) => i % 2 === 0).map((p) => p[1]);
  assertClose(heights, [2, 2, 0, 0, 2].map((c) => c / (values.length * 0.2)), 1e-12, 'bar heights');
  assertClose([heights.reduce((s, h) => s + 0.2 * h, 0)], [1], 1e-12, 'area');
});

test('fit --bootstrap-method residuals with two targets: the same summaries on WebGPU and on the CPU backend (each target keeps its own residual, drawn jointly by row)', async () => {
  const args = ['fit', 'examples/data/auto-mpg.csv', '--y', 'mpg,horsepower', '--x', 'displacement,weight', '--standardize', '--lr', '0.1', '--epochs', '150', '--bootstrap', '64', '--bootstrap-method', 'residuals', '--seed', '9', '--json'];
  const gpu = fusegrad(...args, '--device', 'webgpu');
  const cpu = fusegrad(...args, '--device', 'cpu');
  assert.is(gpu.code, 0, gpu.err);
  assert.is(cpu.code, 0, cpu.err);
  const [g, c] = [JSON.parse(gpu.out).bootstrap, JSON.parse(cpu.out).bootstrap];
  assert.is(g.replicates, 64);
  for (const key of ['mean', 'se'] as const) {
    for (let t = 0; t < 2; t++) {
      // float32 against float64 over 150 epochs: the coefficients agree to ~1e-5 of their size; an SE
      // is a difference of such values, so 1e-3 of it (a wrong draw moves it by percent).
      assertClose(g[key].weight[t], c[key].weight[t], key === 'se' ? 1e-3 * Math.max(...c.se.weight[t]) : 1e-4, `target ${t}: ${key} of the weights`);
    }
  }
  assertClose(g.se.bias, c.se.bias, 1e-3 * Math.max(...c.se.bias), 'se of the biases');
});

test('fit --bootstrap on 40000 rows (past one workgroup\'s budget) runs on WebGPU and agrees with the CPU backend', () => {
  const n = 40000;
  const big = synthetic(n, 1, 1, 5);
  const csv = scratch('big.csv', `x,y\n${Array.from({ length: n }, (_, i) => `${big.X[i]},${big.Y[i]}`).join('\n')}\n`);
  const args = ['fit', csv, '--y', 'y', '--standardize', '--lr', '0.2', '--epochs', '30', '--bootstrap', '6', '--seed', '4', '--json'];
  const gpu = fusegrad(...args, '--device', 'webgpu');
  const cpu = fusegrad(...args, '--device', 'cpu');
  assert.is(gpu.code, 0, gpu.err);
  assert.is(cpu.code, 0, cpu.err);
  const [g, c] = [JSON.parse(gpu.out).bootstrap, JSON.parse(cpu.out).bootstrap];
  assert.is(g.replicates, 6);
  // Sums of 40000 rows in float32 against float64: ~1e-6 relative per epoch (f32Tol's reasoning).
  assertClose(g.draws.weight[0][0], c.draws.weight[0][0], 1e-4, 'each replicate\'s slope');
  assertClose(g.draws.bias[0], c.draws.bias[0], 1e-4, 'each replicate\'s intercept');
});

test('fit --bootstrap trains every replicate as the fit trains: the same minibatches, shuffle and --init, on both backends', () => {
  const base = ['fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--lr', '0.05', '--epochs', '5', '--bootstrap', '8', '--seed', '2', '--json'];
  const run = (...extra: string[]) => {
    const r = fusegrad(...base, ...extra);
    assert.is(r.code, 0, r.err);
    return JSON.parse(r.out).bootstrap.draws;
  };
  const batched = ['--batch-size', '50', '--shuffle', '--init', 'normal'];
  const [g, c] = [run(...batched, '--device', 'webgpu'), run(...batched, '--device', 'cpu')];
  assertClose(g.weight[0][0], c.weight[0][0], 1e-4, 'slopes, WebGPU against CPU');
  assertClose(g.bias[0], c.bias[0], 1e-4, 'intercepts, WebGPU against CPU');
  // Five epochs are far from converged, so a replicate trained otherwise ends elsewhere.
  const gap = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
  assert.ok(gap(run('--device', 'cpu').bias[0], c.bias[0]) > 1e-3, 'full batches from zeros give other replicates');
  assert.ok(gap(run('--batch-size', '50', '--shuffle', '--device', 'cpu').bias[0], c.bias[0]) > 1e-3, 'so does another start');
});

test('fit --lr a,b --valid-frac: each rate\'s validation curve as when trained alone, on both backends; the table and the plot show them', () => {
  const svg = scratchPath('sweep-valid.svg');
  const base = ['fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement,weight', '--standardize', '--epochs', '60', '--valid-frac', '0.25', '--seed', '3', '--batch-size', '64', '--shuffle'];
  const json = (...extra: string[]) => {
    const r = fusegrad(...base, ...extra, '--json');
    assert.is(r.code, 0, r.err);
    return JSON.parse(r.out);
  };
  const o = json('--lr', '0.1,0.01');
  const cpu = json('--lr', '0.1,0.01', '--device', 'cpu');
  for (const [r, s] of o.sweep.entries()) {
    const alone = json('--lr', String(s.lr));
    assert.is(s.validLoss.length, 60);
    assertClose(s.validLoss, alone.history.validLoss, 1e-4, `lr ${s.lr}: validation curve vs alone`);
    assertClose(s.loss, alone.history.loss, 1e-4, `lr ${s.lr}: training curve vs alone`);
    assertClose(cpu.sweep[r].validLoss, s.validLoss, 1e-4, `lr ${s.lr}: CPU backend`);
    assert.is(s.finalValidLoss, s.validLoss[59]);
  }
  assert.ok(Math.abs(o.sweep[0].finalValidLoss - o.sweep[1].finalValidLoss) > 1e-3, 'the rates end at other validation losses');
  const text = fusegrad(...base, '--lr', '0.1,0.01', '--plot', svg);
  assert.is(text.code, 0, text.err);
  assert.match(text.out, /\s+lr\s+final loss\s+validation loss\s+status/);
  assert.ok(readFileSync(svg, 'utf8').includes('lr 0.01, validation'), 'the plot has each rate\'s validation curve');
  const boot = fusegrad(...base, '--lr', '0.1', '--bootstrap', '4', '--json');
  assert.is(boot.code, 0, boot.err);
  assert.is(JSON.parse(boot.out).bootstrap.replicates, 4, 'a bootstrap next to a validation split');
});

test('fit --lr 0.05 --momentum 0,0.9 --weight-decay 0.01: a sweep over settings, each as trained alone; lists of one length', () => {
  const base = ['fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '80', '--json'];
  const o = JSON.parse(fusegrad(...base, '--lr', '0.05,0.02', '--momentum', '0,0.9', '--weight-decay', '0.01').out);
  assert.equal(o.sweep.map((s: { lr: number; momentum: number }) => [s.lr, s.momentum]), [[0.05, 0], [0.02, 0.9]]);
  for (const s of o.sweep) {
    assert.is(s.weightDecay, undefined, 'a single value is not a swept one');
    const alone = JSON.parse(fusegrad(...base, '--lr', String(s.lr), '--momentum', String(s.momentum), '--weight-decay', '0.01').out);
    assertClose(s.loss, alone.history.loss, 1e-4, `lr ${s.lr}, momentum ${s.momentum}`);
  }
  const text = fusegrad(...base.filter((a) => a !== '--json'), '--lr', '0.05', '--momentum', '0,0.9');
  assert.match(text.out, /sweep \(one model per setting, trained together\):\n\s+lr\s+momentum\s+final loss\s+status/);
  const odd = fusegrad(...base, '--lr', '0.1,0.01', '--momentum', '0,0.9,0.5');
  assert.is(odd.code, 2);
  assert.match(odd.err, /--lr has 2 values and --momentum 3: give the swept options lists of one length/);
  const adamMomentum = fusegrad(...base, '--optimizer', 'adam', '--momentum', '0,0.9');
  assert.is(adamMomentum.code, 2);
  assert.match(adamMomentum.err, /--momentum applies to sgd; Adam has betas/);
  const negative = fusegrad(...base, '--momentum', '0,-1');
  assert.is(negative.code, 2);
  assert.match(negative.err, /--momentum: "-1" is not a non-negative number/);
});

test('fit --lr 0.1,0.01,0.001,3: one model per rate in one run, each as trained alone; the diverging one is reported alone', async () => {
  const base = ['fit', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement', '--standardize', '--epochs', '300', '--json'];
  const o = JSON.parse(fusegrad(...base, '--lr', '0.1,0.01,0.001,3').out);
  assert.equal(o.sweep.map((s: { lr: number }) => s.lr), [0.1, 0.01, 0.001, 3]);
  assert.is(o.timing.submits, 1);
  for (const s of o.sweep.slice(0, 3)) {
    const alone = JSON.parse(fusegrad(...base, '--lr', String(s.lr)).out);
    assertClose(s.loss, alone.history.loss, 1e-4, `lr ${s.lr}`);
    assert.is(s.diverged, null);
  }
  assert.match(o.sweep[3].diverged, /The learning rate \(3\) is probably too large/);
  const text = fusegrad(...base.filter((a) => a !== '--json'), '--lr', '0.1,0.01,0.001,3');
  assert.match(text.out, /learning-rate sweep \(one model per rate, trained together\):/);
  assert.match(text.out, /\s3\s+[\d.]+e\+\d+\s+diverged: the loss grew to [\d.e+]+ at epoch \d+, more than 1e6 times its reference/);
});

test.run();
