/**
 * @file Closed-form least squares in float64 by Householder QR of the column-scaled design (never
 * forming AᵀA), refined in extended precision: the answer gradient descent is judged against.
 */
import { Accumulator } from './extended.js';

export class RankError extends Error {
  override name = 'RankError';
  constructor(
    message: string,
    /** Columns found to be (nearly) linear combinations of the columns before them. */
    readonly columns: number[],
  ) {
    super(message);
  }
}

/**
 * Relative size below which a diagonal entry of R (of the column-scaled design, so every column
 * has norm 1) marks a column as a linear combination of the earlier ones: 1e-10 leaves room for
 * condition numbers up to ~1e10 while catching exact collinearity, which leaves ~1e-16.
 */
export const RANK_TOLERANCE = 1e-10;

/** A Householder QR factorization of a column-scaled rows x cols matrix (row-major). */
export class QR {
  /** R in the upper triangle; Householder vectors below the diagonal. */
  private readonly qr: Float64Array;
  private readonly diag: Float64Array;
  /** The scale of each column (its 2-norm); the factorization is of A / scale. */
  readonly scale: Float64Array;

  constructor(
    A: ArrayLike<number>,
    readonly rows: number,
    readonly cols: number,
  ) {
    if (rows < cols) throw new RankError(`least squares needs at least as many rows as columns: ${rows} rows, ${cols} columns`, []);
    const a = Float64Array.from(A);
    this.scale = new Float64Array(cols);
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let i = 0; i < rows; i++) s = Math.hypot(s, a[i * cols + j]!);
      this.scale[j] = s > 0 ? s : 1;
      for (let i = 0; i < rows; i++) a[i * cols + j] = a[i * cols + j]! / this.scale[j]!;
    }
    this.diag = new Float64Array(cols);
    for (let j = 0; j < cols; j++) {
      let norm = 0;
      for (let i = j; i < rows; i++) norm = Math.hypot(norm, a[i * cols + j]!);
      const alpha = a[j * cols + j]! > 0 ? -norm : norm;
      this.diag[j] = alpha;
      if (norm === 0) continue;
      // v = x - alpha e1 in place of column j below the diagonal; H = I - 2 v vᵀ / vᵀv.
      a[j * cols + j] = a[j * cols + j]! - alpha;
      for (let k = j + 1; k < cols; k++) this.reflect(a, j, (i) => a[i * cols + k]!, (i, v) => (a[i * cols + k] = v));
    }
    this.qr = a;
    const biggest = Math.max(...Array.from(this.diag, Math.abs));
    const deficient = [...this.diag.keys()].filter((j) => !(Math.abs(this.diag[j]!) > RANK_TOLERANCE * biggest));
    if (deficient.length) {
      throw new RankError(`column${deficient.length > 1 ? 's' : ''} ${deficient.join(', ')} (nearly) a linear combination of the columns before`, deficient);
    }
  }

  private reflect(a: Float64Array, j: number, get: (i: number) => number, set: (i: number, v: number) => void): void {
    const { rows, cols } = this;
    let vv = 0;
    let dot = 0;
    for (let i = j; i < rows; i++) {
      const v = a[i * cols + j]!;
      vv += v * v;
      dot += v * get(i);
    }
    if (vv === 0) return;
    const f = (2 * dot) / vv;
    for (let i = j; i < rows; i++) set(i, get(i) - f * a[i * cols + j]!);
  }

  /** Qᵀ v, in place (v has `rows` entries). */
  applyQt(v: Float64Array): Float64Array {
    for (let j = 0; j < this.cols; j++) this.reflect(this.qr, j, (i) => v[i]!, (i, x) => (v[i] = x));
    return v;
  }

  /** Q v, in place: the reflectors in reverse order. */
  applyQ(v: Float64Array): Float64Array {
    for (let j = this.cols - 1; j >= 0; j--) this.reflect(this.qr, j, (i) => v[i]!, (i, x) => (v[i] = x));
    return v;
  }

  /** R⁻¹ v for the first `cols` entries of v (back substitution). */
  backSolve(v: ArrayLike<number>): Float64Array {
    const { cols, qr } = this;
    const x = new Float64Array(cols);
    for (let j = cols - 1; j >= 0; j--) {
      let s = v[j]!;
      for (let k = j + 1; k < cols; k++) s -= qr[j * cols + k]! * x[k]!;
      x[j] = s / this.diag[j]!;
    }
    return x;
  }

  /** R⁻ᵀ v (forward substitution). */
  forwardSolve(v: ArrayLike<number>): Float64Array {
    const { cols, qr } = this;
    const x = new Float64Array(cols);
    for (let j = 0; j < cols; j++) {
      let s = v[j]!;
      for (let k = 0; k < j; k++) s -= qr[k * cols + j]! * x[k]!;
      x[j] = s / this.diag[j]!;
    }
    return x;
  }

  /** Least-squares solution of (A / scale) z = y, then x = z / scale: min ||A x - y||. */
  solve(y: ArrayLike<number>): Float64Array {
    return this.backSolve(this.applyQt(Float64Array.from(y))).map((v, j) => v / this.scale[j]!);
  }

  /**
   * The leverage of each row of A (the diagonal of the hat matrix A (AᵀA)⁻¹ Aᵀ): for row a,
   * ||R⁻ᵀ (a / scale)||², the same for A and its column-scaled copy.
   */
  leverages(A: ArrayLike<number>): Float64Array {
    const { rows, cols } = this;
    return Float64Array.from({ length: rows }, (_, i) => {
      const z = this.forwardSolve(Array.from({ length: cols }, (_, j) => A[i * cols + j]! / this.scale[j]!));
      return z.reduce((s, v) => s + v * v, 0);
    });
  }

  /** Rows of R⁻¹ of the scaled design, for covariances: (AᵀA)⁻¹ = S⁻¹ R⁻¹ R⁻ᵀ S⁻¹. */
  inverseR(): Float64Array {
    const { cols, qr } = this;
    const inv = new Float64Array(cols * cols);
    for (let c = 0; c < cols; c++) {
      // Solve R x = e_c by back substitution; x is column c of R⁻¹.
      for (let j = cols - 1; j >= 0; j--) {
        let s = j === c ? 1 : 0;
        for (let k = j + 1; k < cols; k++) s -= qr[j * cols + k]! * inv[k * cols + c]!;
        inv[j * cols + c] = s / this.diag[j]!;
      }
    }
    return inv;
  }

  /** R of the scaled design (upper triangle), row-major. */
  r(): Float64Array {
    const { cols, qr } = this;
    const R = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) {
      R[i * cols + i] = this.diag[i]!;
      for (let j = i + 1; j < cols; j++) R[i * cols + j] = qr[i * cols + j]!;
    }
    return R;
  }
}

