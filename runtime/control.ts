/** @file The control buffer's layout, as wgsl/control.wgsl declares it (a test keeps the two equal). */
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
} as const;

/** Words before the hyperparameters. */
export const HYPER = 12;
