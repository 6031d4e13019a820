/**
 * @file Ordinary least squares with the statistics statsmodels and R's lm() print: coefficients,
 * standard errors, t statistics, p-values and 95% intervals (t distribution from @stdlib), R²,
 * adjusted R², the F statistic (its p-value from @stdlib's incomplete beta), the residual standard
 * error, and the condition number. Solved by QR of the column-scaled design and refined in
 * double-double (Björck's augmented system), so ill-conditioned designs such as a degree-10
 * polynomial in raw x keep their digits; standard errors from the same factorization.
 */
import tcdf from '@stdlib/stats-base-dists-t-cdf';
import tquantile from '@stdlib/stats-base-dists-t-quantile';
import betainc from '@stdlib/math-base-special-betainc';
import { InputError } from './data.js';
import { Accumulator } from './extended.js';
import { QR, RankError, refine } from './lstsq.js';

export interface OlsResult {
  n: number;
  /** Residual degrees of freedom, n - p. */
  df: number;
  terms: string[];
  coef: number[];
  se: number[];
  t: number[];
  p: number[];
  ci95: [number, number][];
  r2: number;
  adjR2: number;
  fStat: number;
  fPValue: number;
  /** Residual standard error. */
  sigma: number;
  /** Condition number of the design with its columns scaled to unit length. */
  cond: number;
  intercept: boolean;
}

/**
 * Condition numbers (of the column-scaled design) above this are flagged in the summary: there,
 * anything that forms XᵀX (whose condition number is the square) loses 10 of float64's 16 digits,
 * and the coefficients swing with small changes in the data.
 */
export const LARGE_CONDITION = 1e5;

export function ols(X: readonly (readonly number[])[], y: readonly number[], names: string[], { intercept = true } = {}): OlsResult {
  const n = X.length;
  const terms = intercept ? ['const', ...names] : [...names];
  const p = terms.length;
  if (n <= p) throw new InputError(`ols: ${n} rows cannot fit ${p} coefficients (${terms.join(', ')}); it needs more rows than coefficients`);
  const A = new Float64Array(n * p);
  X.forEach((row, i) => {
    if (intercept) A[i * p] = 1;
    row.forEach((v, j) => (A[i * p + j + (intercept ? 1 : 0)] = v));
  });
  let qr: QR;
  try {
    qr = new QR(A, n, p);
  } catch (err) {
    if (!(err instanceof RankError)) throw err;
    const bad = err.columns.map((j) => terms[j]!);
    throw new InputError(
      `ols: ${bad.map((b) => `"${b}"`).join(', ')} ${bad.length > 1 ? 'are' : 'is'} (nearly) a linear combination of ${err.columns[0] === 0 ? 'nothing' : terms.slice(0, err.columns[0]).join(', ')}: the columns are collinear, so the coefficients are not determined; drop one`,
    );
  }
  // The coefficients, refined in extended precision (regression/lstsq.ts: refine).
  const zeros = new Float64Array(p);
  const { x: coef, r: res } = refine(qr, A, y, zeros, qr.solve(y));
  const rss = res.reduce((acc, v) => acc.addProduct(v, v), new Accumulator()).value();
  const mean = y.reduce((acc, v) => acc.add(v), new Accumulator()).value() / n;
  // Through the origin, R² uses the uncentered total sum of squares (as R and statsmodels do).
  const tss = y.reduce((acc, v) => acc.addProduct(v - (intercept ? mean : 0), v - (intercept ? mean : 0)), new Accumulator()).value();
  const df = n - p;
  const sigma2 = rss / df;
  const cond = conditionNumber(qr.r(), p);
  // Standard errors from the diagonal of (AᵀA)⁻¹. From R alone it carries a relative error of
  // about cond · eps; past cond 1e4 (worse than 1e-12) each diagonal entry is refined as the
  // solution of [I A; Aᵀ 0] [r; x] = [0; -e_j], which costs one more refinement per coefficient.
  const gramDiag = Array.from({ length: p }, (_, j) => {
    const e = new Float64Array(p);
    e[j] = 1 / qr.scale[j]!;
    const x0 = qr.backSolve(qr.forwardSolve(e)).map((v, k) => v / qr.scale[k]!);
    if (cond <= 1e4) return x0[j]!;
    const c = new Float64Array(p);
    c[j] = -1;
    // Only x_j is wanted: its convergence ends the refinement.
    return refine(qr, A, new Float64Array(n), c, x0, { watch: [j] }).x[j]!;
  });
  const se = gramDiag.map((g) => Math.sqrt(sigma2 * g));
  const tq = tquantile(0.975, df);
  const t = Array.from(coef, (c, j) => c / se[j]!);
  const r2 = 1 - rss / tss;
  const dfModel = intercept ? p - 1 : p;
  const fStat = dfModel > 0 ? (tss - rss) / dfModel / sigma2 : NaN;
  return {
    n,
    df,
    terms,
    coef: Array.from(coef),
    se,
    t,
    p: t.map((v) => 2 * tcdf(-Math.abs(v), df)),
    ci95: Array.from(coef, (c, j) => [c - tq * se[j]!, c + tq * se[j]!] as [number, number]),
    r2,
    adjR2: 1 - ((1 - r2) * (intercept ? n - 1 : n)) / df,
    fStat,
    // P(F > f) = I_x(df/2, dfModel/2) at x = df / (df + dfModel f): exact in the far tail, where 1 - cdf rounds to 0.
    fPValue: dfModel > 0 ? betainc(df / (df + dfModel * fStat), df / 2, dfModel / 2) : NaN,
    sigma: Math.sqrt(sigma2),
    cond,
    intercept,
  };
}

