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
import { Accumulator, binaryExponent, ldexp } from './extended.js';
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
  /**
   * R's test in summary.lm: the residual variance is below 1e-30 of the fitted values' mean
   * square plus variance (its warning: "essentially perfect fit: summary may be unreliable").
   * Then σ is rounding noise, so t, p, F and its p are NaN (not defined). `exact`: the residuals
   * are zero to what double-double resolves, and so are the standard errors; `rounding`: they are
   * rounding noise, and the standard errors carry no digits claim (NaN).
   */
  perfectFit: false | 'exact' | 'rounding';
  /** What the numbers rest on, one sentence each: a perfect fit, a constant y, subnormal data, a coefficient below float64's range. */
  notes: string[];
}

export interface OlsOptions {
  intercept?: boolean;
  /**
   * What rounding each entry of X to a double left out (same shape as X): the design solved is
   * X + low. `polynomial` returns it for its powers.
   */
  low?: readonly (readonly number[])[];
  /** The target's name, for messages (default "y"). */
  target?: string;
}

/**
 * Condition numbers (of the column-scaled design) above this are flagged in the summary: there,
 * anything that forms XᵀX (whose condition number is the square) loses 10 of float64's 16 digits,
 * and the coefficients swing with small changes in the data.
 */
export const LARGE_CONDITION = 1e5;

/** A double's unit roundoff, 2^-53. */
const EPS = 2 ** -53;

/** The smallest normal double, 2^-1022: below it a double holds fewer than 53 bits. */
const MIN_NORMAL = 2 ** -1022;

/** The digits a double of magnitude |v| holds: a double's own, fewer for a subnormal, none for 0. */
function heldDigits(v: number): number {
  const a = Math.abs(v);
  if (a >= MIN_NORMAL) return MAX_DIGITS;
  return a === 0 ? 0 : Math.min(MAX_DIGITS, Math.log10(a / 2 ** -1074));
}

/** "from a to b", a column's range for a message. */
function rangeOf(values: readonly number[]): string {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return `from ${lo.toPrecision(3)} to ${hi.toPrecision(3)}`;
}

/**
 * Fits y = X b (+ a constant) by least squares.
 *
 * Every column and y are first scaled by a power of two that brings their largest magnitude to
 * [1, 2): exact (only the exponents change), so the answer is the same double for any data that
 * needed none, and data near float64's edges (1e±300, subnormals near 1e-314) is solved as well
 * as any: unscaled, 1e300 overflows the double-double products (Dekker's split multiplies by
 * 2^27) and the sums of squares (1e600), and subnormals lose the low bits those products keep.
 * The coefficients, standard errors and σ are scaled back at the end; one beyond float64's range
 * is an InputError naming its column and the column's range.
 *
 * @example const r = ols([[1], [2], [3], [4]], [2.1, 3.9, 6.2, 7.8], ['x']); // r.coef: [0.1, 1.94]
 */
