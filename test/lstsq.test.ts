import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Accumulator } from '../regression/extended.js';
import { QR, RankError, fitLinear, lstsq, refine } from '../regression/lstsq.js';
import { assertClose, randoms } from './helpers.js';

test('recovers exact coefficients when y = A x has no noise', () => {
  const rows = 40;
  const cols = 4;
  const A = randoms(rows * cols, 3);
  const x = Float64Array.of(1.5, -2, 0.25, 4);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) y[i] += A[i * cols + j]! * x[j]!;
  assertClose(lstsq(A, rows, cols, y, 1), x, 1e-13, 'x');
});

test('with noise the residual is orthogonal to every column (the normal equations hold)', () => {
  const rows = 50;
  const cols = 3;
  const A = randoms(rows * cols, 5);
  const y = randoms(rows, 6);
  const x = lstsq(A, rows, cols, y, 1);
  for (let j = 0; j < cols; j++) {
    let dot = 0;
    for (let i = 0; i < rows; i++) {
      let r = y[i]!;
      for (let k = 0; k < cols; k++) r -= A[i * cols + k]! * x[k]!;
      dot += A[i * cols + j]! * r;
    }
    assert.ok(Math.abs(dot) < 1e-13, `column ${j}: Aᵀr = ${dot}`);
  }
});

test('fitLinear returns W (targets x features) and b, and refuses a collinear design', () => {
  const X = [[1, 2], [2, 1], [3, 5], [4, 3], [5, 4]];
  const Y = X.map(([a, c]) => [3 + 2 * a! - c!, -1 + 0.5 * c!]);
  const { W, b } = fitLinear(X, Y);
  assertClose(W.flat(), [2, -1, 0, 0.5], 1e-13, 'W');
  assertClose(b, [3, -1], 1e-13, 'b');
  assert.throws(() => fitLinear([[1, 2], [2, 4], [3, 6]], [[1], [2], [3]]), (e: Error) => e instanceof RankError && /column 2/.test(e.message));
});

test('refine stops at rounding noise when a coefficient is exactly zero, in a few steps, not maxSteps', () => {
  // Odd terms t and t³ fitted to data even in t (t symmetric about 0): their exact coefficients
  // are 0, which no correction can settle to its last bit. The corrections stop shrinking at
  // double-double noise (~1e-31 here), and the refinement stops there.
  const n = 101;
  const t = Array.from({ length: n }, (_, i) => (i - 50) / 50);
  const A = Float64Array.from(t.flatMap((v) => [1, v, v ** 3]));
  const y = Float64Array.from(t.map((v) => Math.cos(3 * v) + v * v));
  const qr = new QR(A, n, 3);
  const g = refine(qr, A, y, new Float64Array(3), qr.solve(y), { maxSteps: 10 });
  assert.ok(g.steps <= 4, `${g.steps} steps`);
  assert.not.ok(g.converged);
  assert.ok(g.ratio > 0.5, `stopped because the correction stopped shrinking (ratio ${g.ratio})`);
  assert.ok(Math.abs(g.x[1]!) < 1e-28 && Math.abs(g.x[2]!) < 1e-28, `zero coefficients: ${g.x[1]}, ${g.x[2]}`);
  // The intercept is the mean of y (the odd columns are orthogonal to the constant), settled to its
  // last bit: against the mean summed in double-double.
  const mean = y.reduce((acc, v) => acc.add(v), new Accumulator()).value() / n;
  assert.ok(Math.abs(g.x[0]! - mean) <= 2 * 2 ** -53 * mean, `intercept ${g.x[0]} vs the mean ${mean}`);
});

test.run();
