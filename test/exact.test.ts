import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { polynomial } from '../regression/features.js';
import { ols } from '../regression/ols.js';
import { randoms } from './helpers.js';
import { Frac, digits, exactOls } from './rational.js';

// Each problem is solved by `ols` in float64 and exactly (BigInt fractions of the very same double
// inputs), and every coefficient and standard error must agree to at least 10 significant digits.
// The digits are printed, as -log10 of the relative error, each beside the digits `ols` estimates
// it holds; an estimate must not promise more than it delivers (by more than 0.3 digits, the
// spread of one last bit at 16 digits).

function check(name: string, X: number[][], y: number[], features: string[], intercept: boolean, exactDesign?: Frac[][], low?: number[][]) {
  const r = ols(X, y, features, { intercept, low });
  const design = exactDesign ?? X.map((row) => (intercept ? [1, ...row] : [...row]));
  const exact = exactOls(design, y);
  const coefDigits = r.coef.map((c, j) => digits(c, exact.coef[j]!));
  // se = sqrt(se²): its relative error is half that of se².
  const seDigits = r.se.map((s, j) => digits(s * s, exact.se2[j]!) + Math.log10(2));
  const worst = Math.min(...coefDigits, ...seDigits);
  const show = (got: number[], said: number[]) => got.map((d, j) => `${d.toFixed(1)} (${said[j]!.toFixed(1)})`).join(' ');
  console.log(`  ${name}: condition ${r.cond.toExponential(1)}; digits (estimated) of coef ${show(coefDigits, r.digits.coef)}; of se ${show(seDigits, r.digits.se)}`);
  coefDigits.forEach((d, j) => assert.ok(d >= 10, `${name}: coefficient ${r.terms[j]} has ${d.toFixed(2)} correct digits (${r.coef[j]} vs ${exact.coef[j]!.toNumber()})`));
  seDigits.forEach((d, j) => assert.ok(d >= 10, `${name}: standard error ${r.terms[j]} has ${d.toFixed(2)} correct digits`));
  coefDigits.forEach((d, j) => assert.ok(r.digits.coef[j]! <= d + 0.3, `${name}: coefficient ${r.terms[j]} estimated at ${r.digits.coef[j]!.toFixed(2)} digits, has ${d.toFixed(2)}`));
  seDigits.forEach((d, j) => assert.ok(r.digits.se[j]! <= d + 0.3, `${name}: standard error ${r.terms[j]} estimated at ${r.digits.se[j]!.toFixed(2)} digits, has ${d.toFixed(2)}`));
  return { worst, exact };
}

/** y = Σ c_k x^k + noise on x evenly over [0, 10]. */
function polyData(n: number, c: number[], noise: number, seed: number) {
  const e = randoms(n, seed);
  const x = Array.from({ length: n }, (_, i) => [(10 * i) / (n - 1)]);
  const y = x.map(([v], i) => c.reduce((s, ck, k) => s + ck * v! ** k, 0) + noise * e[i]!);
  return { x, y };
}

test('degree-5 polynomial in raw x (x up to 10, responses up to ~1e7), with and without an intercept', () => {
  const { x, y } = polyData(40, [1000, 2000, -300, 50, 40, 90], 5000, 1);
  assert.ok(Math.max(...y) > 5e6, `responses reach ${Math.max(...y)}`);
  const p = polynomial(x, ['x'], 5);
  check('degree 5', p.X, y, p.features, true);
  check('degree 5, no intercept', p.X, y, p.features, false);
});

test('degree-10 polynomial in raw x (x up to 10, responses up to ~1e7)', () => {
  const { x, y } = polyData(60, [500, -400, 300, -200, 100, -40, 10, -2, 0.3, -0.02, 0.001], 2000, 2);
  const p = polynomial(x, ['x'], 10);
  const r = ols(p.X, y, p.features);
  assert.ok(r.cond > 1e6, `an ill-conditioned design (condition ${r.cond.toExponential(1)})`);
  check('degree 10', p.X, y, p.features, true);
  check('degree 10, no intercept', p.X, y, p.features, false);
});

test('six highly collinear predictors (each the same signal plus 1e-5 of its own noise)', () => {
  const n = 50;
  const z = randoms(n, 3);
  const X = z.reduce<number[][]>((rows, v, i) => [...rows, Array.from({ length: 6 }, (_, j) => v + 1e-5 * randoms(n, 10 + j)[i]!)], []);
  const y = X.map((row, i) => row.reduce((s, v, j) => s + (j + 1) * v, 0) + 0.01 * randoms(n, 4)[i]!);
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  const r = ols(X, y, names);
  assert.ok(r.cond > 1e4, `nearly collinear (condition ${r.cond.toExponential(1)})`);
  check('six collinear', X, y, names, true);
  check('six collinear, no intercept', X, y, names, false);
});

test('degree-10 polynomial solved for its exact powers: ols given the low parts against the exact answer for x^k', () => {
  // x on [-9, -3] (as NIST's Filip data), on a grid of 2^-12 so that the exact powers stay short.
  const n = 40;
  const e = randoms(n, 7);
  const x = Array.from({ length: n }, (_, i) => [-3 - Math.round(((6 * i) / (n - 1) + 0.01 * e[i]!) * 2 ** 12) / 2 ** 12]);
  const y = x.map(([v], i) => 1 + Math.sin(v!) + 0.001 * randoms(n, 8)[i]!);
  const p = polynomial(x, ['x'], 10);
  const powers = x.map(([v]) => Array.from({ length: 10 }, (_, k) => Array.from({ length: k + 1 }, () => Frac.of(v!)).reduce((a, b) => a.mul(b))));
  const { exact } = check('degree 10 on [-9, -3], exact powers', p.X, y, p.features, true, powers.map((row) => [new Frac(1n), ...row]), p.low);
  check('degree 10 on [-9, -3], exact powers, no intercept', p.X, y, p.features, false, powers, p.low);
  // Without the low parts the answer is exact for the rounded powers (the degree-10 test above),
  // which lie cond · 1e-16 away from the exact powers' answer.
  const r = ols(p.X, y, p.features);
  assert.ok(r.cond > 1e9, `as ill-conditioned as NIST's Filip (condition ${r.cond.toExponential(1)})`);
  const apart = Math.min(...r.coef.map((c, j) => digits(c, exact.coef[j]!)));
  console.log(`  degree 10 on [-9, -3], the powers rounded to doubles: ${apart.toFixed(1)} digits of the exact powers' answer`);
});

test('the exact solver itself: a system with a known rational answer', () => {
  // y = 1/3 + 2x exactly at x = 0, 1, 2: the fit is exact and the residual zero.
  const fit = exactOls([[1, 0], [1, 1], [1, 2]], [1 / 3, 1 / 3 + 2, 1 / 3 + 4].map((v) => v));
  assert.ok(Math.abs(fit.coef[1]!.toNumber() - 2) < 1e-15);
  assert.is(new Frac(6n, 4n).toNumber(), 1.5);
  assert.is(digits(0.1, Frac.of(0.1)), 17);
});

test.run();
