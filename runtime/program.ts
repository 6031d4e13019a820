/**
 * @file The contract between Model and a backend: a backend compiles a Program (compile/program.ts)
 * into an Executable that writes, trains, reads and explains, counting its work.
 */
import type { Layout } from '../compile/layout.js';
import type { Program } from '../compile/program.js';
import type { FloatArray } from '../engine/ops.js';

export type { Bootstrap, Loader, Program, Replicas } from '../compile/program.js';
export { batchesPerEpoch } from '../compile/program.js';

/** What a run hands back, before Model shapes it. */
export interface RawRun {
  /** The loss of each epoch run (the mean of its batch losses). */
  loss: FloatArray;
  /** The validation loss after each epoch run, when there is a validation set. */
  valid: FloatArray | null;
  /** Per parameter node id, its value after every k-th epoch. */
  snapshots: Map<number, FloatArray[]>;
  /** 1 + the epoch whose loss diverged (control.wgsl's rule; the run stopped there); 0 if none. */
  diverged: number;
  /** The divergence rule's reference after the run: the larger of the first loss since the data or parameters were written and the floor (0 or less: none yet). */
  reference: number;
  /** With several replicates: each one's losses and validation losses (up to its divergence), its divergence mark and its reference. */
  replicas?: { loss: FloatArray[]; valid: FloatArray[] | null; diverged: number[]; reference: number[] };
}

/**
 * What training keeps besides the parameters, in one layout on every backend and plan: for each
 * trained parameter (in program.params order, untrained ones empty), each slot of the optimizer's
 * state with every replicate's values in turn; each replicate's optimizer steps (Adam's t); and
 * the epochs trained since compile, the shuffle's key.
 */
export interface TrainingState {
  slots: FloatArray[][];
  steps: number[];
  epochs: number;
}

/** Work counters, so a test can assert "100 epochs = 1 submit, 1 readback". */
export interface Stats {
  dispatches: number;
  submits: number;
  readbacks: number;
}

export const zeroStats = (): Stats => ({ dispatches: 0, submits: 0, readbacks: 0 });

/** A program compiled for one backend. Node ids refer to the program's graph. */
export interface Executable {
  readonly stats: Stats;
  /** `tiny`, `fused` or `per-node` on WebGPU; `cpu` on the CPU. */
  readonly planName: string;
  /** Replaces the value of a leaf node (input or parameter). */
  write(id: number, data: FloatArray): void;
  /** Writes the optimizer's hyperparameters, in the optimizer's order: one set for every replicate, or one set per replicate one after another. */
  setHyper(values: readonly number[]): void;
  /** Runs `epochs` epochs, stopping early at a loss that diverges (control.wgsl's rule). */
  train(epochs: number, options: { paramsEvery: number }): Promise<RawRun>;
  /** Replaces the validation set of a data input (the program must have a validation set). */
  writeValidation(id: number, data: FloatArray): void;
  /**
   * The smallest reference the divergence rule takes (control.wgsl): from now and after every
   * write, a run's reference is the larger of its first loss and this floor (0: none).
   */
  referenceFloor(floor: number): void;
  /** Replaces the residual set of the target input (a residual bootstrap). */
  writeResiduals(id: number, data: FloatArray): void;
  /** The optimizer's state (program.params order) and each replicate's counters, for a saved model. */
  readState(): Promise<TrainingState>;
  /** Replaces the optimizer's state and counters (a loaded model). */
  writeState(state: TrainingState): void;
  /** Runs forward and backward once without updating, then reads the given nodes. */
  evaluate(ids: readonly number[]): Promise<FloatArray[]>;
  /** Reads the current values of the given nodes. */
  read(ids: readonly number[]): Promise<FloatArray[]>;
  /** Human-readable plan: which nodes run in which kernel. */
  plan(): string;
  /** The plan and the source of every pipeline (WGSL on WebGPU). */
  explain(): string;
  dispose(): void;
}

/** A model or backend used after `dispose()` (or after its device was lost). */
export class DisposedError extends Error {
  override name = 'DisposedError';
}

/**
 * The device did less than it was asked and said nothing, such as a driver that cut a kernel's
 * loops short: the run's numbers cannot be trusted, so it is an error rather than a result.
 */
export class DeviceError extends Error {
  override name = 'DeviceError';
}

/**
 * A call the model cannot answer in its present state: a computed value read before anything
 * computed it, or train() on a model compiled without a loss and an optimizer. The message names
 * the call that comes first.
 */
export class StateError extends Error {
  override name = 'StateError';
}

/** The plans by name: WebGPU's (fused, tiny, per-node), the CPU's (compiled, reference), and auto for either. */
export const PLANS = ['auto', 'fused', 'tiny', 'per-node', 'compiled', 'reference'] as const;
export type Plans = (typeof PLANS)[number];

/** How a backend should plan a program (the CPU backend ignores WebGPU's plan names and says so in explain; WebGPU refuses the CPU's). */
export interface PlanOptions {
  /**
   * `auto` (default): kernels generated from the graph (the single-dispatch plan when the problem
   * is small, row passes and a finishing kernel otherwise), or one kernel per node for a graph the
   * compiler does not fuse (the plan's first note says why). `fused` and `tiny` insist (an error
   * naming why they cannot); `per-node` runs every node as its own kernel. On the CPU backend:
   * `compiled` (the default there, with a fallback to `reference` under `auto`) runs the
   * compiler's schedule as generated JavaScript, `reference` the float64-trusted interpreter.
   */
  plan?: Plans;
  /** Overrides of the adapter's layout and limits, e.g. a lowered binding size to test chunking. */
  layout?: Partial<Layout>;
  /**
   * Threads of the CPU's compiled plan, the main thread included (WebGPU ignores it): by default
   * every core for a problem whose batches have THREAD_MIN_ROWS rows or more, else one; 1: no
   * worker threads. Worker threads exist in Node and Deno, and on a cross-origin isolated browser
   * page; elsewhere the plan runs on one thread.
   */
  threads?: number;
}

export interface Backend {
  readonly kind: 'webgpu' | 'cpu';
  /** The adapter, or the CPU precision. */
  readonly description: string;
  /** The float type it computes in: f32 on WebGPU, either on the CPU. */
  readonly precision: 'f32' | 'f64';
  /** Why it can no longer run anything (disposed, or its device lost); null while it can. */
  readonly gone: string | null;
  /** WebGPU's adapter limits and layout choices (compile/layout.ts); the CPU has none. */
  readonly layout?: Layout;
  compile(program: Program, options?: PlanOptions): Promise<Executable>;
  dispose(): void;
}
