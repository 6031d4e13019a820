/**
 * @file Ordinary least squares with the statistics statsmodels and R's lm() print: coefficients,
 * standard errors, t statistics, p-values and 95% intervals (t distribution from @stdlib), R²,
 * adjusted R², the F statistic (its p-value from @stdlib's incomplete beta), the residual standard
 * error, and the condition number. Solved by QR of the column-scaled design and refined in
 * double-double (Björck's augmented system), so ill-conditioned designs such as a degree-10
 * polynomial in raw x keep their digits; standard errors from the same factorization. Reports
 * what the answer's digits rest on: the condition number before and after scaling, the
 * refinement's steps, and an estimate of the correct digits.
 */
import tcdf from '@stdlib/stats-base-dists-t-cdf';
import tquantile from '@stdlib/stats-base-dists-t-quantile';
import betainc from '@stdlib/math-base-special-betainc';
import { InputError } from './data.js';
import { Accumulator } from './extended.js';
import { QR, RankError, refine, type Refined } from './lstsq.js';

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
  /** Condition number of the design as given (before scaling). */
  condUnscaled: number;
  /**
   * The refinement of the coefficients: steps taken and whether the last moved no coefficient
   * past its last bit; seSteps, each standard error's own (0: from R alone, condition <= 1e4).
   */
  refinement: { steps: number; converged: boolean; seSteps: number[] };
  /**
   * Estimated correct significant digits of each coefficient and standard error, as the exact
   * least-squares answer for the numbers given (the data as read; polynomial terms exact when
   * `low` is given), and the least of them: see `ESTIMATE` below. At most 15.95 (a double's own).
   */
  digits: { coef: number[]; se: number[]; min: number };
  intercept: boolean;
}

export interface OlsOptions {
  intercept?: boolean;
  /**
   * What rounding each entry of X to a double left out (same shape as X): the design solved is
   * X + low. `polynomial` returns it for its powers.
   */
  low?: readonly (readonly number[])[];
}

/**
 * Condition numbers (of the column-scaled design) above this are flagged in the summary: there,
 * anything that forms XᵀX (whose condition number is the square) loses 10 of float64's 16 digits,
 * and the coefficients swing with small changes in the data.
 */
export const LARGE_CONDITION = 1e5;

/** A double's unit roundoff, 2^-53. */
const EPS = 2 ** -53;