/** Ratio of the largest to the smallest singular value of an upper-triangular p x p matrix (one-sided Jacobi). */
export function conditionNumber(R: Float64Array, p: number): number {
  const a = Float64Array.from(R);
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let i = 0; i < p - 1; i++) {
      for (let j = i + 1; j < p; j++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let k = 0; k < p; k++) {
          const x = a[k * p + i]!;
          const z = a[k * p + j]!;
          alpha += x * x;
          beta += z * z;
          gamma += x * z;
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const tan = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cos = 1 / Math.sqrt(1 + tan * tan);
        const sin = cos * tan;
        for (let k = 0; k < p; k++) {
          const x = a[k * p + i]!;
          const z = a[k * p + j]!;
          a[k * p + i] = cos * x - sin * z;
          a[k * p + j] = sin * x + cos * z;
        }
      }
    }
    if (!rotated) break;
  }
  const sv = Array.from({ length: p }, (_, j) => Math.sqrt(Array.from({ length: p }, (_, k) => a[k * p + j]! ** 2).reduce((s, v) => s + v, 0)));
  return Math.max(...sv) / Math.min(...sv);
}

const num = (v: number, width = 12) => {
  const a = Math.abs(v);
  const s = a !== 0 && (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : v.toFixed(4);
  return s.padStart(width);
};

/** The summary in the familiar layout. */
export function formatOls(r: OlsResult, target: string): string {
  const w = Math.max(8, ...r.terms.map((t) => t.length)) + 2;
  const head = `${''.padEnd(w)}${'coef'.padStart(12)}${'std err'.padStart(12)}${'t'.padStart(12)}${'P>|t|'.padStart(12)}${'[0.025'.padStart(12)}${'0.975]'.padStart(12)}`;
  const rule = '='.repeat(head.length);
  const rows = r.terms.map((term, j) => `${term.padEnd(w)}${num(r.coef[j]!)}${num(r.se[j]!)}${num(r.t[j]!)}${(r.p[j]! < 1e-4 ? r.p[j]!.toExponential(1) : r.p[j]!.toFixed(4)).padStart(12)}${num(r.ci95[j]![0])}${num(r.ci95[j]![1])}`);
  const lines = [
    rule,
    `OLS: ${target} ~ ${r.terms.filter((t) => t !== 'const').join(' + ')}${r.intercept ? '' : ' (no intercept)'}`,
    `rows ${r.n}, residual df ${r.df}, R² ${r.r2.toFixed(4)}${r.intercept ? '' : ' (uncentered)'}, adj. R² ${r.adjR2.toFixed(4)}`,
    `F ${r.fStat.toPrecision(5)} (p ${r.fPValue.toExponential(2)}), residual std. error ${r.sigma.toPrecision(5)}, condition number ${r.cond.toPrecision(3)}`,
    rule,
    head,
    '-'.repeat(head.length),
    ...rows,
    rule,
  ];
  if (r.cond > LARGE_CONDITION) lines.push(`warning: the condition number (columns scaled to unit length) is large, ${r.cond.toExponential(2)}: the columns are nearly collinear, so the coefficients are sensitive to small changes in the data.`);
  return lines.join('\n');
}
