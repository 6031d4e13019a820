/**
 * @file Closed-form least squares in float64 by Householder QR: the answer gradient descent is
 * judged against. Solves min ||A x - y|| for each column of Y without forming AᵀA.
 */

export class RankError extends Error {
  override name = 'RankError';
}

/**
 * Solves min ||A X - Y||_F for X, with A (rows x cols, row-major) of full column rank.
 * Returns X as cols x targets (row-major). Throws RankError when a column is (nearly) a linear
 * combination of earlier ones: |R_jj| <= 1e-12 * max |R_ii| * sqrt(rows).
 */
export function lstsq(A: Float64Array, rows: number, cols: number, Y: Float64Array, targets: number): Float64Array {
  if (rows < cols) throw new RankError(`least squares needs at least as many rows as columns: ${rows} rows, ${cols} columns`);
  const a = Float64Array.from(A);
  const y = Float64Array.from(Y);
  const diag = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let norm = 0;
    for (let i = j; i < rows; i++) norm = Math.hypot(norm, a[i * cols + j]!);
    const alpha = a[j * cols + j]! > 0 ? -norm : norm;
    diag[j] = alpha;
    if (norm === 0) continue;
    // v = x - alpha e1, stored in place of column j below the diagonal; H = I - 2 v vᵀ / vᵀv.
    a[j * cols + j] = a[j * cols + j]! - alpha;
    let vv = 0;
    for (let i = j; i < rows; i++) vv += a[i * cols + j]! ** 2;
    const reflect = (get: (i: number) => number, set: (i: number, v: number) => void) => {
      let dot = 0;
      for (let i = j; i < rows; i++) dot += a[i * cols + j]! * get(i);
      const f = (2 * dot) / vv;
      for (let i = j; i < rows; i++) set(i, get(i) - f * a[i * cols + j]!);
    };
    for (let k = j + 1; k < cols; k++) reflect((i) => a[i * cols + k]!, (i, v) => (a[i * cols + k] = v));
    for (let t = 0; t < targets; t++) reflect((i) => y[i * targets + t]!, (i, v) => (y[i * targets + t] = v));
  }
  const biggest = Math.max(...diag.map(Math.abs));
  diag.forEach((d, j) => {
    if (Math.abs(d) <= 1e-12 * biggest * Math.sqrt(rows)) throw new RankError(`column ${j} is (nearly) a linear combination of the columns before it`);
  });
  const x = new Float64Array(cols * targets);
  for (let t = 0; t < targets; t++) {
    for (let j = cols - 1; j >= 0; j--) {
      let s = y[j * targets + t]!;
      for (let k = j + 1; k < cols; k++) s -= a[j * cols + k]! * x[k * targets + t]!;
      x[j * targets + t] = s / diag[j]!;
    }
  }
  return x;
}

/**
 * Closed-form fit of Y = X Wᵀ + b: returns W (targets x features) and b (targets), the layout
 * the graph's parameters use.
 */
export function fitLinear(X: readonly (readonly number[])[], Y: readonly (readonly number[])[]): { W: number[][]; b: number[] } {
  const n = X.length;
  const d = X[0]!.length;
  const k = Y[0]!.length;
  const A = new Float64Array(n * (d + 1));
  X.forEach((row, i) => {
    A[i * (d + 1)] = 1;
    row.forEach((v, j) => (A[i * (d + 1) + j + 1] = v));
  });
  const coef = lstsq(A, n, d + 1, Float64Array.from(Y.flat()), k);
  const W = Array.from({ length: k }, (_, t) => Array.from({ length: d }, (_, j) => coef[(j + 1) * k + t]!));
  const b = Array.from({ length: k }, (_, t) => coef[t]!);
  return { W, b };
}
