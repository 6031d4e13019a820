/** @file The control buffer's layout, as wgsl/control.wgsl declares it (a test keeps the two equal), and its divergence rule. */
export const CONTROL = {
  EPOCH: 0,
  RUN: 1,
  STEP: 2,
  BATCH: 3,
  EPOCHS_TOTAL: 4,
  LOSS_SUM: 5,
  DIVERGED: 6,
  VALID_AT: 7,
  PARAMS_AT: 8,
  PARAMS_EVERY: 9,
  SEED: 10,
  REFERENCE: 11,
} as const;

/** Words before the hyperparameters. */
export const HYPER = 12;

/** With replicates: the blocks of per-replicate counters after the hyperparameters (control.wgsl's `counters`), in order. */
export const REPLICA_COUNTERS = ['epoch', 'step', 'total', 'diverged', 'batch', 'lossSum', 'reference'] as const;

/**
 * How many times its reference a loss may grow before it counts as diverged: control.wgsl's
 * RUNAWAY, where the rule and its reasons are written down.
 */
export const RUNAWAY = 1e6;

/**
 * The divergence rule, control.wgsl's `diverging`: a loss that is not finite, or one grown past
 * RUNAWAY times `reference`, the larger of the loss of the first epoch since the data or
 * parameters were written and the host's floor (0 or less while unset).
 */
export function diverging(loss: number, reference: number): boolean {
  return !Number.isFinite(loss) || (reference > 0 && loss > RUNAWAY * reference);
}

/** control.wgsl's `reference_after`: the reference once set (positive), else the larger of this epoch's loss and the floor (minus the unset word). */
export function referenceAfter(loss: number, reference: number): number {
  return reference <= 0 && Number.isFinite(loss) ? Math.max(loss, -reference) : reference;
}