export interface RefineOptions {
  /**
   * What rounding A to doubles left out, row-major like A: the system solved is that of A + low,
   * whose products enter the residuals beside A's (a polynomial's powers: features.ts).
   */
  low?: ArrayLike<number>;
  /** Components of x whose convergence ends the refinement (default: all). */
  watch?: readonly number[];
  maxSteps?: number;
}

export interface Refined {
  x: Float64Array;
  /** The residual b - A x of the refined x (of A + low, when given). */
  r: Float64Array;
  /** Corrections applied (passes over A after the first residual). */
  steps: number;
  /** The last correction moved no watched component of x by more than its last bit. */
  converged: boolean;
  /** The largest component of the last correction in the scaled variables x · scale. */
  correction: number;
  /** The last correction's size over the one before (NaN after one step): the rate of convergence. */
  ratio: number;
  /** How much the last correction of r changed ||r||², relative to ||r||² (0 when r = 0). */
  rssChange: number;
}

/**
 * Iterative refinement of the augmented system [I A; Aᵀ 0] [r; x] = [b; c] (Björck 1967), whose
 * solution with c = 0 is the least-squares x and its residual r, and with b = 0, c = -e_j is the
 * j-th column of (AᵀA)⁻¹. The residuals f = b - r - A x and g = c - Aᵀ r are accumulated in
 * double-double, so the corrections, solved with the QR factors, converge to the float64 nearest
 * the exact answer when cond(A / scale) is well below 1/eps; each step multiplies the error by
 * about cond · eps.
 *
 * Stops when no watched component of x moves by more than its last bit; or when a correction is
 * more than half the one before (the corrections have reached rounding noise and shrink no
 * further); or after maxSteps.
 */
