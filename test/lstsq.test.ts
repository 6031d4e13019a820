import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RankError, fitLinear, lstsq } from '../regression/lstsq.js';
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

test.run();