export function ols(X: readonly (readonly number[])[], y: readonly number[], names: string[], { intercept = true, low, target = 'y' }: OlsOptions = {}): OlsResult {
  const n = X.length;
  const terms = intercept ? ['const', ...names] : [...names];
  const p = terms.length;
  if (n <= p) throw new InputError(`ols: ${n} rows cannot fit ${p} coefficients (${terms.join(', ')}); it needs more rows than coefficients`);
  if (y.length !== n) throw new InputError(`ols: ${n} rows of X but ${y.length} values of ${target}`);
  const first = intercept ? 1 : 0;
  const column = (j: number) => (j < first ? new Array<number>(n).fill(1) : X.map((row) => row[j - first]!));
  // Each term's power of two (the constant's is 2^0), and y's.
  const shift = new Array<number>(p).fill(0);
  X.forEach((row, i) => {
    if (row.length !== names.length) throw new InputError(`ols: row ${i} of X has ${row.length} values for ${names.length} columns (${names.join(', ')})`);
    row.forEach((v, j) => {
      if (!Number.isFinite(v)) throw new InputError(`ols: column "${names[j]}" at row ${i} is ${v}; ols needs finite numbers`);
    });
  });
  for (let j = first; j < p; j++) shift[j] = binaryExponent(X.reduce((m, row) => Math.max(m, Math.abs(row[j - first]!)), 0));
  const bad = y.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new InputError(`ols: ${target} at row ${bad} is ${y[bad]}; ols needs finite numbers`);
  const yShift = binaryExponent(y.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
  const ys = y.map((v) => ldexp(v, -yShift));
  const A = new Float64Array(n * p);
  X.forEach((row, i) => {
    if (intercept) A[i * p] = 1;
    row.forEach((v, j) => (A[i * p + j + first] = ldexp(v, -shift[j + first]!)));
  });
  let Alow: Float64Array | undefined;
  if (low) {
    const bad = low.length !== n ? low.length : low.findIndex((row, i) => row.length !== X[i]!.length);
    if (low.length !== n || bad >= 0) throw new InputError(`ols: low must have X's shape (${n} rows of ${names.length}); ${low.length !== n ? `it has ${low.length} rows` : `row ${bad} has ${low[bad]!.length} entries`}`);
    Alow = new Float64Array(n * p);
    low.forEach((row, i) => row.forEach((v, j) => (Alow![i * p + j + first] = ldexp(v, -shift[j + first]!))));
  }
  const notes: string[] = [];
  // Subnormal cells (below 2^-1022) hold fewer than 53 bits as read: the answer is exact for them
  // as they are, but they are coarser than the file's digits.
  for (let j = first; j < p; j++) {
    const values = column(j);
    const least = values.reduce((m, v) => (v !== 0 && Math.abs(v) < MIN_NORMAL ? Math.min(m, Math.abs(v)) : m), Infinity);
    if (least < Infinity) notes.push(`column "${terms[j]}" has subnormal values (down to ${least.toPrecision(3)}, below float64's normal range, ${MIN_NORMAL.toPrecision(3)}): as read they hold only about ${heldDigits(least).toFixed(1)} significant digits`);
  }
  const yLeast = y.reduce((m, v) => (v !== 0 && Math.abs(v) < MIN_NORMAL ? Math.min(m, Math.abs(v)) : m), Infinity);
  if (yLeast < Infinity) notes.push(`${target} has subnormal values (down to ${yLeast.toPrecision(3)}, below float64's normal range, ${MIN_NORMAL.toPrecision(3)}): as read they hold only about ${heldDigits(yLeast).toFixed(1)} significant digits`);
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
  // The coefficients, refined in extended precision (regression/lstsq.ts: refine). A constant y
  // (with the constant term) or a zero y is fitted exactly by its constant (or 0) alone:
  // refinement would only chase the other coefficients' rounding noise towards 0.
  const zeros = new Float64Array(p);
  const constantY = ys.every((v) => v === ys[0]) && (intercept || ys[0] === 0);
  const fit: Refined = constantY
    ? { x: Float64Array.from({ length: p }, (_, j) => (j === 0 && intercept ? ys[0]! : 0)), r: new Float64Array(n), steps: 0, converged: true, correction: 0, ratio: NaN, rssChange: 0 }
    : refine(qr, A, ys, zeros, qr.solve(ys), { low: Alow });
  const { x: coef, r: res } = fit;
  const rssAcc = res.reduce((acc, v) => acc.addProduct(v, v), new Accumulator());
  // An exact fit: the residuals are below what the double-double residual resolves, about
  // 2^-104 (p + 2) (|y_i| + Σ_j |A_ij x_j|) a row, so they are rounding noise and count as zero.
  let floor = 0;
  for (let i = 0; i < n; i++) {
    let m = Math.abs(ys[i]!);
    for (let j = 0; j < p; j++) m += Math.abs(A[i * p + j]! * coef[j]!);
    floor += m * m;
  }
  const exactFit = rssAcc.value() <= 2 ** -208 * (p + 2) ** 2 * floor;
  if (exactFit) rssAcc.reset();
  const rss = rssAcc.value();
  const mean = ys.reduce((acc, v) => acc.add(v), new Accumulator()).value() / n;
  // Through the origin, R² uses the uncentered total sum of squares (as R and statsmodels do).
  const tssAcc = ys.reduce((acc, v) => acc.addProduct(v - (intercept ? mean : 0), v - (intercept ? mean : 0)), new Accumulator());
  const tss = tssAcc.value();
  // The explained sum of squares in double-double: R² near 0 (rss near tss) keeps its digits.
  const explained = tssAcc.add(-rssAcc.hi).add(-rssAcc.lo).value();
  const df = n - p;
  const sigma2 = rss / df;
  // R's summary.lm: "essentially perfect fit" when the residual variance is below 1e-30 of the
  // fitted values' mean square plus their variance (all in y's scaled units, so it cannot underflow).
  const fitted = ys.map((v, i) => v - res[i]!);
  const fMean = fitted.reduce((s, v) => s + v, 0) / n;
  const fVar = fitted.reduce((s, v) => s + (v - fMean) ** 2, 0) / (n - 1);
  const perfectFit = sigma2 < (fMean * fMean + fVar) * 1e-30;
  const R = qr.r();
  const cond = conditionNumber(R, p);
  // A = Q R S 2^shift with S = diag(scale): the design as given has the singular values of R S
  // 2^shift, taken about the middle shift so that the squares the rotations form stay in range
  // while the shifts span under ~1000 bits. Past that the largest column norm over the smallest,
  // a lower bound of the condition number, is itself beyond float64: Infinity is then the truth.
  const middle = Math.round((Math.max(...shift) + Math.min(...shift)) / 2);
  const condUnscaled = conditionNumber(R.map((v, k) => ldexp(v * qr.scale[k % p]!, shift[k % p]! - middle)), p);
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
  const seScaled = gram.map((g) => Math.sqrt(sigma2 * g.value));
  // ESTIMATE: a coefficient's error is what the refinement left (refinedError); a standard
  // error's relative error is half that of σ² (what the residual's last correction left of its
  // change to ||r||²) plus half that of its (AᵀA)⁻¹ entry, plus the final roundings. An exact
  // fit's standard errors are zero, as exact as its residuals; those of a perfect fit that is
  // not exact rest on residuals at rounding level, and get no estimate (NaN).
  const coefError = refinedError(fit, cond, qr.scale);
  const sigma2Rel = exactFit ? 0 : rateFactor(fit, cond) * fit.rssChange + 2 * EPS;
  const tq = tquantile(0.975, df);
  // Back to the data's units: coefficient j is in units of y / column j. A result below float64's
  // normal range keeps fewer digits, and the estimate says so.
  const unit = (j: number) => yShift - shift[j]!;
  const coefOut = Array.from(coef, (c, j) => ldexp(c, unit(j)));
  const se = seScaled.map((s, j) => ldexp(s, unit(j)));
  const ci95 = Array.from(coef, (c, j) => [ldexp(c - tq * seScaled[j]!, unit(j)), ldexp(c + tq * seScaled[j]!, unit(j))] as [number, number]);
  const sigma = ldexp(Math.sqrt(sigma2), yShift);
  for (let j = 0; j < p; j++) {
    if ([coefOut[j]!, se[j]!, ...ci95[j]!].every(Number.isFinite)) continue;
    const size = (v: number) => `about 1e${Math.round(Math.log10(Math.abs(v)) + unit(j) * Math.log10(2))}`;
    const which = Number.isFinite(coefOut[j]!) ? `its standard error (${size(seScaled[j]!)}) or its 95% interval` : `${size(coef[j]!)}`;
    throw new InputError(
      `ols: the coefficient of "${terms[j]}" is beyond float64's range (±${Number.MAX_VALUE.toPrecision(3)}): ${which}, in units of ${target} (${rangeOf(y)}) per ${terms[j]} (${rangeOf(column(j))}); rescale "${terms[j]}" or ${target} (multiply by a power of ten) so that their ratio is within float64's range`,
    );
  }
  if (!Number.isFinite(sigma)) throw new InputError(`ols: the residual standard error is beyond float64's range: ${target} runs ${rangeOf(y)}; rescale it (divide by a power of ten)`);
  const digits = {
    coef: Array.from(coef, (c, j) => (c === 0 && coefError[j] === 0 ? MAX_DIGITS : Math.min(digitsOf(coefError[j]!, c), heldDigits(coefOut[j]!)))),
    se: gram.map((g, j) => (perfectFit && !exactFit ? NaN : seScaled[j] === 0 ? MAX_DIGITS : Math.min(digitsOf((sigma2Rel / 2 + g.error / Math.abs(g.value) / 2 + EPS) * seScaled[j]!, seScaled[j]!), heldDigits(se[j]!)))),
    min: 0,
  };
  digits.min = Math.min(...digits.coef, ...digits.se.filter((d) => !Number.isNaN(d)));
  coefOut.forEach((c, j) => {
    if (c === 0 && coef[j] !== 0) notes.push(`the coefficient of "${terms[j]}" (about 1e${Math.round(Math.log10(Math.abs(coef[j]!)) + unit(j) * Math.log10(2))}) is below float64's smallest (${(2 ** -1074).toPrecision(2)}) and shows as 0`);
  });
  const t = Array.from(coef, (c, j) => (perfectFit ? NaN : c / seScaled[j]!));
  // Constant y has no variance to explain: R² is 0/0.
  const r2 = tss > 0 ? explained / tss : NaN;
  const dfModel = intercept ? p - 1 : p;
  const fStat = dfModel > 0 && !perfectFit ? explained / dfModel / sigma2 : NaN;
  if (constantY) notes.push(`${target} is constant (every value is ${y[0]}): ${intercept ? 'the constant term fits it exactly, every other coefficient is 0' : 'every coefficient is 0'}, and R² is not defined`);
  return {
    n,
    df,
    terms,
    coef: coefOut,
    se,
    t,
    p: t.map((v) => 2 * tcdf(-Math.abs(v), df)),
    ci95,
    r2,
    adjR2: 1 - ((1 - r2) * (intercept ? n - 1 : n)) / df,
    fStat,
    // P(F > f) = I_x(df/2, dfModel/2) at x = df / (df + dfModel f): exact in the far tail, where 1 - cdf rounds to 0.
    fPValue: Number.isNaN(fStat) ? NaN : betainc(df / (df + dfModel * fStat), df / 2, dfModel / 2),
    sigma,
    cond,
    condUnscaled,
    refinement: { steps: fit.steps, converged: fit.converged, seSteps: gram.map((g) => g.steps) },
    digits,
    intercept,
    perfectFit: perfectFit ? (exactFit ? 'exact' : 'rounding') : false,
    notes,
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
  if (Number.isNaN(v)) return 'n/a'.padStart(width);
  const a = Math.abs(v);
  const s = a !== 0 && (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : v.toFixed(4);
  return s.padStart(width);
};

/** A statistic that is NaN (not defined: a perfect fit, a constant y) prints as "n/a". */
const stat = (v: number, show: (v: number) => string) => (Number.isNaN(v) ? 'n/a' : show(v));

/** The summary in the familiar layout. */
export function formatOls(r: OlsResult, target: string): string {
  const w = Math.max(8, ...r.terms.map((t) => t.length)) + 2;
  const head = `${''.padEnd(w)}${'coef'.padStart(12)}${'std err'.padStart(12)}${'t'.padStart(12)}${'P>|t|'.padStart(12)}${'[0.025'.padStart(12)}${'0.975]'.padStart(12)}`;
  const rule = '='.repeat(head.length);
  const pValue = (v: number) => stat(v, (x) => (x < 1e-4 ? x.toExponential(1) : x.toFixed(4))).padStart(12);
  const rows = r.terms.map((term, j) => `${term.padEnd(w)}${num(r.coef[j]!)}${num(r.se[j]!)}${num(r.t[j]!)}${pValue(r.p[j]!)}${num(r.ci95[j]![0])}${num(r.ci95[j]![1])}`);
  const digits = Math.floor(r.digits.min * 10) / 10;
  // The claim covers what it can vouch for: a perfect fit's standard errors are rounding noise.
  const claim = r.digits.se.some(Number.isNaN) ? `about ${digits} correct digits in every coefficient (none claimed for the standard errors)` : `about ${digits} correct digits in every coefficient and standard error`;
  const lines = [
    rule,
    `OLS: ${target} ~ ${r.terms.filter((t) => t !== 'const').join(' + ')}${r.intercept ? '' : ' (no intercept)'}`,
    `rows ${r.n}, residual df ${r.df}, R² ${stat(r.r2, (v) => v.toFixed(4))}${r.intercept ? '' : ' (uncentered)'}, adj. R² ${stat(r.adjR2, (v) => v.toFixed(4))}`,
    `F ${stat(r.fStat, (v) => `${v.toPrecision(5)} (p ${r.fPValue.toExponential(2)})`)}, residual std. error ${r.sigma.toPrecision(5)}, condition number ${r.cond.toPrecision(3)} (${Number.isFinite(r.condUnscaled) ? r.condUnscaled.toPrecision(3) : `over ${Number.MAX_VALUE.toPrecision(2)}`} unscaled)`,
    `refined in ${r.refinement.steps} step${r.refinement.steps === 1 ? '' : 's'}${r.refinement.converged ? '' : ' (stopped short of its last bit)'}; ${claim}`,
    rule,
    head,
    '-'.repeat(head.length),
    ...rows,
    rule,
  ];
  if (r.cond > LARGE_CONDITION) lines.push(`warning: the condition number (columns scaled to unit length) is large, ${r.cond.toExponential(2)}: the columns are nearly collinear, so the coefficients are sensitive to small changes in the data.`);
  if (r.perfectFit) lines.push(`warning: essentially perfect fit (R's lm warns "summary may be unreliable"): the residuals are ${r.perfectFit === 'exact' ? 'zero, so the standard errors are 0' : 'at rounding level, so the standard errors are rounding noise'}, and t, p and F are not defined.`);
  lines.push(...r.notes.map((note) => `note: ${note}.`));
  return lines.join('\n');
}
