/**
 * @file What an optimizer is to fusegrad: an update rule written once in WGSL (wgsl/optim/) and
 * spliced into whichever kernel applies it, reading its hyperparameters from the device's control
 * buffer and keeping per-parameter state (momentum, moments) in a device buffer; plus the same
 * rule on the CPU, for the CPU backend and the tests.
 */
import type { FloatArray } from '../engine/ops.js';
import type { RuleName } from '../wgsl/kernels.js';

export interface Optimizer {
  readonly name: string;
  /** Hyperparameters, in the order they sit in the device's control buffer (flags as 0 or 1). */
  readonly hyper: Readonly<Record<string, number>>;
  /** Per-parameter state arrays the rule keeps, each shaped like the parameter. */
  readonly slots: number;
  /**
   * Checks hyperparameters (by name, every one) as the constructor checks its options, so that a
   * sweep's rows and `setHyper` values meet the same rules; throws naming the bad one.
   */
  check(hyper: Readonly<Record<string, number>>): void;
  /**
   * When a divergence happens: the setting that is outside the range where the rule can converge
   * at any learning rate, as a phrase ("momentum 1.5 is outside ..."), or null if none is.
   */
  unstable?(hyper: Readonly<Record<string, number>>): string | null;
  /** The WGSL update rule in wgsl/optim/. */
  readonly rule: RuleName;
  /**
   * The same step on the CPU, arithmetic in float64, stored at the arrays' precision. `state` is
   * `slots` arrays shaped like the parameter; `t` is the step number, 1 on the first step.
   */
  step(param: FloatArray, grad: FloatArray, state: FloatArray[], hyper: readonly number[], t: number): void;
}

/** A hyperparameter outside its rule's range, or one the optimizer does not have: names the optimizer, the setting and the value. */
export class OptimizerError extends Error {
  override name = 'OptimizerError';
}

/** Hyperparameter values in buffer order, with overrides checked against the optimizer's names and rules. */
export function hyperValues(opt: Optimizer, overrides: Record<string, number> = {}): number[] {
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in opt.hyper)) throw new OptimizerError(`${opt.name}: no hyperparameter "${k}" (it has ${Object.keys(opt.hyper).join(', ')})`);
    if (!Number.isFinite(v)) throw new OptimizerError(`${opt.name}: hyperparameter ${k} = ${v} is not a finite number`);
  }
  const merged = { ...opt.hyper, ...overrides };
  opt.check(merged);
  return Object.keys(opt.hyper).map((k) => merged[k]!);
}

/** Throws unless `value` is finite and within [min, max] (open at the ends marked so). */
export function checkRange(opt: string, name: string, value: number, min: number, max: number, openMin = false, openMax = false): void {
  const ok = Number.isFinite(value) && (openMin ? value > min : value >= min) && (openMax ? value < max : value <= max);
  if (!ok) {
    throw new OptimizerError(`${opt}: ${name} must be in ${openMin ? '(' : '['}${min}, ${max}${openMax ? ')' : ']'}, got ${value}`);
  }
}
