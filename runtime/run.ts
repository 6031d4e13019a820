/**
 * @file Run control: a train() with a callback, an AbortSignal or early stopping runs its epochs
 * in chunks, each one submission and one read, and looks between chunks. A chunk is sized to take
 * about CHUNK_MS (from the time per epoch the chunks so far took), or `chunkEpochs` when given;
 * with early stopping it never runs past the epoch where patience could run out, so the run stops
 * exactly where a per-epoch check (Keras's EarlyStopping) would. The chunks' results are joined
 * into the one result an uninterrupted run returns.
 */
import type { FloatArray } from '../engine/ops.js';
import type { TrainResult } from './model.js';
import { DataError, describe } from './values.js';

/** About how long a chunk of a controlled run takes: the callback's rate and the abort's latency. */
export const CHUNK_MS = 100;

/** Stop when the monitored loss has not improved by more than `minDelta` for `patience` epochs. */
export interface EarlyStopping {
  patience: number;
  /** The improvement that counts (default 0: any decrease). */
  minDelta?: number;
  /** The validation loss when the model has a validation set (the default), else the training loss. */
  monitor?: 'validation' | 'training';
}

/** What onEpoch is told after each chunk: the run's last epoch so far. */
export interface Progress {
  /** Epochs done in this run (from 1). */
  epoch: number;
  /** Epochs asked. */
  epochs: number;
  loss: number;
  validLoss?: number;
  /** Since the run began. */
  elapsedMs: number;
}

/** Why a run ended before its epochs: aborted, or early stopping. `epoch` counts the run's epochs trained, from 1. */
export interface Stop {
  reason: 'aborted' | 'early stopping';
  epoch: number;
  /** For early stopping: the epoch (of this run, from 1) with the best monitored loss, and that loss. */
  best?: { epoch: number; loss: number };
  message: string;
}

export interface Control {
  onEpoch?: (progress: Progress) => void | Promise<void>;
  signal?: AbortSignal;
  earlyStopping?: EarlyStopping;
  /** Epochs per chunk (default: about CHUNK_MS of epochs, measured as the run goes). */
  chunkEpochs?: number;
}

/** Checks the run-control options; `validation`: whether the model has a validation set. */
export function checkControl(c: Control, validation: boolean, replicates: number): void {
  if (c.onEpoch !== undefined && typeof c.onEpoch !== 'function') throw new DataError(`train: onEpoch must be a function, got ${describe(c.onEpoch)}`);
  const signal = c.signal as unknown;
  if (signal !== undefined && !(signal !== null && typeof signal === 'object' && typeof (signal as AbortSignal).aborted === 'boolean')) throw new DataError(`train: signal must be an AbortSignal (new AbortController().signal), got ${describe(signal)}`);
  if (c.chunkEpochs !== undefined && !(Number.isInteger(c.chunkEpochs) && c.chunkEpochs >= 1)) throw new DataError(`train: chunkEpochs must be a whole number >= 1, got ${describe(c.chunkEpochs)}`);
  const e = c.earlyStopping;
  if (e === undefined) return;
  if (e === null || typeof e !== 'object') throw new DataError(`train: earlyStopping must be { patience, minDelta, monitor }, got ${describe(e)}`);
  for (const key of Object.keys(e)) if (!['patience', 'minDelta', 'monitor'].includes(key)) throw new DataError(`train: earlyStopping has no option "${key}" (it takes patience, minDelta, monitor)`);
  if (!(Number.isInteger(e.patience) && e.patience >= 1)) throw new DataError(`train: earlyStopping.patience must be a whole number of epochs >= 1, got ${describe(e.patience)}`);
  if (e.minDelta !== undefined && !(typeof e.minDelta === 'number' && e.minDelta >= 0 && Number.isFinite(e.minDelta))) throw new DataError(`train: earlyStopping.minDelta must be a number >= 0, got ${describe(e.minDelta)}`);
  if (e.monitor !== undefined && e.monitor !== 'validation' && e.monitor !== 'training') throw new DataError(`train: earlyStopping.monitor is 'validation' or 'training', got ${describe(e.monitor)}`);
  if (e.monitor === 'validation' && !validation) throw new DataError("train: earlyStopping monitors the validation loss, but the model has no validation set (compile with validationRows, or monitor: 'training')");
  if (replicates > 1) throw new DataError(`train: early stopping is for one model; this one trains ${replicates} replicates, each with its own losses`);
}

/** Whether a train() call needs chunks. */
export const controlled = (c: Control): boolean => c.onEpoch !== undefined || c.signal !== undefined || c.earlyStopping !== undefined || c.chunkEpochs !== undefined;