export function ols(X: readonly (readonly number[])[], y: readonly number[], names: string[], { intercept = true, low }: OlsOptions = {}): OlsResult {
  const n = X.length;
  const terms = intercept ? ['const', ...names] : [...names];
  const p = terms.length;
  if (n <= p) throw new InputError(`ols: ${n} rows cannot fit ${p} coefficients (${terms.join(', ')}); it needs more rows than coefficients`);
  const first = intercept ? 1 : 0;
  const A = new Float64Array(n * p);
  X.forEach((row, i) => {
    if (intercept) A[i * p] = 1;
    row.forEach((v, j) => (A[i * p + j + first] = v));
  });
  let Alow: Float64Array | undefined;
  if (low) {
    const bad = low.length !== n ? low.length : low.findIndex((row, i) => row.length !== X[i]!.length);
    if (low.length !== n || bad >= 0) throw new InputError(`ols: low must have X's shape (${n} rows of ${names.length}); ${low.length !== n ? `it has ${low.length} rows` : `row ${bad} has ${low[bad]!.length} entries`}`);
    Alow = new Float64Array(n * p);
    low.forEach((row, i) => row.forEach((v, j) => (Alow![i * p + j + first] = v)));
  }
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
  const fit = refine(qr, A, y, zeros, qr.solve(y), { low: Alow });
  const { x: coef, r: res } = fit;
  const rssAcc = res.reduce((acc, v) => acc.addProduct(v, v), new Accumulator());
  // An exact fit: the residuals are below what the double-double residual resolves, about
  // 2^-104 (p + 2) (|y_i| + Σ_j |A_ij x_j|) a row, so they are rounding noise and count as zero.
  let floor = 0;
  for (let i = 0; i < n; i++) {
    let m = Math.abs(y[i]!);
    for (let j = 0; j < p; j++) m += Math.abs(A[i * p + j]! * coef[j]!);
    floor += m * m;
  }
  const exactFit = rssAcc.value() <= 2 ** -208 * (p + 2) ** 2 * floor;
  if (exactFit) rssAcc.reset();
  const rss = rssAcc.value();
  const mean = y.reduce((acc, v) => acc.add(v), new Accumulator()).value() / n;
  // Through the origin, R² uses the uncentered total sum of squares (as R and statsmodels do).
  const tssAcc = y.reduce((acc, v) => acc.addProduct(v - (intercept ? mean : 0), v - (intercept ? mean : 0)), new Accumulator());
  const tss = tssAcc.value();
  // The explained sum of squares in double-double: R² near 0 (rss near tss) keeps its digits.
  const explained = tssAcc.add(-rssAcc.hi).add(-rssAcc.lo).value();
  const df = n - p;
  const sigma2 = rss / df;
  const R = qr.r();
  const cond = conditionNumber(R, p);
  // A = Q R S with S = diag(scale): the design as given has R S's singular values.
  const condUnscaled = conditionNumber(R.map((v, k) => v * qr.scale[k % p]!), p);
  // Standard errors from the diagonal of (AᵀA)⁻¹. From R alone it carries a relative error of
  // about cond · eps; past cond 1e4 (worse than 1e-12) each diagonal entry is refined as the
  // solution of [I A; Aᵀ 0] [r; x] = [0; -e_j], which costs one more refinement per coefficient.
  const gram = Array.from({ length: p }, (_, j) => {
    const e = new Float64Array(p);
    e[j] = 1 / qr.scale[j]!;
    const x0 = qr.backSolve(qr.forwardSolve(e)).map((v, k) => v / qr.scale[k]!);
    if (cond <= 1e4) return { value: x0[j]!, steps: 0, error: cond * EPS * Math.abs(x0[j]!) };
    const c = new Float64Array(p);
    c[j] = -1;
    // Only x_j is wanted: its convergence ends the refinement.
    const g = refine(qr, A, new Float64Array(n), c, x0, { low: Alow, watch: [j] });
    return { value: g.x[j]!, steps: g.steps, error: refinedError(g, cond, qr.scale)[j]! };
  });
  const se = gram.map((g) => Math.sqrt(sigma2 * g.value));
  // ESTIMATE: a coefficient's error is what the refinement left (refinedError); a standard
  // error's relative error is half that of σ² (what the residual's last correction left of its
  // change to ||r||²) plus half that of its (AᵀA)⁻¹ entry, plus the final roundings. An exact
  // fit's standard errors are zero, as exact as its residuals.
  const coefError = refinedError(fit, cond, qr.scale);
  const sigma2Rel = exactFit ? 0 : rateFactor(fit, cond) * fit.rssChange + 2 * EPS;
  const digits = {
    coef: Array.from(coef, (c, j) => digitsOf(coefError[j]!, c)),
    se: gram.map((g, j) => digitsOf((sigma2Rel / 2 + g.error / Math.abs(g.value) / 2 + EPS) * se[j]!, se[j]!)),
    min: 0,
  };
  digits.min = Math.min(...digits.coef, ...digits.se);
  const tq = tquantile(0.975, df);
  const t = Array.from(coef, (c, j) => c / se[j]!);
  const r2 = explained / tss;
  const dfModel = intercept ? p - 1 : p;
  const fStat = dfModel > 0 ? explained / dfModel / sigma2 : NaN;
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
    condUnscaled,
    refinement: { steps: fit.steps, converged: fit.converged, seSteps: gram.map((g) => g.steps) },
    digits,
    intercept,
  };
}

/** The digits a double holds: -log10(2^-53). */
const MAX_DIGITS = -Math.log10(EPS);

/** Significant digits of `value` given an absolute error, from 0 to a double's 15.95. */
function digitsOf(error: number, value: number): number {
  if (error === 0) return MAX_DIGITS;
  return Math.min(MAX_DIGITS, Math.max(0, -Math.log10(error / Math.abs(value))));
}

/**
 * How much of the last correction is still wrong: each step multiplies the error by a rate of
 * at least cond · eps (the QR solve's relative accuracy) or the ratio of the last two
 * corrections if larger; the error left after a step is rate / (1 - rate) times that step's
 * correction. Past a rate of 1/2 (corrections at rounding noise, or diverging) the correction
 * itself is the error.
 */
function rateFactor(g: Refined, cond: number): number {
  const rate = Math.max(cond * EPS, Number.isNaN(g.ratio) ? 0 : g.ratio);
  return rate < 0.5 ? rate / (1 - rate) : 1;
}

/**
 * Estimated absolute error of each refined component: the correction still wrong (largest in
 * the scaled variables, so divided by the column's scale) plus the last bit of x itself.
 */
function refinedError(g: Refined, cond: number, scale: Float64Array): Float64Array {
  const left = rateFactor(g, cond) * g.correction;
  return g.x.map((v, j) => left / scale[j]! + EPS * Math.abs(v));
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
    `F ${r.fStat.toPrecision(5)} (p ${r.fPValue.toExponential(2)}), residual std. error ${r.sigma.toPrecision(5)}, condition number ${r.cond.toPrecision(3)} (${r.condUnscaled.toPrecision(3)} unscaled)`,
    `refined in ${r.refinement.steps} step${r.refinement.steps === 1 ? '' : 's'}${r.refinement.converged ? '' : ' (stopped short of its last bit)'}; about ${Math.floor(r.digits.min * 10) / 10} correct digits in every coefficient and standard error`,
    rule,
    head,
    '-'.repeat(head.length),
    ...rows,
    rule,
  ];
  if (r.cond > LARGE_CONDITION) lines.push(`warning: the condition number (columns scaled to unit length) is large, ${r.cond.toExponential(2)}: the columns are nearly collinear, so the coefficients are sensitive to small changes in the data.`);
  return lines.join('\n');
}
