/** @file ols at float64's edges (1e±300, subnormals), perfect fits and constant y, --standardize of a 1e300 column, and the columns ols leaves out. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ols } from '../regression/ols.js';
import { InputError } from '../regression/data.js';
import { fusegrad, scratch } from './cli-helpers.js';
import { lre } from './nist.js';

// test/data/edges/*.csv: one base problem, y = 3 + 2a + wiggle with b beside it, moved to
// float64's edges: "a" times 1e300 (bigx), y times 1e300 (bigy), "a" times 1e-300 and "b" times
// 1e300 (mix), y times 1e-300 (tinyy), "a" times 1e-314, subnormal (denorm).
//
// EXACT: the least-squares answer of the doubles in each file, in rational arithmetic (Python's
// fractions on the normal equations; float() reads a decimal to the nearest double, as Number()
// does), each rounded to the nearest double: test/data/edges/exact.py.
const EXACT: Record<string, { coef: number[]; se: number[]; sigma: number }> = {
  bigx: { coef: [3.209861717612809, 2.0037960622079215e-300, -0.034800429020148606], se: [0.20505792653427568, 3.191260165637953e-302, 0.03191260165637953], sigma: 0.3048943394635782 },
  bigy: { coef: [3.20986171761281e300, 2.0037960622079216e300, -3.480042902014877e298], se: [2.0505792653427547e299, 3.1912601656379503e298, 3.1912601656379503e298], sigma: 3.0489433946357785e299 },
  mix: { coef: [3.209861717612809, 2.0037960622079216e300, -3.480042902014861e-302], se: [0.2050579265342756, 3.1912601656379517e298, 3.1912601656379515e-302], sigma: 0.304894339463578 },
  tinyy: { coef: [3.20986171761281e-300, 2.0037960622079215e-300, -3.480042902014869e-302], se: [2.050579265342754e-301, 3.191260165637949e-302, 3.191260165637949e-302], sigma: 3.0489433946357778e-301 },
};

const json = (file: string, ...args: string[]) => {
  const r = fusegrad('ols', `test/data/edges/${file}.csv`, '--y', 'y', '--json', ...args);
  assert.is(r.code, 0, r.err);
  return JSON.parse(r.out);
};

for (const [file, want] of Object.entries(EXACT)) {
  test(`ols on ${file}.csv (near float64's edge): the exact answer to 14 digits, and a digits claim that holds`, () => {
    const o = json(file);
    o.coef.forEach((c: number, j: number) => assert.ok(lre(c, want.coef[j]!) >= 14, `coef ${o.terms[j]}: ${c} vs ${want.coef[j]}`));
    o.se.forEach((s: number, j: number) => assert.ok(lre(s, want.se[j]!) >= 14, `se ${o.terms[j]}: ${s} vs ${want.se[j]}`));
    assert.ok(lre(o.sigma, want.sigma) >= 14, `sigma ${o.sigma}`);
    assert.ok(Math.abs(o.r2 - 0.99852) < 1e-5, `R² ${o.r2}`);
    assert.ok(o.t.every(Number.isFinite) && o.p.every(Number.isFinite), 't and p are numbers');
    assert.is(o.perfectFit, false);
    // Claimed digits, each no more than it has (0.3: one last bit's spread at 16 digits).
    o.coef.forEach((c: number, j: number) => assert.ok(o.digits.coef[j] <= lre(c, want.coef[j]!) + 0.3 || lre(c, want.coef[j]!) === 15, `coef ${j} claims ${o.digits.coef[j]}`));
    assert.ok(o.digits.min > 14, `digits ${o.digits.min}`);
  });
}

// R: test/data/edges/r-lm.json, R's summary(lm(y ~ a + b, data = read.csv(file))) for each file, the
// same model as `ols --y y` (every other column, with a constant term), written by
// test/data/edges/r-lm.R (R 4.2.2, its call and its BLAS recorded in the file). A value that is
// not a finite number is the string "Inf", "-Inf", "NaN" or "NA".
type RNumber = number | 'Inf' | '-Inf' | 'NaN' | 'NA';
type RFit = { call: string; terms: string[]; rank: number; coef: RNumber[]; se: RNumber[]; sigma: RNumber; r2: RNumber; adjR2: RNumber; warnings: string[]; read: Record<'y' | 'a' | 'b', number[]> };
const R: { R: string; files: Record<string, RFit> } = JSON.parse(readFileSync('test/data/edges/r-lm.json', 'utf8'));

// Tolerance: relative 1e-13. lm solves by Householder QR (LINPACK dqrdc2) in float64 on the data as
// read, with no scaling; where its numbers are finite they are within 8.9e-15 of the exact answer
// (14.05 digits at worst, the coefficient of b in bigy; most are 15 or more), and ols's are within
// 1e-14 (the test above), so the two may differ by about 2e-14 from rounding alone: 1e-13 is
// R's own accuracy less a digit, and no looser. The measured agreement of ols with R: coefficients
// 14.05 digits to identical, standard errors 14.5 to 15.7, sigma 14.7 to 15.4, R² and adjusted R²
// identical where R has them.
//
// Where R has no number, R is the one that fails, and the fixture records what it gives; each is
// listed here with the cause, and ols is held to the exact answer instead (the test above):
const R_FAILS: Record<string, Record<string, { R: RNumber; why: string }>> = {
  bigx: {
    'se a': { R: 0, why: 'underflow: chol2inv gives (R^-1)^2, about 1e-600 for a column of 1e300, as 0' },
  },
  bigy: {
    'se const': { R: 'Inf', why: 'overflow: the residual sum of squares, (1e299)^2 summed, is Inf' },
    'se a': { R: 'Inf', why: 'overflow: the residual sum of squares is Inf' },
    'se b': { R: 'Inf', why: 'overflow: the residual sum of squares is Inf' },
    sigma: { R: 'Inf', why: 'overflow: the residual sum of squares is Inf' },
    r2: { R: 'NaN', why: 'overflow: Inf / Inf' },
    adjR2: { R: 'NaN', why: 'overflow: Inf / Inf' },
  },
  mix: {
    'se a': { R: 'Inf', why: 'overflow: (R^-1)^2 for the column near 1e-300 is about 1e600' },
    'se b': { R: 0, why: 'underflow: (R^-1)^2 for the column near 1e300 is about 1e-600' },
  },
  tinyy: {
    'se const': { R: 0, why: 'underflow: the squared residuals (about 1e-602) are 0, so the residual sum of squares is 0' },
    'se a': { R: 0, why: 'underflow: the residual sum of squares is 0' },
    'se b': { R: 0, why: 'underflow: the residual sum of squares is 0' },
    sigma: { R: 0, why: 'underflow: the residual sum of squares is 0 (with no "essentially perfect fit" warning: its threshold underflows too)' },
    r2: { R: 'NaN', why: 'underflow: 0 / 0' },
    adjR2: { R: 'NaN', why: 'underflow: 0 / 0' },
  },
};

const csvColumns = (file: string) => {
  const [head, ...rows] = readFileSync(`test/data/edges/${file}.csv`, 'utf8').trim().split('\n').map((l) => l.split(','));
  return Object.fromEntries(head!.map((name, j) => [name, rows.map((r) => Number(r[j]))]));
};

test('R read each file to the same doubles as ols (so the comparisons below are of one problem)', () => {
  assert.match(R.R, /^R version 4\.2\.2 /);
  for (const [file, fit] of Object.entries(R.files)) {
    const cols = csvColumns(file);
    for (const name of ['y', 'a', 'b'] as const) assert.equal(fit.read[name], cols[name], `${file}.csv column ${name}`);
    assert.is(fit.call, `summary(lm(y ~ a + b, data = read.csv("test/data/edges/${file}.csv")))`);
    assert.equal(fit.terms, ['(Intercept)', 'a', 'b']);
  }
});

for (const file of ['bigx', 'bigy', 'mix', 'tinyy']) {
  test(`ols on ${file}.csv agrees with R's lm to 13 digits wherever R's number is finite; where R overflows or underflows, that is recorded`, () => {
    const o = json(file);
    const r = R.files[file]!;
    assert.is(r.rank, 3);
    assert.equal(r.warnings, []);
    const fails = R_FAILS[file] ?? {};
    const check = (what: string, got: number, want: RNumber) => {
      const fail = fails[what];
      if (fail) {
        assert.is(want, fail.R, `${file} ${what}: R gives ${want}, recorded as ${fail.R} (${fail.why})`);
        assert.ok(Number.isFinite(got) && got > 0, `${file} ${what}: ols ${got} where R ${fail.why}`);
        return;
      }
      assert.type(want, 'number', `${file} ${what}: R gives ${want}, not listed in R_FAILS`);
      const rel = Math.abs(got - (want as number)) / Math.abs(want as number);
      assert.ok(rel <= 1e-13, `${file} ${what}: ols ${got} vs R ${want} (relative ${rel.toExponential(2)})`);
    };
    o.terms.forEach((t: string, j: number) => {
      check(`coef ${t}`, o.coef[j], r.coef[j]!);
      check(`se ${t}`, o.se[j], r.se[j]!);
    });
    check('sigma', o.sigma, r.sigma);
    check('r2', o.r2, r.r2);
    check('adjR2', o.adjR2, r.adjR2);
  });
}

test('ols on perfect.csv and consty.csv against R: R warns "essentially perfect fit", its standard errors are rounding noise where ols has the exact 0', () => {
  for (const file of ['perfect', 'consty']) {
    const o = json(file);
    const r = R.files[file]!;
    assert.equal(r.warnings, ['essentially perfect fit: summary may be unreliable']);
    // R's residuals are rounding, not 0: its standard errors and sigma are below 1e-14 of y's
    // scale (at most 3.7e-15, perfect.csv's sigma, against y up to 16), where ols, which finds the residuals exactly 0,
    // reports 0 (and t, p and F not defined). The coefficients agree to 1e-14 of y's scale: R's
    // are off the exact ones by rounding (3.0000000000000062 for 3; 1.5e-16 for consty's 0).
    const scale = Math.max(...csvColumns(file).y!.map(Math.abs));
    o.coef.forEach((c: number, j: number) => assert.ok(Math.abs(c - (r.coef[j] as number)) <= 1e-14 * scale, `${file} coef ${j}: ols ${c} vs R ${r.coef[j]}`));
    o.se.forEach((s: number, j: number) => {
      assert.is(s, 0);
      assert.ok((r.se[j] as number) <= 1e-14 * scale, `${file} se ${j}: R ${r.se[j]}`);
    });
    assert.is(o.sigma, 0);
    assert.ok((r.sigma as number) <= 1e-14 * scale, `${file} sigma: R ${r.sigma}`);
  }
  // A perfect fit: R² is 1 in both.
  assert.is(json('perfect').r2, 1);
  assert.is(R.files.perfect!.r2, 1);
  // Constant y: R's R² (0.466) is a ratio of rounding noise to rounding noise; ols says n/a.
  assert.is(json('consty').r2, null);
  assert.ok((R.files.consty!.r2 as number) > 0 && (R.files.consty!.r2 as number) < 1);
});

test('ols on a subnormal column (near 1e-314) whose coefficient would be 1e314: refused, naming the column and its range', () => {
  const r = fusegrad('ols', 'test/data/edges/denorm.csv', '--y', 'y');
  assert.is(r.code, 2);
  assert.match(r.err, /the coefficient of "a" is beyond float64's range \(±1\.80e\+308\): about 1e314, in units of y \(from 5\.30 to 26\.7\) per a \(from 1\.00e-314 to 1\.20e-313\); rescale "a" or y/);
  assert.not.match(r.out + r.err, /NaN/);
  // R's lm on the same file (test/data/edges/r-lm.json) gives NaN for the constant and "a", NA for
  // "b" (rank 2), no warning and no error: its Householder step divides by the subnormal column's
  // norm, which overflows.
  const rf = R.files.denorm!;
  assert.equal([rf.coef, rf.se, rf.sigma, rf.rank, rf.warnings], [['NaN', 'NaN', 'NA'], ['NaN', 'NaN', 'NA'], 'NaN', 2, []]);
});

test('ols(): subnormal data whose answer is in range is solved, with a note of the digits the cells hold', () => {
  // y = 3 a + b with "a" and y scaled into the subnormals by 2^-1060 (exact: only the exponent moves).
  const a = [1, 2, 3, 4, 5, 6].map((v) => v * 2 ** -1060);
  const b = [1, 0, 1, 0, 0, 1];
  const y = a.map((v, i) => 3 * v + b[i]! * 2 ** -1060 + (i % 2 ? 1 : -1) * 2 ** -1064);
  const r = ols(a.map((v, i) => [v, b[i]! * 2 ** -1060]), y, ['a', 'b'], { intercept: false });
  assert.ok(Math.abs(r.coef[0]! - 3) < 0.01 && Math.abs(r.coef[1]! - 1) < 0.05, `${r.coef}`);
  assert.ok(r.se.every((s) => s > 0 && Number.isFinite(s)), `${r.se}`);
  assert.match(r.notes.join('\n'), /column "a" has subnormal values \(down to 8\.09e-320, below float64's normal range, 2\.23e-308\): as read they hold only about 4\.2 significant digits/);
  assert.match(r.notes.join('\n'), /y has subnormal values/);
});

test('ols(): a coefficient below float64\'s range shows as 0 with a note and no digits claimed for it', () => {
  const a = [1, 2, 3, 4, 5].map((v) => v * 1e300);
  const y = [1, 3, 2, 5, 4].map((v) => v * 1e-30);
  const r = ols(a.map((v) => [v]), y, ['a']);
  assert.is(r.coef[1], 0);
  assert.is(r.digits.coef[1], 0);
  assert.match(r.notes.join('\n'), /the coefficient of "a" \(about 1e-330\) is below float64's smallest \(4\.9e-324\) and shows as 0/);
});

test('ols: y near 1e-300 has standard errors, finite t, and no claim of digits it does not have', () => {
  const r = fusegrad('ols', 'test/data/edges/tinyy.csv', '--y', 'y');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /a\s+2\.0038e-300\s+3\.1913e-302\s+62\.7901/);
  assert.match(r.out, /residual std\. error 3\.0489e-301/);
});

test('ols: constant y and a perfect fit are reported as such (R: "essentially perfect fit"), t, p and F not defined', () => {
  const constant = fusegrad('ols', 'test/data/edges/consty.csv', '--y', 'y');
  assert.is(constant.code, 0, constant.err);
  assert.match(constant.out, /R² n\/a, adj\. R² n\/a/);
  assert.match(constant.out, /F n\/a/);
  assert.match(constant.out, /const\s+5\.0000\s+0\.0000\s+n\/a\s+n\/a/);
  assert.match(constant.out, /warning: essentially perfect fit \(R's lm warns "summary may be unreliable"\): the residuals are zero, so the standard errors are 0, and t, p and F are not defined/);
  assert.match(constant.out, /note: y is constant \(every value is 5\): the constant term fits it exactly, every other coefficient is 0, and R² is not defined/);
  assert.not.match(constant.out, /Infinity/);
  const c = json('consty');
  assert.equal(c.coef, [5, 0, 0]);
  assert.is(c.perfectFit, 'exact');
  assert.equal(c.t, [null, null, null]);
  const exact = json('perfect');
  assert.is(exact.perfectFit, 'exact');
  assert.equal(exact.coef, [3, 2, -1]);
  assert.is(exact.fStat, null);
  // y = 0.1 a + 0.3 b + 0.7 in doubles: the residuals are rounding, not zero.
  const rows = Array.from({ length: 10 }, (_, i) => [i + 1, (i * 7) % 5]);
  const file = scratch('rounding.csv', `y,a,b\n${rows.map(([a, b]) => `${0.1 * a! + 0.3 * b! + 0.7},${a},${b}`).join('\n')}\n`);
  const o = JSON.parse(fusegrad('ols', file, '--y', 'y', '--json').out);
  assert.is(o.perfectFit, 'rounding');
  assert.equal(o.digits.se, [null, null, null], 'no digits claimed for standard errors that are rounding noise');
  assert.ok(o.digits.min > 14);
  const text = fusegrad('ols', file, '--y', 'y').out;
  assert.match(text, /about 1\d\.\d correct digits in every coefficient \(none claimed for the standard errors\)/);
  assert.match(text, /the residuals are at rounding level, so the standard errors are rounding noise/);
});

test('fit --standardize with a 1e300 column trains its weight (it was saved as 0); a spread past float64 is refused naming the column', () => {
  const r = fusegrad('fit', 'test/data/edges/bigx.csv', '--y', 'y', '--standardize', '--device', 'cpu', '--epochs', '300', '--lr', '0.1', '--json');
  assert.is(r.code, 0, r.err);
  const o = JSON.parse(r.out);
  const w = o.coefficients.weight[0];
  assert.ok(Math.abs(w[0] / EXACT.bigx!.coef[1]! - 1) < 1e-6, `the weight of a: ${w[0]}`);
  assert.ok(Math.abs(w[1] - EXACT.bigx!.coef[2]!) < 1e-6, `the weight of b: ${w[1]}`);
  const wide = scratch('wide.csv', 'y,a,b\n1,-1.5e308,1\n2,1.6e308,2\n3,1e308,4\n4,-1e308,3\n5,0,5\n');
  const bad = fusegrad('fit', wide, '--y', 'y', '--standardize', '--device', 'cpu', '--epochs', '10');
  assert.is(bad.code, 2);
  assert.match(bad.err, /--standardize: x column "a" runs from -1\.50e\+308 to 1\.60e\+308, a spread beyond float64's range \(1\.80e\+308\), so its z-scores overflow; rescale it/);
  // Near 1e-300 a column is small, not constant.
  const tiny = scratch('tinyx.csv', `y,a\n${[1, 2, 3, 4, 5, 6].map((v) => `${2 * v + (v % 2) * 0.1},${v * 1e-300}`).join('\n')}\n`);
  const t = fusegrad('fit', tiny, '--y', 'y', '--standardize', '--device', 'cpu', '--epochs', '300', '--lr', '0.1', '--json');
  assert.is(t.code, 0, t.err);
});

test('ols leaves out a text column with a note, and refuses a numeric column with a few bad cells, naming them', () => {
  const rows = Array.from({ length: 20 }, (_, i) => [i + 1, (i * 7) % 11]);
  const y = rows.map(([a, b]) => 1 + 2 * a! + 3 * b! + ((a! * 13) % 7) / 50);
  const cell = (i: number, b: number) => (i === 4 ? '1.2.3' : i === 9 ? '"1,200"' : String(b));
  const bad = scratch('badcell.csv', `y,a,b,name\n${rows.map(([a, b], i) => `${y[i]},${a},${cell(i, b!)},item${i}`).join('\n')}\n`);
  const r = fusegrad('ols', bad, '--y', 'y');
  assert.is(r.code, 2, r.out);
  assert.match(r.err, /column "b" is numbers but for 2 cells of 20: line 6 has "1\.2\.3" \(not numeric\); line 11 has "1,200" \(not numeric\)\. Fix them \(or make them empty, a missing value\), or name the features with --x to leave "b" out/);
  const good = scratch('textcol.csv', `y,a,b,name\n${rows.map(([a, b], i) => `${y[i]},${a},${b},item${i}`).join('\n')}\n`);
  const g = fusegrad('ols', good, '--y', 'y');
  assert.is(g.code, 0, g.err);
  assert.match(g.out, /^features: every numeric column but the target; left out as text: name \(line 2 has "item0"\)\n/);
  assert.match(g.out, /OLS: y ~ a \+ b\n/);
  const o = JSON.parse(fusegrad('ols', good, '--y', 'y', '--json').out);
  assert.equal(o.leftOut, [{ column: 'name', example: 'line 2 has "item0"' }]);
  assert.ok(o.r2 > 0.999);
  // Named with --x, the bad column's first bad cell is an error as before; without it, the fit runs.
  const x = fusegrad('ols', bad, '--y', 'y', '--x', 'a');
  assert.is(x.code, 0, x.err);
});

test('ols(): non-finite values and rows of the wrong length are InputErrors naming them', () => {
  assert.throws(() => ols([[1], [Infinity], [3]], [1, 2, 3], ['x']), (e: Error) => e instanceof InputError && /column "x" at row 1 is Infinity/.test(e.message));
  assert.throws(() => ols([[1], [2], [3]], [1, NaN, 3], ['x'], { target: 'mpg' }), (e: Error) => e instanceof InputError && /mpg at row 1 is NaN/.test(e.message));
  assert.throws(() => ols([[1], [2, 1], [3]], [1, 2, 3], ['x']), (e: Error) => e instanceof InputError && /row 1 of X has 2 values for 1 columns/.test(e.message));
});

test.run();