/** Joins `b`, a run that went on from `a`, onto `a`. */
function join(a: TrainResult, b: TrainResult, paramsEvery: number): TrainResult {
  const at = a.epochs;
  const out: TrainResult = { loss: cat(a.loss, b.loss), epochs: at + b.epochs };
  if (a.validLoss && b.validLoss) out.validLoss = cat(a.validLoss, b.validLoss);
  if (paramsEvery && a.params && b.params) out.params = Object.fromEntries(Object.entries(a.params).map(([k, v]) => [k, [...v, ...(b.params![k] ?? [])]]));
  if (a.diverged) out.diverged = a.diverged;
  else if (b.diverged) out.diverged = { ...b.diverged, epoch: at + b.diverged.epoch };
  if (a.replicates && b.replicates) {
    // A replicate that diverged keeps its curve up to there; what later chunks recorded for it is not a run.
    const gone = a.replicates.diverged.map((d) => d !== null);
    out.replicates = {
      loss: a.replicates.loss.map((l, r) => (gone[r] ? l : cat(l, b.replicates!.loss[r]!))),
      diverged: a.replicates.diverged.map((d, r) => d ?? (b.replicates!.diverged[r] ? { ...b.replicates!.diverged[r]!, epoch: at + b.replicates!.diverged[r]!.epoch } : null)),
    };
    if (a.replicates.validLoss && b.replicates.validLoss) out.replicates.validLoss = a.replicates.validLoss.map((l, r) => (gone[r] ? l : cat(l, b.replicates!.validLoss![r]!)));
  }
  return out;
}

function cat(a: FloatArray, b: FloatArray): FloatArray {
  const out = new (a.constructor as Float64ArrayConstructor | Float32ArrayConstructor)(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Runs `epochs` epochs through `run` (one train of the backend: one submission) in chunks,
 * calling onEpoch after each, stopping at an abort, an early stop or a divergence.
 */
export async function runInChunks(run: (epochs: number) => Promise<TrainResult>, epochs: number, paramsEvery: number, c: Control, validation: boolean, float32: boolean): Promise<TrainResult> {
  const start = performance.now();
  const early = c.earlyStopping;
  const monitorValid = early ? (early.monitor ?? (validation ? 'validation' : 'training')) === 'validation' : false;
  const minDelta = early?.minDelta ?? 0;
  let best = Infinity;
  let bestEpoch = 0;
  let waited = 0;
  let result: TrainResult | null = null;
  let perEpoch = 0;
  let stop: Stop | undefined;
  const done = () => result?.epochs ?? 0;
  while (done() < epochs) {
    if (c.signal?.aborted) {
      stop = { reason: 'aborted', epoch: done(), message: `aborted after ${done()} of ${epochs} epochs (the signal fired); the model holds the parameters of epoch ${done()}` };
      break;
    }
    let size = c.chunkEpochs ?? (perEpoch > 0 ? Math.max(1, Math.floor(CHUNK_MS / perEpoch)) : 1);
    // Never past the epoch where patience could run out: the stop is then exactly where a per-epoch check would stop.
    if (early) size = Math.min(size, early.patience - waited);
    // Snapshots every k epochs stay on the run's multiples of k.
    if (paramsEvery) size = Math.max(paramsEvery, Math.round(size / paramsEvery) * paramsEvery);
    size = Math.min(size, epochs - done());
    const t0 = performance.now();
    const part = await run(size);
    const ms = performance.now() - t0;
    perEpoch = ms / Math.max(1, part.epochs);
    const before = done();
    result = result ? join(result, part, paramsEvery) : part;
    if (early) {
      const watched = monitorValid ? part.validLoss! : part.loss;
      for (let i = 0; i < part.epochs && !stop; i++) {
        if (watched[i]! < best - minDelta) [best, bestEpoch, waited] = [watched[i]!, before + i + 1, 0];
        else if (++waited >= early.patience) {
          const what = monitorValid ? 'validation loss' : 'training loss';
          stop = { reason: 'early stopping', epoch: before + i + 1, best: { epoch: bestEpoch, loss: best }, message: `early stopping after epoch ${before + i + 1} of ${epochs}: the ${what} has not improved by more than ${minDelta} for ${early.patience} epochs; its best, ${best.toPrecision(6)}, was at epoch ${bestEpoch} (the model holds the parameters of epoch ${before + i + 1})` };
        }
      }
    }
    const last = part.epochs - 1;
    if (c.onEpoch && last >= 0) await c.onEpoch({ epoch: done(), epochs, loss: part.loss[last]!, ...(part.validLoss ? { validLoss: part.validLoss[last]! } : {}), elapsedMs: performance.now() - start });
    if (part.diverged || stop) break;
    if (part.epochs < size && !part.replicates) break;
  }
  result ??= { loss: float32 ? new Float32Array(0) : new Float64Array(0), epochs: 0, ...(validation ? { validLoss: float32 ? new Float32Array(0) : new Float64Array(0) } : {}) };
  if (stop) result.stopped = stop;
  return result;
}
