/**
 * @file What an optimizer is to fusegrad: an update rule that runs as a device kernel, reading
 * its hyperparameters from a device buffer and keeping any per-parameter state (momentum, moments)
 * in device buffers, plus the same rule on the CPU for the CPU backend and the tests.
 */
import type { FloatArray } from '../engine/ops.js';
import type { KernelName } from '../wgsl/kernels.js';

export interface Optimizer {
  readonly name: string;
  /** Hyperparameters, in the order they sit in the device's `hyper` buffer. */
  readonly hyper: Readonly<Record<string, number>>;
  /** Per-parameter state arrays the rule keeps, each shaped like the parameter. */
  readonly slots: number;
  /** The WGSL kernel that applies one step to one parameter in place. */
  readonly kernel: KernelName;
  /** The same step on the CPU, arithmetic in float64, stored at the array's precision. */
  step(param: FloatArray, grad: FloatArray, state: FloatArray[], hyper: readonly number[]): void;
}

/** Hyperparameter values in buffer order, with overrides checked against the optimizer's names. */
export function hyperValues(opt: Optimizer, overrides: Record<string, number> = {}): number[] {
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in opt.hyper)) throw new Error(`${opt.name}: no hyperparameter "${k}" (it has ${Object.keys(opt.hyper).join(', ')})`);
    if (!Number.isFinite(v)) throw new Error(`${opt.name}: hyperparameter ${k} = ${v} is not a finite number`);
  }
  return Object.keys(opt.hyper).map((k) => overrides[k] ?? opt.hyper[k]!);
}
