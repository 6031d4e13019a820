/**
 * @file How much the accurate closed form costs: CPU time of `ols` (column-scaled QR, refinement in
 * double-double, standard errors, condition number) against a plain float64 Householder QR solve
 * of the same 1e6 x 16 problem (the bar: within 3x). Writes bench/results/<date>-cpu-ols.json.
 *
 * Run: npm run build && node dist/bench/ols.js [--rows 1000000] [--cols 16]
 */
import { parseArgs } from 'node:util';
import { ols } from '../regression/ols.js';
import { normals } from '../engine/random.js';
import { writeResults } from './lib.js';

const { values } = parseArgs({ options: { rows: { type: 'string' }, cols: { type: 'string' }, quick: { type: 'boolean' } } });
const n = Number(values.rows ?? (values.quick ? 20000 : 1e6));
const p = Number(values.cols ?? 16);
// Correlated columns (a shared signal plus each column's own), so the design is not trivially orthogonal.
const X = Array.from({ length: n }, (_, i) => Array.from({ length: p - 1 }, (_, j) => Math.sin(0.001 * i) + 0.3 * Math.sin(1 + i * (j + 1.37)) * (j + 1)));
const noise = normals(n, 1);
const y = X.map((row, i) => row.reduce((s, v, j) => s + (j - 3) * v, 2) + noise[i]!);

/** The baseline: Householder QR of the design as given (no scaling), Qᵀy, back substitution. */
function plainQr(A: Float64Array, b: Float64Array, rows: number, cols: number): Float64Array {
  for (let j = 0; j < cols; j++) {
    let norm = 0;
    for (let i = j; i < rows; i++) norm = Math.hypot(norm, A[i * cols + j]!);
    const alpha = A[j * cols + j]! > 0 ? -norm : norm;
    A[j * cols + j] = A[j * cols + j]! - alpha;
    let vv = 0;
    for (let i = j; i < rows; i++) vv += A[i * cols + j]! ** 2;
    const apply = (get: (i: number) => number, set: (i: number, v: number) => void) => {
      let dot = 0;
      for (let i = j; i < rows; i++) dot += A[i * cols + j]! * get(i);
      const f = (2 * dot) / vv;
      for (let i = j; i < rows; i++) set(i, get(i) - f * A[i * cols + j]!);
    };
    for (let k = j + 1; k < cols; k++) apply((i) => A[i * cols + k]!, (i, v) => (A[i * cols + k] = v));
    apply((i) => b[i]!, (i, v) => (b[i] = v));
    A[j * cols + j] = alpha; // keep R's diagonal for the back substitution
  }
  const x = new Float64Array(cols);
  for (let j = cols - 1; j >= 0; j--) {
    let s = b[j]!;
    for (let k = j + 1; k < cols; k++) s -= A[j * cols + k]! * x[k]!;
    x[j] = s / A[j * cols + j]!;
  }
  return x;
}

const time = <T>(f: () => T) => {
  const t = performance.now();
  const out = f();
  return { ms: performance.now() - t, out };
};
const runs = values.quick ? 1 : 3;
const plain: number[] = [];
const full: number[] = [];
let result: ReturnType<typeof ols> | undefined;
let baseline: Float64Array | undefined;
for (let r = 0; r < runs; r++) {
  const A = new Float64Array(n * p);
  X.forEach((row, i) => {
    A[i * p] = 1;
    row.forEach((v, j) => (A[i * p + j + 1] = v));
  });
  const a = time(() => plainQr(A, Float64Array.from(y), n, p));
  plain.push(a.ms);
  baseline = a.out;
  const b = time(() => ols(X, y, X[0]!.map((_, j) => `x${j + 1}`)));
  full.push(b.ms);
  result = b.out;
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const ratio = median(full) / median(plain);
const agree = Math.max(...result!.coef.map((c, j) => Math.abs(c - baseline![j]!) / Math.max(1e-300, Math.abs(c))));
console.log(`ols on ${n} x ${p} (CPU, Node ${process.version}), median of ${runs}:`);
console.log(`  plain float64 Householder QR solve: ${median(plain).toFixed(0)} ms`);
console.log(`  fusegrad ols (scaled QR, refinement, standard errors, condition): ${median(full).toFixed(0)} ms  (${ratio.toFixed(2)}x)`);
console.log(`  condition number ${result!.cond.toExponential(2)}; largest relative difference of the coefficients ${agree.toExponential(1)}`);
if (!values.quick) console.log(`results: ${writeResults('ols', 'cpu', { date: new Date().toISOString(), n, p, plainMs: plain, olsMs: full, ratio })}`);
