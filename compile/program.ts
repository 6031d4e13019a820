/**
 * @file What compile() hands a backend: the graph with its backward nodes, which nodes are the
 * inputs, parameters, gradients and loss, the optimizer, how training walks the data and how many
 * models train at once. The planners read it; backends turn it into an Executable.
 */
import type { Graph } from '../engine/graph.js';
import type { Optimizer } from '../optim/optimizer.js';

/** How training walks the data: minibatches, shuffling, and a validation set. */
export interface Loader {
  /** Rows of every data input (the training set). */
  rows: number;
  /** Rows per batch; `rows` for full-batch training. */
  batchSize: number;
  shuffle: boolean;
  /** Drop a last batch smaller than batchSize. */
  dropLast: boolean;
  seed: number;
  /** Rows of the validation set (0: none). */
  validationRows: number;
}

/** Batches per epoch. */
export const batchesPerEpoch = (l: Loader): number => (l.dropLast ? Math.floor(l.rows / l.batchSize) : Math.ceil(l.rows / l.batchSize));

/** The rows of an epoch's last batch when it is shorter than the rest and kept; null when there is none. */
export const shortBatch = (l: Loader): number | null => (!l.dropLast && l.rows % l.batchSize !== 0 ? l.rows % l.batchSize : null);

/** A bootstrap's resampling plan: none, rows with replacement, or residuals added to fixed rows. */
export type Bootstrap = 'none' | 'pairs' | 'residuals';

/** Many models trained at once: copies of the parameters and optimizer state, trained together. */
export interface Replicas {
  /** How many (1: the ordinary single model). */
  count: number;
  /**
   * How replicate r's data are resampled, each draw a function of (seed, r, position):
   * `pairs` trains on a resample of the rows with replacement; `residuals` keeps every row and adds
   * to its target a resampled row of the residual set (written with `write(..., 'residuals')`).
   */
  bootstrap: Bootstrap;
  /** With `residuals`: the data input whose rows get a resampled residual added (the loss's target). */
  target: number | null;
  /** Per replicate, the optimizer's hyperparameters in buffer order (a sweep); null: all the same. */
  hyper: number[][] | null;
}

export interface Program {
  readonly graph: Graph;
  readonly loader: Loader;
  readonly replicas: Replicas;
  /** Node id of the scalar loss, when the program trains. */
  readonly loss: number | null;
  readonly inputs: readonly { name: string; id: number }[];
  /** Parameters, each with the node id of its gradient when the program trains. */
  readonly params: readonly { name: string; id: number; grad: number | null }[];
  readonly optimizer: Optimizer | null;
}
