/**
 * @file The bootstrap behind `fusegrad fit --bootstrap B`: B replicates of the regression trained
 * together in the same dispatches, each on its own resample drawn on the device from (seed,
 * replicate), and each coefficient's bootstrap mean, standard error and percentile interval.
 *
 * Two ways to resample (Efron & Tibshirani 1993, ch. 9; Davison & Hinkley 1997, §6.2):
 * - pairs (the default): rows of (x, y) drawn with replacement. It assumes nothing about the
 *   errors, so it also sees a spread of y that changes with x, which the classical standard error
 *   assumes away.
 * - residuals: X stays as it is and replicate r trains on y* = ŷ + e*, where ŷ is the closed-form
 *   fit and e* a resample of its residuals, each divided by sqrt(1 - leverage) and centred
 *   ("modified residuals", Davison & Hinkley's Algorithm 6.1) so that they have the errors'
 *   variance. It assumes, like the classical formula, that every error has the same variance, and
 *   estimates the same standard errors.
 */
import { Graph, type Tensor } from '../engine/graph.js';
import type { FloatArray } from '../engine/ops.js';
import type { Optimizer } from '../optim/optimizer.js';
import { compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { type Scaling, unstandardize } from './features.js';
import { fitLinear } from './lstsq.js';

export type BootstrapMethod = 'pairs' | 'residuals';

export interface BootstrapSummary {
  method: BootstrapMethod;
  replicates: number;
  /** Replicates whose loss diverged, left out of the summary. */
  diverged: number;
  mean: { weight: number[][]; bias: number[] };
  se: { weight: number[][]; bias: number[] };
  ci95: { weight: [number, number][][]; bias: [number, number][] };
  /** Every replicate's value of each coefficient (diverged replicates left out), for a histogram or other intervals. */
  draws: { weight: number[][][]; bias: number[][] };
}

/** Below this, 1 - leverage means the fit passes through the row: its residual carries no noise. */
const FULL_LEVERAGE = 1e-12;

/**
 * The closed-form fit of Y = X Wᵀ + b (float64) and its modified residuals: each residual divided
 * by sqrt(1 - h) for its row's leverage h, then centred per target. Rows are as given (the units
 * trained on); a residual bootstrap trains on `fitted` plus resampled rows of `residuals`.
 */
export function residualPool(X: readonly (readonly number[])[], Y: readonly (readonly number[])[]): { fitted: number[][]; residuals: number[][] } {
  const n = X.length;
  const fit = fitLinear(X, Y);
  const { W, b } = fit;
  const h = fit.leverages();
  const fitted = X.map((row) => b.map((bt, t) => row.reduce((s, v, j) => s + W[t]![j]! * v, bt)));
  const modified = Y.map((row, i) => row.map((y, t) => (1 - h[i]! > FULL_LEVERAGE ? (y - fitted[i]![t]!) / Math.sqrt(1 - h[i]!) : 0)));
  const means = b.map((_, t) => modified.reduce((s, r) => s + r[t]!, 0) / n);
  return { fitted, residuals: modified.map((r) => r.map((v, t) => v - means[t]!)) };
}

/** Losses one bootstrap run records at most (64 MB, half the smallest binding limit WebGPU allows by default). */
const RECORDS_PER_RUN = 1 << 24;

/**
 * Trains B bootstrap replicates of `Y = X Wᵀ + b` together (X, Y in the units trained on) and
 * summarizes each coefficient in the data's units.
 */
export async function bootstrapFit(
  data: { X: number[][]; Y: number[][] },
  train: { optimizer: Optimizer; backend: Backend; epochs: number; seed: number; batchSize?: number; shuffle?: boolean; start?: { W: FloatArray | number[][]; b: FloatArray | number[] } | null },
  { B, method, recordsPerRun = RECORDS_PER_RUN }: { B: number; method: BootstrapMethod; recordsPerRun?: number },
  scale: { x: Scaling; y: Scaling } | undefined,
): Promise<BootstrapSummary> {
  const n = data.X.length;
  const d = data.X[0]!.length;
  const k = data.Y[0]!.length;
  const g = new Graph();
  const X = g.input('X', [n, d]);
  const Y = g.input('Y', [n, k]);
  const W = g.param('W', [k, d]);
  const b = g.param('b', [k]);
  const loss: Tensor = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
  const { optimizer, backend, seed, batchSize, shuffle } = train;
  const model = await compile(g, { loss, optimizer, backend, replicates: B, bootstrap: method, seed, batchSize, shuffle });
  try {
    if (train.start) model.write(train.start);
    if (method === 'residuals') {
      const pool = residualPool(data.X, data.Y);
      model.write({ X: data.X, Y: pool.fitted });
      model.write({ Y: pool.residuals }, 'residuals');
    } else {
      model.write({ X: data.X, Y: data.Y });
    }
    // A run records every replicate's loss every epoch, and only the final parameters matter here:
    // many replicates train in runs short enough for their records to fit one binding. Each run
    // goes on where the last stopped (steps, shuffles, draws), so the answer is the same.
    const diverged = new Array<boolean>(B).fill(false);
    const perRun = Math.max(1, Math.floor(recordsPerRun / B));
    for (let done = 0; done < train.epochs; done += perRun) {
      const run = await model.train({ epochs: Math.min(perRun, train.epochs - done) });
      run.replicates!.diverged.forEach((d, r) => (diverged[r] ||= d !== null));
    }
    const allW = await model.read('W');
    const allB = await model.read('b');
    const ok = Array.from({ length: B }, (_, r) => r).filter((r) => !diverged[r]);
    const coefs = ok.map((r) => unstandardize(rowsOf(allW.subarray(r * k * d, (r + 1) * k * d), d), Array.from(allB.subarray(r * k, (r + 1) * k)), scale?.x ?? null, scale?.y ?? null));
    const draws = {
      weight: Array.from({ length: k }, (_, t) => Array.from({ length: d }, (_, j) => coefs.map((c) => c.W[t]![j]!))),
      bias: Array.from({ length: k }, (_, t) => coefs.map((c) => c.b[t]!)),
    };
    const wStats = draws.weight.map((row) => row.map(describe));
    const bStats = draws.bias.map(describe);
    return {
      method,
      replicates: B,
      diverged: B - ok.length,
      mean: { weight: wStats.map((r) => r.map((x) => x.mean)), bias: bStats.map((x) => x.mean) },
      se: { weight: wStats.map((r) => r.map((x) => x.sd)), bias: bStats.map((x) => x.sd) },
      ci95: { weight: wStats.map((r) => r.map((x) => x.ci)), bias: bStats.map((x) => x.ci) },
      draws,
    };
  } finally {
    model.dispose();
  }
}

/** Mean, sample standard deviation and the 2.5% / 97.5% percentiles (linear interpolation) of values. */
function describe(values: number[]): { mean: number; sd: number; ci: [number, number] } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => {
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    return sorted[lo]! + (h - lo) * ((sorted[Math.min(n - 1, lo + 1)] ?? sorted[lo]!) - sorted[lo]!);
  };
  return { mean, sd, ci: [q(0.025), q(0.975)] };
}

export const rowsOf = (a: FloatArray, k: number) => Array.from({ length: a.length / k }, (_, t) => Array.from(a.subarray(t * k, t * k + k)));