export function refine(qr: QR, A: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, x0: Float64Array, { low, watch, maxSteps = 10 }: RefineOptions = {}): Refined {
  const { rows: n, cols: p, scale } = qr;
  const x = Float64Array.from(x0);
  const r = new Float64Array(n);
  const f = new Float64Array(n);
  const g = new Float64Array(p);
  const lowG = new Float64Array(p);
  const acc = new Accumulator();
  const gAcc = Array.from({ length: p }, () => new Accumulator());
  const watched = watch ?? [...x.keys()];
  // low's terms are ~1e-16 of A's, so plain doubles carry them to the residuals' accuracy.
  const lowDot = (i: number, v: ArrayLike<number>) => {
    let s = 0;
    for (let j = 0; j < p; j++) s += low![i * p + j]! * v[j]!;
    return s;
  };
  // r = b - A x, to start.
  for (let i = 0; i < n; i++) {
    acc.reset(b[i]!);
    for (let j = 0; j < p; j++) acc.addProduct(-A[i * p + j]!, x[j]!);
    if (low) acc.add(-lowDot(i, x));
    r[i] = acc.value();
  }
  let steps = 0;
  let converged = false;
  let correction = NaN;
  let ratio = NaN;
  let rssChange = NaN;
  while (steps < maxSteps) {
    // One pass over the rows: f_i = b_i - r_i - A_i x, and g_j = c_j - Σ_i A_ij r_i.
    gAcc.forEach((a, j) => a.reset(c[j]!));
    lowG.fill(0);
    for (let i = 0; i < n; i++) {
      acc.reset(b[i]!).add(-r[i]!);
      const ri = r[i]!;
      for (let j = 0; j < p; j++) {
        const aij = A[i * p + j]!;
        acc.addProduct(-aij, x[j]!);
        gAcc[j]!.addProduct(-aij, ri);
      }
      if (low) {
        acc.add(-lowDot(i, x));
        for (let j = 0; j < p; j++) lowG[j] = lowG[j]! + low[i * p + j]! * ri;
      }
      f[i] = acc.value();
    }
    for (let j = 0; j < p; j++) g[j] = gAcc[j]!.add(-lowG[j]!).value() / scale[j]!;
    const h = qr.forwardSolve(g);
    const d = qr.applyQt(f.slice());
    const dz = qr.backSolve(d.map((v, j) => (j < p ? v - h[j]! : v)));
    const dr = qr.applyQ(d.map((v, j) => (j < p ? h[j]! : v)));
    steps++;
    const previous = correction;
    correction = 0;
    let moved = false;
    for (let j = 0; j < p; j++) {
      x[j] = x[j]! + dz[j]! / scale[j]!;
      correction = Math.max(correction, Math.abs(dz[j]!));
    }
    for (const j of watched) if (Math.abs(dz[j]! / scale[j]!) > 2 ** -53 * Math.abs(x[j]!)) moved = true;
    let rss = 0;
    let change = 0;
    for (let i = 0; i < n; i++) {
      change += dr[i]! * (2 * r[i]! + dr[i]!);
      r[i] = r[i]! + dr[i]!;
      rss += r[i]! * r[i]!;
    }
    rssChange = rss > 0 ? Math.abs(change) / rss : 0;
    ratio = steps > 1 ? correction / previous : NaN;
    if (!moved) {
      converged = true;
      break;
    }
    if (ratio > 0.5) break;
  }
  return { x, r, steps, converged, correction, ratio, rssChange };
}

/**
 * Solves min ||A x - y|| for each of `targets` columns of Y; A is rows x cols, row-major, of full
 * column rank (else RankError). Refined in extended precision (see `refine`).
 */
export function lstsq(A: ArrayLike<number>, rows: number, cols: number, Y: ArrayLike<number>, targets: number, qr = new QR(A, rows, cols)): Float64Array {
  const out = new Float64Array(cols * targets);
  const zero = new Float64Array(cols);
  for (let t = 0; t < targets; t++) {
    const y = Float64Array.from({ length: rows }, (_, i) => Y[i * targets + t]!);
    const { x } = refine(qr, A, y, zero, qr.solve(y));
    for (let j = 0; j < cols; j++) out[j * targets + t] = x[j]!;
  }
  return out;
}

/**
 * Closed-form fit of Y = X Wᵀ + b: returns W (targets x features) and b (targets), the layout
 * the graph's parameters use, and the rows' leverages from the same factorization, on demand.
 */
export function fitLinear(X: readonly (readonly number[])[], Y: readonly (readonly number[])[]): { W: number[][]; b: number[]; leverages: () => Float64Array } {
  const n = X.length;
  const d = X[0]!.length;
  const k = Y[0]!.length;
  const A = new Float64Array(n * (d + 1));
  X.forEach((row, i) => {
    A[i * (d + 1)] = 1;
    row.forEach((v, j) => (A[i * (d + 1) + j + 1] = v));
  });
  const qr = new QR(A, n, d + 1);
  const coef = lstsq(A, n, d + 1, Float64Array.from(Y.flat()), k, qr);
  const W = Array.from({ length: k }, (_, t) => Array.from({ length: d }, (_, j) => coef[(j + 1) * k + t]!));
  const b = Array.from({ length: k }, (_, t) => coef[t]!);
  return { W, b, leverages: () => qr.leverages(A) };
}
