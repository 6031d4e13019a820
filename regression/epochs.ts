/**
 * @file The training loop of a fit, linear or network: the epochs in chunks (a progress bar reads
 * once a chunk), the loss histories appended without a spread (which passes every entry as an
 * argument, past the stack's limit by ~130000 epochs), the snapshots, and a divergence counted as
 * the history counts, from 1.
 */
import type { FloatArray } from '../engine/ops.js';
import type { Model, TrainResult } from '../runtime/model.js';

/** A fit that diverged, at `epoch` (from 1, the history's last entry). */
export interface FitDivergence {
  epoch: number;
  reason: 'not finite' | 'runaway';
  loss: number;
  reference: number | null;
  lastFiniteLoss: number | null;
  message: string;
}

export interface Epochs {
  loss: number[];
  validLoss: number[];
  /** With paramsEvery: each parameter's values after every k-th epoch, by name. */
  snapshots: Record<string, FloatArray[]>;
  diverged?: FitDivergence;
  /** Epochs run: fewer than asked when the loss diverged. */
  done: number;
  /** The last chunk's run (its replicates' curves, for a sweep). */
  last: TrainResult | undefined;
  /** Training alone, in ms. */
  ms: number;
}

/**
 * Trains `model` for `epochs` in `chunks` runs (stopping at a divergence), calling `onProgress`
 * after each with the epochs done and the histories so far.
 */
export async function runEpochs(
  model: Model,
  epochs: number,
  chunks: number,
  o: { paramsEvery?: number; onProgress?: (done: number, loss: readonly number[], validLoss: readonly number[]) => void },
): Promise<Epochs> {
  const out: Epochs = { loss: [], validLoss: [], snapshots: {}, done: 0, last: undefined, ms: 0 };
  const start = performance.now();
  for (let c = 0; c < chunks && !out.diverged; c++) {
    const todo = Math.round(((c + 1) * epochs) / chunks) - out.done;
    const run = await model.train({ epochs: todo, paramsEvery: o.paramsEvery ?? 0 });
    out.last = run;
    append(out.loss, run.loss);
    if (run.validLoss) append(out.validLoss, run.validLoss);
    for (const [name, values] of Object.entries(run.params ?? {})) append((out.snapshots[name] ??= []), values);
    // The message counts the model's epochs since compile, as the history does; so does `epoch` here, from 1.
    if (run.diverged) out.diverged = { ...run.diverged, epoch: out.done + run.diverged.epoch + 1 };
    out.done += run.epochs;
    o.onProgress?.(out.done, out.loss, out.validLoss);
  }
  out.ms = performance.now() - start;
  return out;
}

export function append<T>(to: T[], from: ArrayLike<T>): void {
  for (let i = 0; i < from.length; i++) to.push(from[i]!);
}
