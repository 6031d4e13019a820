/**
 * @file The contract between the benchmark and a peer library's runner. A runner trains the
 * regression y = X Wᵀ + b (W: k x d, b: k, mean squared error over all n x k outputs, full-batch
 * SGD from zero weights) the idiomatic way for its library, on one backend.
 */

export interface PeerProblem {
  n: number;
  d: number;
  k: number;
  /**
   * Hidden tanh layers' units: none for the regression, else the network
   * tanh(... tanh(X W1ᵀ + b1) ...) W_Lᵀ + b_L.
   */
  hidden: number[];
  /** The starting parameters, row-major, in the order W, b (W1, b1, W2, b2, ... for a network); W_l is units x inputs. */
  init: Float32Array[];
  /** Row-major n x d features and n x k targets. */
  X: Float32Array;
  Y: Float32Array;
  /** SGD learning rate. */
  lr: number;
}

export interface PeerSession {
  /**
   * Runs `epochs` full-batch SGD epochs from the current weights and resolves only after the
   * device finished them (it reads something back), returning the loss of the last epoch
   * (computed before that epoch's update), so results can be checked against fusegrad's.
   */
  train(epochs: number): Promise<number>;
  /** Frees tensors and buffers. */
  dispose(): void;
}

export interface PeerRunner {
  /** Row label, e.g. "TensorFlow.js webgpu". */
  name: string;
  /** Builds the model and uploads the data; the weights start at `init`. */
  setup(p: PeerProblem): Promise<PeerSession>;
}
