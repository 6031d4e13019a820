import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ols } from '../regression/ols.js';
import { InputError } from '../regression/data.js';
import { fusegrad, scratch } from './cli-helpers.js';
import { lre, readNist } from './nist.js';

// NIST's Longley data (Longley 1967), an ill-conditioned design, with NIST's certified values
// read from NIST's own file (test/data/nist); test/data/longley.csv holds the same numbers.
const LONGLEY = readNist('test/data/nist/Longley.dat');

test('test/data/longley.csv is NIST\'s Longley data', () => {
  const rows = readFileSync('test/data/longley.csv', 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  assert.equal(rows, LONGLEY.y.map((y, i) => [y, ...LONGLEY.X[i]!]));
});

test('ols --json on the Longley data agrees with the NIST certified values to at least 11 digits', () => {
  const r = fusegrad('ols', 'test/data/longley.csv', '--y', 'y', '--json');
  assert.is(r.code, 0, r.err);
  const o = JSON.parse(r.out);
  assert.equal(o.terms, ['const', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6']);
  for (const key of ['n', 'df', 'r2', 'adjR2', 'fStat', 'sigma', 'cond', 'condUnscaled']) assert.type(o[key], 'number', key);
  assert.is(o.n, 16);
  assert.is(o.df, 9);
  const { certified } = LONGLEY;
  certified.coef.forEach((c, i) => assert.ok(lre(o.coef[i], c) >= 11, `coef ${o.terms[i]}: ${o.coef[i]} vs ${c} (${lre(o.coef[i], c).toFixed(1)} digits)`));
  certified.se.forEach((s, i) => assert.ok(lre(o.se[i], s) >= 11, `se ${o.terms[i]}: ${o.se[i]} vs ${s}`));
  assert.ok(lre(o.sigma, certified.sigma) >= 11, `sigma ${o.sigma}`);
  assert.ok(lre(o.r2, certified.r2) >= 11, `R² ${o.r2}`);
  // t, p and the interval follow from coef, se and the t distribution with 9 df (t_0.975,9 = 2.262157...).
  o.coef.forEach((c: number, i: number) => {
    assert.ok(Math.abs(o.t[i] - c / o.se[i]) < 1e-9 * Math.abs(o.t[i]));
    assert.ok(Math.abs(o.ci95[i][1] - (c + 2.2621571627982 * o.se[i])) < 1e-9 * Math.abs(o.se[i]) * 3);
  });
  assert.ok(Math.abs(o.p[1] - 0.8631408) < 1e-6, `p of x1: ${o.p[1]}`); // two-sided p of t = 0.17737 with 9 df
});

test('ols prints the familiar summary table and flags a large condition number', () => {
  const r = fusegrad('ols', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'displacement');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /OLS: mpg ~ displacement/);
  assert.match(r.out, /coef\s+std err\s+t\s+P>\|t\|\s+\[0\.025\s+0\.975\]/);
  assert.match(r.out, /const\s+35\.17\d\d\s+0\.49\d\d/);
  assert.match(r.out, /displacement\s+-0\.0603\s+0\.0022/);
  const poly = fusegrad('ols', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'horsepower', '--poly', '10');
  assert.is(poly.code, 0, poly.err);
  assert.match(poly.out, /dropped 6 rows with a missing value \(line 34, line 128/);
  assert.match(poly.out, /warning: the condition number \(columns scaled to unit length\) is large, 1\.\d\de\+8/);
});

test('--no-intercept fits through the origin with the uncentered R²', () => {
  // y = 2x exactly plus a little noise: through the origin the slope is Σxy / Σx².
  const rows = [[1, 2.1], [2, 3.9], [3, 6.2], [4, 7.8], [5, 10.1]];
  const file = scratch('origin.csv', `x,y\n${rows.map((r) => r.join(',')).join('\n')}\n`);
  const o = JSON.parse(fusegrad('ols', file, '--y', 'y', '--no-intercept', '--json').out);
  const sxy = rows.reduce((s, [x, y]) => s + x! * y!, 0);
  const sxx = rows.reduce((s, [x]) => s + x! * x!, 0);
  assert.equal(o.terms, ['x']);
  assert.ok(Math.abs(o.coef[0] - sxy / sxx) < 1e-14);
  const rss = rows.reduce((s, [x, y]) => s + (y! - (sxy / sxx) * x!) ** 2, 0);
  const tss = rows.reduce((s, [, y]) => s + y! * y!, 0);
  assert.ok(Math.abs(o.r2 - (1 - rss / tss)) < 1e-14, `uncentered R² ${o.r2}`);
});

test('bad data for ols: collinear columns, fewer rows than coefficients, a missing column: exit 2 with the names', () => {
  const collinear = scratch('collinear.csv', 'y,a,b,c\n1,1,2,3\n2,2,4,1\n3,3,6,4\n5,4,8,1\n4,5,10,9\n');
  const r = fusegrad('ols', collinear, '--y', 'y');
  assert.is(r.code, 2);
  assert.match(r.err, /"b" is \(nearly\) a linear combination of const, a: the columns are collinear/);
  const few = scratch('few.csv', 'y,a,b\n1,2,3\n2,1,5\n');
  const f = fusegrad('ols', few, '--y', 'y');
  assert.is(f.code, 2);
  assert.match(f.err, /2 rows cannot fit 3 coefficients \(const, a, b\)/);
  const m = fusegrad('ols', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'torque');
  assert.is(m.code, 2);
  assert.match(m.err, /examples\/data\/auto-mpg\.csv: --x names column "torque", which the file does not have \(it has mpg, cylinders/);
});

test('ols --json reports the condition number before and after scaling, the refinement and the digits it estimates', () => {
  // Two orthogonal columns of norms √2 and √2·1e6: singular values √2 and √2·1e6 as given, both
  // √2 after scaling each column to unit length.
  const file = scratch('orthogonal.csv', 'y,a,b\n1,1,0\n2,0,1000000\n4,-1,0\n3,0,-1000000\n');
  const o = JSON.parse(fusegrad('ols', file, '--y', 'y', '--no-intercept', '--json').out);
  assert.ok(Math.abs(o.cond - 1) < 1e-12, `scaled ${o.cond}`);
  assert.ok(Math.abs(o.condUnscaled / 1e6 - 1) < 1e-12, `unscaled ${o.condUnscaled}`);
  assert.ok(Number.isInteger(o.refinement.steps) && o.refinement.steps >= 1 && o.refinement.converged, JSON.stringify(o.refinement));
  assert.equal(o.refinement.seSteps, [0, 0], 'condition 1: standard errors from R alone');
  assert.is(o.digits.coef.length, 2);
  assert.is(o.digits.se.length, 2);
  assert.is(o.digits.min, Math.min(...o.digits.coef, ...o.digits.se));
  assert.ok(o.digits.min > 15 && o.digits.min <= 15.96, `a condition of 1 keeps all but the last bit: ${o.digits.min}`);
  // Past condition 1e4 every standard error is refined on its own.
  const poly = JSON.parse(fusegrad('ols', 'examples/data/auto-mpg.csv', '--y', 'mpg', '--x', 'horsepower', '--poly', '10', '--json').out);
  assert.ok(poly.cond > 1e4 && poly.refinement.seSteps.every((k: number) => k >= 1), JSON.stringify(poly.refinement));
  assert.ok(poly.condUnscaled > 1e20, `horsepower^10 reaches 2.3e22: ${poly.condUnscaled}`);
});

test('the summary states the conditions, the refinement and the digits', () => {
  const r = fusegrad('ols', 'test/data/longley.csv', '--y', 'y');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /condition number 4\.33e\+4 \(4\.86e\+9 unscaled\)/);
  assert.match(r.out, /refined in \d steps?; about 1[45]\.\d correct digits in every coefficient and standard error/);
});

test('ols(): low parts that do not match X are an InputError naming the shapes', () => {
  const X = [[1], [2], [3]];
  assert.throws(() => ols(X, [1, 2, 4], ['x'], { low: [[0], [0]] }), (e: Error) => e instanceof InputError && /low must have X's shape \(3 rows of 1\); it has 2 rows/.test(e.message));
  assert.throws(() => ols(X, [1, 2, 4], ['x'], { low: [[0], [0, 1], [0]] }), (e: Error) => e instanceof InputError && /row 1 has 2 entries/.test(e.message));
});

test.run();
