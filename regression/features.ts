/** @file Feature transforms: polynomial terms of one x, and z-scores with the population standard deviation. */
import { InputError } from './data.js';
import { Accumulator, binaryExponent, ldexp } from './extended.js';

/**
 * x, x^2, ..., x^degree of a single column, named "x", "x^2", ..., each power the double nearest
 * x^k, and in `low` what rounding it to a double left out (x^k = X + low to about 32 digits).
 * `ols` solves for the exact powers when given `low`: on an ill-conditioned polynomial, rounding
 * the powers alone moves the coefficients by the condition number times 1e-16 (NIST's Filip
 * data, degree 10, condition 5e9 with scaled columns: 7.6 correct digits without `low`, 14 with it).
 */
export function polynomial(X: number[][], features: string[], degree: number): { X: number[][]; features: string[]; low: number[][] } {
  if (features.length !== 1) throw new InputError(`--poly expands one x column, got ${features.length} (${features.join(', ')}); name one with --x`);
  if (!Number.isInteger(degree) || degree < 1 || degree > 12) throw new InputError(`--poly: the degree must be an integer from 1 to 12, got ${degree}`);
  const name = features[0]!;
  const acc = new Accumulator();
  const hi: number[][] = [];
  const low: number[][] = [];
  for (const [x] of X) {
    // x^k = x^(k-1) x in double-double: each step rounds at about 1e-32.
    const h = (hi[hi.length] = new Array<number>(degree));
    const l = (low[low.length] = new Array<number>(degree));
    h[0] = x!;
    l[0] = 0;
    for (let k = 1; k < degree; k++) {
      acc.reset().addProduct(h[k - 1]!, x!).addProduct(l[k - 1]!, x!);
      h[k] = acc.hi;
      l[k] = acc.lo;
    }
  }
  return { X: hi, features: Array.from({ length: degree }, (_, p) => (p === 0 ? name : `${name}^${p + 1}`)), low };
}

export interface Scaling {
  mean: number[];
  sd: number[];
}

/**
 * Means and population standard deviations of each column. Each column is summed scaled by a
 * power of two that brings its largest magnitude to [1, 2) (exact, so ordinary data gets the very
 * same doubles): a column near 1e300 would otherwise square to Infinity, its z-scores all 0 and
 * its weight trained at 0. A constant column (spread under 1e-12 of its largest magnitude, so
 * data near 1e-300 is not constant), and one whose values differ by more than float64 holds
 * (a z-score's v - mean would overflow), are errors naming the column.
 */
export function scaling(rows: number[][], names: string[], what: string): Scaling {
  const n = rows.length;
  const mean: number[] = [];
  const sd: number[] = [];
  names.forEach((name, j) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rows) {
      lo = Math.min(lo, r[j]!);
      hi = Math.max(hi, r[j]!);
    }
    if (!Number.isFinite(hi - lo)) {
      throw new InputError(`--standardize: ${what} column "${name}" runs from ${lo.toPrecision(3)} to ${hi.toPrecision(3)}, a spread beyond float64's range (${Number.MAX_VALUE.toPrecision(3)}), so its z-scores overflow; rescale it (divide by a power of ten) or leave it out`);
    }
    const k = binaryExponent(Math.max(Math.abs(lo), Math.abs(hi)));
    const m = rows.reduce((s, r) => s + ldexp(r[j]!, -k), 0) / n;
    const s = Math.sqrt(rows.reduce((s, r) => s + (ldexp(r[j]!, -k) - m) ** 2, 0) / n);
    if (!(s > 1e-12)) {
      throw new InputError(`--standardize: ${what} column "${name}" is constant (every value is ${ldexp(m, k)}), so it has no z-score; leave it out`);
    }
    mean.push(ldexp(m, k));
    sd.push(ldexp(s, k));
  });
  return { mean, sd };
}

export const standardize = (rows: number[][], s: Scaling): number[][] => rows.map((r) => r.map((v, j) => (v - s.mean[j]!) / s.sd[j]!));

/**
 * Coefficients of y = X Wᵀ + b trained on z-scores, in the data's own units:
 * W_tj = sd_y,t W'_tj / sd_x,j and b_t = mean_y,t + sd_y,t (b'_t - Σ_j W'_tj mean_x,j / sd_x,j).
 */
export function unstandardize(W: number[][], b: number[], x: Scaling | null, y: Scaling | null): { W: number[][]; b: number[] } {
  const xm = (j: number) => x?.mean[j] ?? 0;
  const xs = (j: number) => x?.sd[j] ?? 1;
  const ym = (t: number) => y?.mean[t] ?? 0;
  const ys = (t: number) => y?.sd[t] ?? 1;
  return {
    W: W.map((row, t) => row.map((w, j) => (ys(t) * w) / xs(j))),
    b: b.map((bt, t) => ym(t) + ys(t) * (bt - W[t]!.reduce((s, w, j) => s + (w * xm(j)) / xs(j), 0))),
  };
}

/** The inverse of `unstandardize`: coefficients in the data's units, as the z-scores of `x` and `y` would have them. */
export function restandardize(W: number[][], b: number[], x: Scaling | null, y: Scaling | null): { W: number[][]; b: number[] } {
  const xm = (j: number) => x?.mean[j] ?? 0;
  const xs = (j: number) => x?.sd[j] ?? 1;
  const ym = (t: number) => y?.mean[t] ?? 0;
  const ys = (t: number) => y?.sd[t] ?? 1;
  return {
    W: W.map((row, t) => row.map((w, j) => (w * xs(j)) / ys(t))),
    b: b.map((bt, t) => (bt + W[t]!.reduce((s, w, j) => s + w * xm(j), 0) - ym(t)) / ys(t)),
  };
}
