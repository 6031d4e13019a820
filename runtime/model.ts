/**
 * @file compile() and Model: the user's entry point. compile adds the backward graph, hands the
 * program to a backend once, and Model checks every value a user writes before it reaches a device.
 */
import { backward } from '../autograd/backward.js';
import { replay } from '../autograd/replay.js';
import { type Graph, Tensor } from '../engine/graph.js';
import type { FloatArray, OpAttrs } from '../engine/ops.js';
import { fmtShape, sizeOf } from '../engine/shape.js';
import { initValues } from '../engine/init.js';
import { type Optimizer, hyperValues } from '../optim/optimizer.js';
import { RUNAWAY } from '../wgsl/control.js';
import { debug } from './debug.js';
import { MAX_THREADS } from './threads.js';
import { requestBackend } from './device.js';
import { DEFAULT_LAYOUT } from '../compile/layout.js';
import { DataError, FLOAT32_MAX, type TensorData, describe, flatLength, flatList, flatten, nearest, repeat } from './values.js';
import { type Backend, type Bootstrap, DisposedError, type Executable, type Loader, PLANS, type PlanOptions, type Program, type Replicas, StateError, type Stats } from './program.js';
import { defaultOutput, notRowwise } from '../compile/forward.js';
import { CPU_CHUNK_BYTES, Predictor } from './predict.js';
import { type Control, type Stop, checkControl, controlled, runInChunks } from './run.js';
import { MODEL_FORMAT, type ModelState, type SavedOptions, checkState, loadGraph, savedGraph, savedOptimizer } from './saved.js';

export type { ModelState, SavedNode, SavedOptions } from './saved.js';

export type { Control, EarlyStopping, Progress, Stop } from './run.js';

export { DisposedError, StateError } from './program.js';
export { DataError, FLOAT32_MAX, type NumberArray, type TensorData } from './values.js';


export interface CompileOptions extends PlanOptions {
  /** The scalar to minimize; with `optimizer`, compile adds its backward graph. */
  loss?: Tensor;
  optimizer?: Optimizer;
  /** Defaults to `await requestBackend()`: WebGPU when there is an adapter, else CPU. */
  backend?: Backend;
  /**
   * Rows per minibatch (default: every row, full-batch training). The data inputs (every input of
   * the graph) are the whole training set; each step trains on one batch of their rows.
   */
  batchSize?: number;
  /** A new order of the rows every epoch, drawn on the device from `seed` (default false). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** The shuffle's seed (default 0): the same seed gives the same batches. */
  seed?: number;
  /** Rows of a validation set, written with `model.write(values, 'validation')`; its loss is recorded every epoch. */
  validationRows?: number;
  /**
   * Trains this many models at once (default 1), in the same dispatches: each has its own
   * parameters and optimizer state. Parameters then read as every replicate's values in turn.
   */
  replicates?: number;
  /**
   * A bootstrap, each replicate's draws made on the device from (seed, replicate) with no index
   * list uploaded. `pairs` (or `true`): replicate r trains on a resample of the rows with
   * replacement. `residuals`: every replicate keeps the rows of X and trains on targets Y + e*,
   * where e* is a resample of the rows of the residual set written with
   * `write({ Y: residuals }, 'residuals')` (write the fitted values as Y).
   */
  bootstrap?: boolean | 'pairs' | 'residuals';
  /** Per-replicate hyperparameters, e.g. `{ lr: [0.01, 0.001, 0.0001] }` (one value per replicate). */
  sweep?: Record<string, number[]>;
}

export interface TrainOptions extends Control {
  epochs: number;
  /** Record every parameter after every k-th epoch (default 0: none). */
  paramsEvery?: number;
}

/**
 * A loss that diverged, by control.wgsl's rule (the same on every backend): it stopped being a
 * finite number, or it grew past a million times the first loss since the data or parameters were
 * written. The run stopped at that epoch.
 */
export interface Divergence {
  /** The epoch of this run (0-based, an index into `loss`) whose loss diverged. */
  epoch: number;
  /** Why: the loss was NaN or infinite, or it grew past RUNAWAY (1e6) times its reference. */
  reason: 'not finite' | 'runaway';
  /** That epoch's loss. */
  loss: number;
  /** The first loss since the data or parameters were written, the rule's reference (null: none yet). */
  reference: number | null;
  /** The last finite loss before it (null if the run's first epoch already diverged). */
  lastFiniteLoss: number | null;
  /**
   * What happened and the setting to change. Its epoch counts every epoch this model has trained
   * since compile, as a chart of successive runs does (epoch + 1 for a model's first run).
   */
  message: string;
}

export interface TrainResult {
  /**
   * The loss of every epoch run: with full batches, of the parameters the epoch started from;
   * with minibatches, the mean of the epoch's batch losses (as a PyTorch loop averaging them prints).
   */
  loss: FloatArray;
  /** The validation loss after every epoch, when the model has a validation set. */
  validLoss?: FloatArray;
  /** With paramsEvery = k: each parameter's value after epochs k, 2k, ... */
  params?: Record<string, FloatArray[]>;
  /** Epochs run: fewer than asked when the loss diverged. */
  epochs: number;
  diverged?: Divergence;
  /**
   * With several replicates: each one's loss by epoch (up to its divergence), its validation loss
   * by epoch when there is a validation set, and its divergence, if any. `loss` and `validLoss` are
   * replicate 0's.
   */
  replicates?: { loss: FloatArray[]; validLoss?: FloatArray[]; diverged: (Divergence | null)[] };
  /** Why a controlled run (signal, earlyStopping) ended before its epochs, at which epoch, and the best loss seen. */
  stopped?: Stop;
}

/** Which outputs predict() computes, and with whose parameters. */
export interface PredictOptions {
  /**
   * One tensor (the result is its values), a list (a list of results) or an object of tensors by
   * name (an object of results by the same names). Default: the prediction the loss compares with
   * its target (`squaredError(prediction, Y)`), or a graph's one output when it has no loss.
   */
  outputs?: Tensor | readonly Tensor[] | Readonly<Record<string, Tensor>>;
  /** With replicates (a bootstrap, a sweep): the replicate whose parameters predict (default 0). */
  replicate?: number;
}

/** Every option predict() reads. */
const PREDICT_OPTIONS = ['outputs', 'replicate'] as const;

/** Every option compile() reads: anything else is a misspelling, refused rather than ignored. */
const COMPILE_OPTIONS = ['loss', 'optimizer', 'backend', 'plan', 'layout', 'threads', 'batchSize', 'shuffle', 'dropLast', 'seed', 'validationRows', 'replicates', 'bootstrap', 'sweep'] as const;

/** Every option train() reads. */
const TRAIN_OPTIONS = ['epochs', 'paramsEvery', 'onEpoch', 'signal', 'earlyStopping', 'chunkEpochs'] as const;

/**
 * Refuses an option `call` does not read: one that belongs to the other call says so (batchSize
 * given to train() would otherwise be ignored, the run full-batch), a misspelling names the
 * nearest known option.
 */
function checkKeys(call: 'compile' | 'train', options: object): void {
  const own: readonly string[] = call === 'compile' ? COMPILE_OPTIONS : TRAIN_OPTIONS;
  const other: readonly string[] = call === 'compile' ? TRAIN_OPTIONS : COMPILE_OPTIONS;
  for (const key of Object.keys(options)) {
    if (own.includes(key)) continue;
    if (other.includes(key)) {
      const where = call === 'compile' ? `model.train({ ${key} })` : `compile(graph, { ${key} }), which fixes the batches and buffers the model is built with`;
      throw new DataError(`${call}: "${key}" is an option of ${call === 'compile' ? 'train()' : 'compile()'}, not of ${call}(); give it to ${where}`);
    }
    const near = nearest(key, own) ?? nearest(key, other);
    const hint = near === null ? '' : own.includes(near) ? ` (did you mean "${near}"?)` : ` (did you mean "${near}"? that is an option of ${call === 'compile' ? 'train()' : 'compile()'})`;
    throw new DataError(`${call}: unknown option "${key}"${hint}; the options are ${own.join(', ')}`);
  }
}

/** Refuses options compile() does not know, naming the closest known one. */
function checkOptions(options: CompileOptions): void {
  if (options === null || typeof options !== 'object') throw new DataError(`compile: options must be an object, got ${JSON.stringify(options)}`);
  checkKeys('compile', options);
  if (options.plan !== undefined && !(PLANS as readonly string[]).includes(options.plan)) {
    throw new DataError(`compile: plan must be one of ${PLANS.map((p) => `'${p}'`).join(', ')}, got ${JSON.stringify(options.plan)}`);
  }
  const { threads } = options;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) throw new DataError(`compile: threads must be a whole number from 1 to ${MAX_THREADS}, got ${JSON.stringify(threads)}`);
  for (const key of Object.keys(options.layout ?? {})) {
    if (!(key in DEFAULT_LAYOUT)) throw new DataError(`compile: unknown layout option "${key}"; the layout options are ${Object.keys(DEFAULT_LAYOUT).join(', ')}`);
  }
  if (options.optimizer && !options.loss) throw new DataError('compile: an optimizer needs a loss to minimize (compile(g, { loss, optimizer }))');
  if (options.loss !== undefined && !(options.loss instanceof Tensor)) throw new DataError('compile: loss must be a tensor of the graph');
  if (options.backend?.gone) throw new DisposedError(`compile: the backend can no longer be used: ${options.backend.gone}; get a new one with requestBackend()`);
}

/**
 * Compiles a graph for a backend: adds the backward pass when given a loss and an optimizer, then
 * creates every buffer and pipeline once (and, on WebGPU, runs each pipeline once with nothing to
 * do, so that a driver that compiles shaders at their first use does it here, not in train()).
 *
 * @example
 * const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend });
 * model.write({ X: inputs, Y: targets });
 * const run = await model.train({ epochs: 100 }); // one submission, one read
 */
export async function compile(g: Graph, options: CompileOptions = {}): Promise<Model> {
  checkOptions(options);
  const { loss, optimizer = null, plan, layout, threads } = options;
  const params = g.leaves('param');
  const loader = makeLoader(g, options);
  let grads: (Tensor | null)[] = params.map(() => null);
  if (loss && loss.graph !== g) throw new DataError('compile: the loss is not a tensor of this graph');
  if (loss && optimizer) grads = backward(g, loss, params.map((p) => g.byName(p.attrs.name)!));
  const replicas = makeReplicas(g, optimizer, options);
  const program: Program = {
    graph: g,
    loader,
    replicas,
    loss: loss?.id ?? null,
    inputs: g.leaves('input').map((n) => ({ name: n.attrs.name, id: n.id })),
    params: params.map((n, i) => ({ name: n.attrs.name, id: n.id, grad: grads[i]?.id ?? null })),
    optimizer,
  };
  const backend = options.backend ?? (await requestBackend());
  debug(3, () => `fusegrad: forward graph\n${g.toString((n) => n.role === 'forward')}\nfusegrad: backward graph\n${g.toString((n) => n.role === 'backward')}`);
  const model = new Model(program, backend, await backend.compile(program, { plan, layout, threads }), { plan, layout, threads });
  // Parameters with an initializer start from it (with replicates, every replicate alike); a write replaces it.
  const starts = params.flatMap((p) => {
    const { name, init } = p.attrs as OpAttrs['param'];
    return init ? [[name, initValues(init, p.shape)] as const] : [];
  });
  if (starts.length) model.write(Object.fromEntries(starts));
  return model;
}

/** Checks the replicate options: a count, a bootstrap plan (and its target), sweep values that match the count and the optimizer. */
function makeReplicas(g: Graph, optimizer: Optimizer | null, { replicates, bootstrap = false, sweep, loss }: CompileOptions): Replicas {
  const lengths = Object.values(sweep ?? {}).map((v) => v.length);
  const count = replicates ?? (lengths[0] ?? 1);
  if (!Number.isInteger(count) || count < 1) throw new DataError(`replicates must be a positive integer, got ${replicates}`);
  if ((bootstrap || sweep) && (!optimizer || !loss)) throw new DataError('bootstrap and sweeps train models: compile with a loss and an optimizer');
  const plan: Bootstrap = bootstrap === true ? 'pairs' : bootstrap === false ? 'none' : bootstrap;
  if (plan !== 'none' && plan !== 'pairs' && plan !== 'residuals') throw new DataError(`bootstrap: expected true, 'pairs' or 'residuals', got ${JSON.stringify(bootstrap)}`);
  if (plan !== 'none' && count < 2) throw new DataError(`bootstrap: ${count} replicate${count === 1 ? '' : 's'}; a bootstrap needs replicates >= 2`);
  const target = plan === 'residuals' ? lossTarget(g, loss!) : null;
  let hyper: number[][] | null = null;
  if (sweep) {
    for (const [name, values] of Object.entries(sweep)) {
      if (!Array.isArray(values) || values.length !== count) throw new DataError(`sweep ${name}: ${Array.isArray(values) ? values.length : 'no list of'} values for ${count} replicates; give one per replicate`);
    }
    hyper = Array.from({ length: count }, (_, r) => hyperValues(optimizer!, Object.fromEntries(Object.entries(sweep).map(([k, v]) => [k, v[r]!]))));
  }
  return { count, bootstrap: plan, target, hyper };
}

/**
 * The data input a loss compares predictions with: the input operand of the squared errors the
 * loss is built from (a penalty beside them is fine). A residual bootstrap adds its resampled
 * residuals there.
 */
function lossTarget(g: Graph, loss: Tensor): number {
  const targets = new Set<number>();
  const seen = new Set<number>();
  const stack = [loss.id];
  while (stack.length) {
    const node = g.nodes[stack.pop()!]!;
    if (seen.has(node.id)) continue;
    seen.add(node.id);
    if (node.op === 'squaredError') node.inputs.filter((i) => g.nodes[i]!.op === 'input').forEach((i) => targets.add(i));
    stack.push(...node.inputs);
  }
  if (targets.size !== 1) throw new DataError("bootstrap 'residuals' needs a loss built on squaredError(prediction, target) with the target one data input");
  return [...targets][0]!;
}

/** The target input of a loss of the form mean(squaredError(prediction, target)), or null for any other loss. */
function squaredErrorTarget(g: Graph, loss: number): number | null {
  let node = g.nodes[loss]!;
  while ((node.op === 'mean' || node.op === 'sum' || node.op === 'scale') && node.inputs.length === 1) node = g.nodes[node.inputs[0]!]!;
  const inputs = node.op === 'squaredError' ? node.inputs.filter((i) => g.nodes[i]!.op === 'input') : [];
  return inputs.length === 1 ? inputs[0]! : null;
}

/** Checks the minibatch and validation options against the data inputs. */
function makeLoader(g: Graph, { batchSize, shuffle = false, dropLast = false, seed = 0, validationRows = 0 }: CompileOptions): Loader {
  const inputs = g.leaves('input');
  const rows = inputs[0]?.shape[0] ?? 1;
  const batching = batchSize !== undefined || shuffle || dropLast || validationRows > 0;
  if (batching) {
    for (const i of inputs) {
      if (i.shape.length !== 2 || i.shape[0] !== rows) {
        throw new DataError(`minibatches and validation need every input to be a [rows, columns] matrix with the same rows: "${inputs[0]!.attrs.name}" has ${rows} rows, "${i.attrs.name}" is ${fmtShape(i.shape)}`);
      }
    }
  }
  const size = batchSize ?? rows;
  if (!Number.isInteger(size) || size < 1) throw new DataError(`batchSize must be a positive integer, got ${batchSize}`);
  if (dropLast && size > rows) throw new DataError(`dropLast with batchSize ${size} and ${rows} rows leaves no batch`);
  if (!Number.isInteger(validationRows) || validationRows < 0) throw new DataError(`validationRows must be an integer >= 0, got ${validationRows}`);
  // The device keeps the seed as one u32: a larger one would wrap to another seed's shuffle.
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new DataError(`seed must be an integer in [0, 4294967295], got ${seed}`);
  return { rows, batchSize: Math.min(size, rows), shuffle, dropLast, seed, validationRows };
}

/**
 * A compiled model. Its device work (train, read, evaluate) runs in call order: a call made while
 * another is in flight waits for it, as on the CPU backend, so calls need not be awaited in turn.
 * Writes and setHyper are checked at once and take effect in call order too.
 */
export class Model {
  private written = new Set<number>();
  private writtenValidation = new Set<number>();
  private residualsWritten = false;
  /** The device work queued or in flight: each call starts when the one before it settles. */
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private disposed = false;
  /** Epochs trained since compile (replicate 0's): divergence messages count from here. */
  private epochsTrained = 0;
  /** Each replicate's hyperparameters as they are now (buffer order), for divergence advice. */
  private hyper: number[][];
  /** The largest magnitude written to each input and parameter, for a divergence at the first epoch. */
  private readonly largest = new Map<string, number>();
  /** A squared-error loss's target input: its mean square sets the divergence rule's floor. */
  private target: number | null;
  /** Whether a train() or evaluate() has run: before one, no computed value exists to read. */
  private computed = false;
  /** The outputs' forward programs for predict(), compiled at its first call. */
  private predictor: Predictor;
  /** Graphs this model was compiled from before a resize(), each with its nodes' ids in the graph now: a tensor of one still names its node. */
  private ancestry: { graph: Graph; ids: Map<number, number> }[] = [];
  /** The options compile() was given that resize() compiles with again. */
  private readonly planOptions: PlanOptions;

  constructor(
    private prog: Program,
    readonly backend: Backend,
    private exe: Executable,
    /** The options the model was compiled with; predict() compiles its forward programs with the same layout. */
    options: PlanOptions = {},
  ) {
    const program = prog;
    this.planOptions = options;
    const values = Object.values(program.optimizer?.hyper ?? {});
    this.hyper = program.replicas.hyper?.map((row) => [...row]) ?? Array.from({ length: program.replicas.count }, () => [...values]);
    this.target = program.loss === null ? null : squaredErrorTarget(program.graph, program.loss);
    // A chunk's values fit one storage binding (a layout override lowers it, on the CPU too, as the tests do).
    const maxBytes = options.layout?.maxBindingBytes ?? backend.layout?.maxBindingBytes ?? CPU_CHUNK_BYTES;
    // One kernel per node on WebGPU: a prediction is a few dispatches a chunk (fusing them is left to do).
    const forward: PlanOptions = backend.kind === 'webgpu' ? { plan: 'per-node', layout: options.layout } : {};
    this.predictor = new Predictor(backend, program.graph, program.loader.rows, forward, maxBytes);
  }

  /** What the backend compiled: the graph with its backward nodes, the inputs, parameters, loss and optimizer. */
  get program(): Program {
    return this.prog;
  }

  /** The graph the model runs (after a resize(), the graph rebuilt at the new row count; tensors of the first still name their nodes). */
  get graph(): Graph {
    return this.program.graph;
  }

  /** Dispatches, submits and readbacks so far. */
  get stats(): Stats {
    return this.exe.stats;
  }

  /** The gradient tensor of each parameter, by name (empty when compiled without training). */
  get gradients(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const p of this.program.params) if (p.grad !== null) out.set(p.name, new Tensor(this.graph, p.grad));
    return out;
  }

  /**
   * Writes inputs and parameters by name. Every value is checked (length, shape, that each is a
   * finite number, and on a float32 device that it fits float32) before anything is written, so a
   * bad entry leaves the model as it was.
   */
  write(values: Record<string, TensorData>, set: 'training' | 'validation' | 'residuals' = 'training'): void {
    this.live('write');
    if (values === null || typeof values !== 'object' || Array.isArray(values)) throw new DataError(`write: expected an object of values by name ({ X: ..., Y: ... }), got ${describe(values)}`);
    const validation = set === 'validation';
    const residuals = set === 'residuals';
    const nv = this.program.loader.validationRows;
    if (validation && !nv) throw new DataError('write: this model has no validation set (compile with validationRows)');
    const { target } = this.program.replicas;
    if (residuals && target === null) throw new DataError("write: residuals are for a residual bootstrap (compile with bootstrap: 'residuals')");
    if (set !== 'training' && !validation && !residuals) throw new DataError(`write: the set is 'training', 'validation' or 'residuals', got ${JSON.stringify(set)}`);
    const float32 = this.backend.precision === 'f32';
    const checked = Object.entries(values).map(([name, data]) => {
      const leaf = this.program.inputs.find((l) => l.name === name) ?? (set === 'training' ? this.program.params.find((l) => l.name === name) : undefined);
      if (!leaf) {
        const names = [...this.program.inputs, ...(set === 'training' ? this.program.params : [])].map((l) => l.name).join(', ');
        throw new DataError(`write: the graph has no ${set === 'training' ? 'input or parameter' : 'input'} "${name}" (it has ${names})`);
      }
      if (residuals && leaf.id !== target) {
        throw new DataError(`write: residuals go to the target "${this.inputName(target!)}", the input the loss compares predictions with, not to "${name}"`);
      }
      const shape = this.graph.nodes[leaf.id]!.shape;
      const B = this.program.replicas.count;
      const isParam = this.program.params.some((p) => p.id === leaf.id);
      const label = set === 'training' ? name : `${name} (${set})`;
      // With replicates, a parameter takes one value for all of them, or every replicate's in turn.
      if (isParam && B > 1 && !(typeof data === 'number') && flatLength(data) === B * sizeOf(shape)) {
        const flat = flatten(label, flatList(data), [B * sizeOf(shape)], float32);
        return { id: leaf.id, name: label, flat };
      }
      const want = validation ? nv : shape[0]!;
      const width = sizeOf(shape.slice(1));
      const given = Array.isArray(data) && data.length && typeof data[0] !== 'number' ? data.length : flatLength(data) / width;
      if (!isParam && !residuals && shape.length === 2 && Number.isInteger(given) && given !== want && given > 0) {
        const call = validation ? `resize({ validationRows: ${given} })` : `resize({ rows: ${given} })`;
        throw new DataError(`write ${label}: ${given} rows, but the model was compiled for ${want}; await model.${call} recompiles it for them (the parameters and the optimizer's state carry over), then write`);
      }
      const flat = flatten(label, data, validation ? [nv, ...shape.slice(1)] : shape, float32);
      return { id: leaf.id, name: label, flat: isParam && B > 1 ? repeat(flat, B) : flat };
    });
    for (const { id, name, flat } of checked) {
      if (validation) this.writtenValidation.add(id);
      else if (residuals) this.residualsWritten = true;
      else this.written.add(id);
      this.largest.set(name, flat.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
    }
    // New targets: the divergence rule's floor is their mean square (the loss of predicting 0 for
    // every row) over RUNAWAY, so it never fires below that loss (control.wgsl says why).
    const targets = set === 'training' ? checked.find((c) => c.id === this.target) : undefined;
    const floor = targets ? targets.flat.reduce((s, v) => s + v * v, 0) / targets.flat.length / RUNAWAY : null;
    this.inOrder(() => {
      for (const { id, flat } of checked) {
        if (validation) this.exe.writeValidation(id, flat);
        else if (residuals) this.exe.writeResiduals(id, flat);
        else this.exe.write(id, flat);
      }
      if (floor !== null) this.exe.referenceFloor(floor);
    });
  }

  /** Writes optimizer hyperparameters (e.g. `{ lr: 0.01 }`) into the device buffer; recompiles nothing. */
  setHyper(values: Record<string, number>): void {
    this.live('setHyper');
    const opt = this.requireOptimizer('setHyper');
    const row = hyperValues(opt, values);
    this.hyper = this.hyper.map(() => [...row]);
    this.inOrder(() => this.exe.setHyper(row));
  }

  /** How many models train at once (1 unless compiled with replicates or a sweep). */
  get replicates(): number {
    return this.program.replicas.count;
  }

  /**
   * Trains `epochs` epochs: one submission and one read for the whole run, validation losses and
   * parameter snapshots included. Stops at an epoch whose loss diverges (not finite, or grown past
   * a million times its first value) and says so.
   */
  train(options: TrainOptions): Promise<TrainResult> {
    const { epochs, paramsEvery = 0 } = options ?? {};
    return this.serial('train', () => {
      if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new DataError(`train: expected options ({ epochs: ... }), got ${describe(options)}`);
      checkKeys('train', options);
      this.requireOptimizer('train');
      if (!Number.isInteger(epochs) || epochs < 1) throw new DataError(`train: epochs must be a positive integer, got ${epochs}`);
      if (!Number.isInteger(paramsEvery) || paramsEvery < 0) throw new DataError(`train: paramsEvery must be an integer >= 0, got ${paramsEvery}`);
      checkControl(options, this.program.loader.validationRows > 0, this.replicates);
      this.requireInputs('train');
    }, () => {
      if (!controlled(options)) return this.run(epochs, paramsEvery);
      return runInChunks((k) => this.run(k, paramsEvery), epochs, paramsEvery, options, this.program.loader.validationRows > 0, this.backend.precision === 'f32');
    });
  }

  /** One run of the backend (one submission, one read), shaped as train() returns it. */
  private async run(epochs: number, paramsEvery: number): Promise<TrainResult> {
    const raw = await this.exe.train(epochs, { paramsEvery });
    const before = this.epochsTrained;
    const result: TrainResult = { loss: raw.loss, epochs: raw.loss.length };
    if (raw.replicas) {
      const replicas = raw.replicas;
      result.replicates = {
        loss: replicas.loss,
        diverged: replicas.diverged.map((mark, r) => (mark ? this.divergence(mark - 1, replicas.loss[r]!, replicas.reference[r]!, before, r) : null)),
      };
      if (replicas.valid) {
        result.replicates.validLoss = replicas.valid;
        result.validLoss = raw.valid!;
      }
      result.epochs = epochs;
      this.epochsTrained += epochs;
      this.computed = true;
      return result;
    }
    if (raw.valid) result.validLoss = raw.valid;
    if (paramsEvery) {
      result.params = Object.fromEntries(this.program.params.filter((p) => raw.snapshots.has(p.id)).map((p) => [p.name, raw.snapshots.get(p.id)!]));
    }
    if (raw.diverged) result.diverged = this.divergence(raw.diverged - 1, raw.loss, raw.reference, before, 0);
    this.epochsTrained += result.epochs;
    this.computed = true;
    return result;
  }

  /** What diverged at run epoch `epoch`, and the setting to change (the one out of its stable range, else the learning rate). */
  private divergence(epoch: number, loss: FloatArray, reference: number, before: number, replicate: number): Divergence {
    const value = loss[epoch]!;
    const lastFiniteLoss = epoch > 0 ? loss[epoch - 1]! : null;
    const at = before + epoch + 1;
    const opt = this.program.optimizer!;
    const settings = Object.fromEntries(Object.keys(opt.hyper).map((k, i) => [k, this.hyper[replicate]![i]!]));
    const finite = Number.isFinite(value);
    const what = finite
      ? `the loss grew to ${value.toPrecision(6)} at epoch ${at}, more than ${RUNAWAY.toExponential().replace('e+', 'e')} times its reference ${reference.toPrecision(6)} (${this.target === null ? 'its first value since the data or parameters were written' : `the larger of its first value since the data or parameters were written and the targets' mean square over ${RUNAWAY.toExponential().replace('e+', 'e')}`})`
      : `the loss became ${value} at epoch ${at}` + (lastFiniteLoss === null ? '' : ` (last finite loss ${lastFiniteLoss.toPrecision(6)} at epoch ${at - 1})`);
    let advice: string;
    const unstable = opt.unstable?.(settings) ?? null;
    const largest = Math.max(0, ...this.largest.values());
    const limit = this.backend.precision === 'f32' ? FLOAT32_MAX : Number.MAX_VALUE;
    if (!finite && !(reference > 0) && lastFiniteLoss === null && largest ** 2 * this.program.loader.rows > limit) {
      // The very first loss overflowed: no step had happened yet, so no setting of the optimizer is to blame.
      advice = `The first loss overflowed before any update could matter: the largest value written is ${largest.toPrecision(3)}, and squared errors of that size pass ${this.backend.precision === 'f32' ? "float32's" : "float64's"} ${limit.toPrecision(3)}. Rescale the data (standardize it)${this.backend.precision === 'f32' ? ", or train on the CPU backend in float64 (device: 'cpu')" : ''}.`;
    } else if (unstable) {
      advice = `${unstable[0].toUpperCase()}${unstable.slice(1)}.`;
    } else {
      advice = `The learning rate${settings.lr === undefined ? '' : ` (${settings.lr})`} is probably too large: try a smaller one (say 10x smaller), or standardize the features.`;
    }
    return { epoch, reason: finite ? 'runaway' : 'not finite', loss: value, reference: reference > 0 ? reference : null, lastFiniteLoss, message: `${what}; training stopped there. ${advice}` };
  }

  /** Runs forward and backward once without updating, and reads the given tensors (one read). */
  evaluate(tensors: readonly (Tensor | string)[]): Promise<FloatArray[]> {
    let ids: number[] = [];
    return this.serial('evaluate', () => {
      this.requireInputs('evaluate');
      ids = tensors.map((t) => this.idOf(t, 'evaluate'));
    }, async () => {
      const values = await this.exe.evaluate(ids);
      this.computed = true;
      return values;
    });
  }

  /**
   * Reads the current value of a parameter, input or computed tensor. A computed value exists
   * once a train() or evaluate() has computed it (on a plan that stores it); reading one before
   * is a StateError. For predictions of rows, use predict(), which works on every plan.
   */
  read(tensor: Tensor | string): Promise<FloatArray> {
    let id = 0;
    return this.serial('read', () => {
      id = this.idOf(tensor, 'read');
      const node = this.graph.nodes[id]!;
      if (!this.computed && node.op !== 'input' && node.op !== 'param') {
        throw new StateError(`read: %${id} (${node.op}${node.label ? `, ${node.label}` : ''}) has not been computed: nothing has run since compile. model.predict(rows) computes predictions; model.evaluate([tensor]) computes the graph's values for the data written`);
      }
    }, async () => (await this.exe.read([id]))[0]!);
  }

  /**
   * The model's outputs for new rows, with its current parameters, on any plan and backend: the
   * outputs' forward graph runs a chunk of rows at a time (at most one storage binding's worth),
   * one submission and one read a chunk. `data` holds the data inputs the outputs read, by name,
   * as write() takes them, with any number of rows (other inputs of the graph, such as the
   * targets, may be given and are not read). Each result is rows × the output's width, row-major.
   *
   * @example
   * const yhat = await model.predict({ X: newRows });          // the loss's prediction
   * const { h, y } = await model.predict({ X }, { outputs: { h: hidden, y: pred } });
   */
  predict(data: Record<string, TensorData>, options?: PredictOptions & { outputs?: Tensor }): Promise<FloatArray>;
  predict(data: Record<string, TensorData>, options: PredictOptions & { outputs: readonly Tensor[] }): Promise<FloatArray[]>;
  predict<K extends string>(data: Record<string, TensorData>, options: PredictOptions & { outputs: Readonly<Record<K, Tensor>> }): Promise<Record<K, FloatArray>>;
  predict(data: Record<string, TensorData>, options: PredictOptions = {}): Promise<FloatArray | FloatArray[] | Record<string, FloatArray>> {
    let ids: number[] = [];
    let shape: (values: FloatArray[]) => FloatArray | FloatArray[] | Record<string, FloatArray> = (v) => v[0]!;
    let rows = 0;
    let replicate = 0;
    const flat = new Map<string, Float64Array>();
    return this.serial('predict', () => {
      if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new DataError(`predict: expected options ({ outputs, replicate }), got ${describe(options)}`);
      for (const key of Object.keys(options)) {
        if (!(PREDICT_OPTIONS as readonly string[]).includes(key)) {
          const near = nearest(key, PREDICT_OPTIONS);
          throw new DataError(`predict: unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ''}; the options are ${PREDICT_OPTIONS.join(', ')}`);
        }
      }
      ({ ids, shape } = this.predictedOutputs(options.outputs));
      replicate = options.replicate ?? 0;
      const B = this.program.replicas.count;
      if (!Number.isInteger(replicate) || replicate < 0 || replicate >= B) throw new DataError(`predict: replicate must be a whole number from 0 to ${B - 1} (the model trains ${B} replicate${B === 1 ? '' : 's'}), got ${describe(options.replicate)}`);
      const why = notRowwise(this.graph, this.program.loader.rows, ids);
      if (why) throw new DataError(`predict: ${why}`);
      rows = this.predictedRows(data, ids, flat);
    }, async () => {
      if (rows === 0) return shape(ids.map(() => (this.backend.precision === 'f32' ? new Float32Array(0) : new Float64Array(0))));
      const read = await this.exe.read(this.program.params.map((p) => p.id));
      const params = new Map(this.program.params.map((p, i) => {
        const size = sizeOf(this.graph.nodes[p.id]!.shape);
        return [p.name, read[i]!.subarray(replicate * size, (replicate + 1) * size)] as const;
      }));
      return shape(await this.predictor.predict(ids, rows, flat, params));
    });
  }

  /** predict()'s outputs as node ids, and how to hand their values back: one, a list, or by name. */
  private predictedOutputs(outputs: PredictOptions['outputs']) {
    const single = (v: FloatArray[]) => v[0]!;
    if (outputs === undefined) {
      const id = defaultOutput(this.graph, this.program.loss);
      if (id === null) throw new DataError(`predict: ${this.program.loss === null ? 'the graph has no one output' : "the loss is not squaredError(prediction, target), so there is no prediction to default to"}; name the output: predict(data, { outputs: tensor })`);
      return { ids: [id], shape: single };
    }
    if (outputs instanceof Tensor) return { ids: [this.idOf(outputs, 'predict')], shape: single };
    if (Array.isArray(outputs)) return { ids: outputs.map((t) => this.idOf(t as Tensor, 'predict')), shape: (v: FloatArray[]) => v };
    if (outputs === null || typeof outputs !== 'object') throw new DataError(`predict: outputs must be a tensor, a list of tensors or an object of tensors by name, got ${describe(outputs)}`);
    const names = Object.keys(outputs);
    const ids = names.map((k) => {
      const t = (outputs as Record<string, Tensor>)[k];
      if (!(t instanceof Tensor)) throw new DataError(`predict: outputs.${k} must be a tensor of the graph, got ${describe(t)}`);
      return this.idOf(t, 'predict');
    });
    return { ids, shape: (v: FloatArray[]) => Object.fromEntries(names.map((k, i) => [k, v[i]!])) };
  }

  /** Checks predict()'s data against the inputs the outputs read, flattens it into `flat`, and returns its rows. */
  private predictedRows(data: Record<string, TensorData>, ids: number[], flat: Map<string, Float64Array>): number {
    if (data === null || typeof data !== 'object' || Array.isArray(data) || ArrayBuffer.isView(data)) throw new DataError(`predict: expected an object of data inputs by name ({ X: ... }), got ${describe(data)}`);
    const needed = this.predictor.inputs(ids);
    for (const name of Object.keys(data)) {
      if (!this.program.inputs.some((i) => i.name === name)) throw new DataError(`predict: the graph has no data input "${name}" (the prediction reads ${needed.map((i) => i.name).join(', ')})`);
    }
    const float32 = this.backend.precision === 'f32';
    let rows = -1;
    let first = '';
    for (const { name, width } of needed) {
      const values = data[name];
      if (values === undefined) throw new DataError(`predict: no values for the input "${name}", which the prediction reads (predict({ ${needed.map((i) => `${i.name}: ...`).join(', ')} }))`);
      const rowsOf = Array.isArray(values) && values.length && typeof values[0] !== 'number' ? values.length : flatLength(values) / width;
      if (!Number.isInteger(rowsOf)) throw new DataError(`predict: "${name}" has ${flatLength(values)} values, which are not whole rows of ${width}`);
      if (rows >= 0 && rowsOf !== rows) throw new DataError(`predict: "${name}" has ${rowsOf} rows and "${first}" has ${rows}; every input needs the same rows`);
      if (rows < 0) [rows, first] = [rowsOf, name];
      const shape = this.graph.nodes[this.program.inputs.find((i) => i.name === name)!.id]!.shape;
      flat.set(name, flatten(name, values, [rowsOf, ...shape.slice(1)], float32, 'predict'));
    }
    return Math.max(rows, 0);
  }

  /**
   * Everything needed to go on later or elsewhere: the forward graph, the compile options that fix
   * the batches and replicates, the parameters and the optimizer's state (moments, step count,
   * epochs trained), as a plain JSON object (runtime/saved.ts: the format). Two reads.
   *
   * @example
   * writeFileSync('model.json', JSON.stringify(await model.state()));
   * const again = await Model.load(JSON.parse(readFileSync('model.json', 'utf8')), { backend });
   */
  state(): Promise<ModelState> {
    return this.serial('state', () => {}, () => this.snapshot());
  }

  /** state()'s work, for a caller already in the queue. */
  private async snapshot(): Promise<ModelState> {
    const { nodes, index } = savedGraph(this.graph);
    const { params, optimizer, loss } = this.program;
    const values = await this.exe.read(params.map((p) => p.id));
    const training = optimizer ? await this.exe.readState() : null;
    const names = Object.keys(optimizer?.hyper ?? {});
    return {
      format: MODEL_FORMAT,
      graph: { nodes },
      loss: loss === null ? null : index.get(loss)!,
      optimizer: optimizer && { name: optimizer.name, hyper: this.hyper.map((row) => Object.fromEntries(names.map((k, i) => [k, row[i]!]))) },
      options: this.savedOptions(names),
      params: Object.fromEntries(params.map((p, i) => [p.name, Array.from(values[i]!)])),
      training: training && {
        slots: Object.fromEntries(params.flatMap((p, i) => (training.slots[i]!.length ? [[p.name, training.slots[i]!.map((a) => Array.from(a))]] : []))),
        steps: training.steps,
        epochs: training.epochs,
      },
      epochsTrained: this.epochsTrained,
    };
  }

  /**
   * Recompiles the model for another row count, batch size or validation set, carrying over its
   * parameters, the optimizer's state and the epochs trained (the graph is rebuilt at the new row
   * count as a minibatch's is; a graph that only holds at its own row count is refused). Write
   * the data again after it. Resolves to a line saying what was recompiled.
   *
   * @example
   * await model.resize({ rows: 5000, batchSize: 256 });   // then model.write({ X, Y }) of 5000 rows
   */
  resize(options: { rows?: number; batchSize?: number; validationRows?: number }): Promise<string> {
    const { loader } = this.program;
    let rows = 0;
    return this.serial('resize', () => {
      if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new DataError(`resize: expected options ({ rows, batchSize, validationRows }), got ${describe(options)}`);
      for (const key of Object.keys(options)) if (!['rows', 'batchSize', 'validationRows'].includes(key)) throw new DataError(`resize: unknown option "${key}"; the options are rows, batchSize, validationRows`);
      rows = options.rows ?? loader.rows;
      if (!Number.isInteger(rows) || rows < 1) throw new DataError(`resize: rows must be a whole number >= 1, got ${describe(options.rows)}`);
      if (this.program.inputs.some((i) => this.graph.nodes[i.id]!.shape[0] !== loader.rows)) throw new DataError('resize: every data input needs the rows along its first axis');
    }, async () => {
      const saved = await this.snapshot();
      let rebuilt: ReturnType<typeof replay>;
      try {
        rebuilt = replay(this.graph, loader.rows, rows, null);
      } catch (e) {
        throw new DataError(`resize: the graph does not hold at ${rows} rows: ${(e as Error).message}`);
      }
      const { graph: g, ids } = rebuilt;
      const full = loader.batchSize >= loader.rows;
      const opts = saved.options;
      const batchSize = options.batchSize ?? (full ? rows : Math.min(loader.batchSize, rows));
      const validationRows = options.validationRows ?? loader.validationRows;
      const loss = this.program.loss === null ? undefined : new Tensor(g, ids.get(this.program.loss)!);
      const optimizer = this.program.optimizer ?? undefined;
      const next = await compile(g, { ...opts, batchSize: batchSize < rows ? batchSize : undefined, validationRows, ...(loss && optimizer ? { loss, optimizer } : {}), backend: this.backend, ...this.planOptions });
      next.loadState(saved);
      await next.tail;
      // This model becomes the recompiled one; tensors of the graphs before it keep naming their nodes.
      const old = { exe: this.exe, predictor: this.predictor, graph: this.graph };
      this.ancestry = [...this.ancestry.map((a) => ({ graph: a.graph, ids: new Map([...a.ids].flatMap(([k, v]) => (ids.has(v) ? [[k, ids.get(v)!] as const] : []))) })), { graph: old.graph, ids }];
      this.prog = next.prog;
      this.exe = next.exe;
      this.predictor = next.predictor;
      this.target = next.target;
      this.written = next.written;
      this.writtenValidation = next.writtenValidation;
      this.residualsWritten = false;
      this.computed = false;
      old.exe.dispose();
      void old.predictor.dispose();
      const line = `resize: recompiled for ${rows} rows${batchSize < rows ? ` in batches of ${batchSize}` : ', full batch'}${validationRows ? ` and ${validationRows} validation rows` : ''} (was ${loader.rows}${loader.batchSize < loader.rows ? ` in batches of ${loader.batchSize}` : ''}) on the ${this.planName} plan; the parameters, the optimizer's state and the ${this.epochsTrained} epochs trained carried over; write the data again`;
      debug(1, () => `fusegrad: ${line}`);
      return line;
    });
  }

  /** The compile options a saved model is rebuilt with: the loader's and the replicates' (a sweep as its hyperparameters now are). */
  private savedOptions(names: string[]): SavedOptions {
    const { loader, replicas } = this.program;
    const o: SavedOptions = { shuffle: loader.shuffle, dropLast: loader.dropLast, seed: loader.seed, validationRows: loader.validationRows, replicates: replicas.count };
    if (loader.batchSize < loader.rows) o.batchSize = loader.batchSize;
    if (replicas.bootstrap !== 'none') o.bootstrap = replicas.bootstrap;
    const varying = names.filter((_, i) => this.hyper.some((row) => row[i] !== this.hyper[0]![i]));
    if (varying.length) o.sweep = Object.fromEntries(varying.map((k) => [k, this.hyper.map((row) => row[names.indexOf(k)]!)]));
    return o;
  }

  /**
   * Compiles a saved model (model.state()) and loads its parameters and optimizer state into it,
   * so that predict() gives what the saved model gave and train() goes on as the saved model
   * would have. `options` picks where: the backend and its plan, layout and threads.
   */
  static async load(state: ModelState, options: Pick<CompileOptions, 'backend' | 'plan' | 'layout' | 'threads'> = {}): Promise<Model> {
    if (options === null || typeof options !== 'object') throw new DataError(`Model.load: options must be an object ({ backend, plan, layout, threads }), got ${describe(options)}`);
    for (const key of Object.keys(options)) if (!['backend', 'plan', 'layout', 'threads'].includes(key)) throw new DataError(`Model.load: unknown option "${key}"; the options are backend, plan, layout, threads (the rest is saved with the model)`);
    const { graph, nodes, state: s } = loadGraph(state);
    const optimizer = savedOptimizer(s.optimizer);
    const loss = s.loss === null ? undefined : nodes[s.loss];
    const model = await compile(graph, { ...(s.options ?? {}), ...(loss && optimizer ? { loss, optimizer } : {}), ...options });
    model.loadState(s);
    return model;
  }

  /**
   * Loads a saved model's parameters and optimizer state into this one, which must have the same
   * parameters (names and shapes), optimizer and replicates; anything else is a DataError naming it,
   * and nothing is written.
   */
  loadState(state: ModelState): void {
    this.live('loadState');
    const { params, training, hyper } = checkState(state, this.program, this.hyper);
    this.write(params);
    this.epochsTrained = Number.isInteger(state.epochsTrained) && state.epochsTrained >= 0 ? state.epochsTrained : 0;
    if (training && hyper) {
      const rows = hyper;
      this.hyper = rows.map((row) => [...row]);
      this.inOrder(() => {
        this.exe.writeState(training);
        if (rows.every((row) => row.every((v, i) => v === rows[0]![i]))) this.exe.setHyper(rows[0]!);
      });
    }
  }

  /** `tiny`, `fused` or `per-node` on WebGPU; `cpu` on the CPU backend. */
  get planName(): string {
    return this.exe.planName;
  }

  /** The kernel plan: which kernel computes which nodes. */
  plan(): string {
    return this.exe.plan();
  }

  /**
   * Everything between the graph and the GPU: the forward graph, the backward graph autograd
   * added, the kernel plan (which nodes went into which pipeline, bindings, workgroups, bytes) and
   * the WGSL of every pipeline.
   *
   * @example console.log(model.explain());
   */
  explain(): string {
    const g = this.graph;
    return [
      '== forward graph ==',
      g.toString((n) => n.role === 'forward'),
      '',
      '== backward graph (added by autograd) ==',
      g.toString((n) => n.role === 'backward') || '(none: compiled without a loss and an optimizer)',
      '',
      `== kernel plan on ${this.backend.description} ==`,
      this.exe.explain(),
    ].join('\n');
  }

  /**
   * Frees the model's device buffers, once the work already queued has run. Any later call is a
   * DisposedError; calling dispose() again does nothing.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.inOrder(() => {
      this.exe.dispose();
      void this.predictor.dispose();
    });
  }

  /** Throws when the model (unless `queued`: work called before dispose() still runs) or its backend can no longer be used. */
  private live(what: string, queued = false): void {
    if (this.disposed && !queued) throw new DisposedError(`${what}: the model was disposed (model.dispose()); compile the graph again to use it`);
    const gone = this.backend.gone;
    if (gone) throw new DisposedError(`${what}: the model's backend can no longer be used: ${gone}; request a new backend and compile again`);
  }

  /**
   * Queues device work after every call made before it. `check` runs at the call (its error
   * rejects at once and queues nothing); `work` runs when the calls before it have settled (a
   * dispose() called meanwhile waits for it), unless the backend went away meanwhile.
   */
  private serial<T>(what: string, check: () => void, work: () => Promise<T>): Promise<T> {
    try {
      this.live(what);
      check();
    } catch (err) {
      return Promise.reject(err);
    }
    this.pending++;
    const run = this.tail.then(() => {
      this.live(what, true);
      return work();
    });
    this.tail = run.then(
      () => this.pending--,
      () => this.pending--,
    );
    return run;
  }

  /** A write, setHyper or dispose: at once when nothing is queued, else after the queued work. */
  private inOrder(apply: () => void): void {
    if (this.pending === 0) {
      apply();
      return;
    }
    this.pending++;
    this.tail = this.tail.then(apply).then(
      () => this.pending--,
      () => this.pending--,
    );
  }

  private idOf(t: Tensor | string, what: string): number {
    if (t instanceof Tensor) {
      if (t.graph === this.graph) return t.id;
      const before = this.ancestry.find((a) => a.graph === t.graph);
      if (!before) throw new DataError(`${what}: the tensor belongs to another graph`);
      const id = before.ids.get(t.id);
      if (id === undefined) throw new DataError(`${what}: %${t.id} is a node of the graph before resize() that the recompiled graph does not have (a gradient: see model.gradients)`);
      return id;
    }
    if (typeof t !== 'string') throw new DataError(`${what}: expected a tensor or the name of an input or parameter, got ${describe(t)}`);
    const found = this.graph.byName(t);
    if (!found) throw new DataError(`${what}: the graph has no input or parameter "${t}"`);
    return found.id;
  }

  private requireOptimizer(what: string): Optimizer {
    if (!this.program.optimizer || this.program.loss === null) {
      throw new StateError(`${what}: the model was compiled without a loss and an optimizer; compile(graph, { loss, optimizer }) to train it`);
    }
    return this.program.optimizer;
  }

  private inputName(id: number): string {
    return this.program.inputs.find((i) => i.id === id)!.name;
  }

  private requireInputs(what: string): void {
    const missing = this.program.inputs.filter((i) => !this.written.has(i.id)).map((i) => i.name);
    if (missing.length) throw new DataError(`${what}: input${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not written yet (model.write({ ${missing[0]}: ... }))`);
    const { target } = this.program.replicas;
    if (what === 'train' && target !== null && !this.residualsWritten) {
      const name = this.inputName(target);
      throw new DataError(`train: the residual bootstrap's residuals are not written yet (model.write({ ${name}: residuals }, 'residuals'))`);
    }
    if (what === 'train' && this.program.loader.validationRows) {
      const absent = this.program.inputs.filter((i) => !this.writtenValidation.has(i.id)).map((i) => i.name);
      if (absent.length) throw new DataError(`${what}: validation input${absent.length > 1 ? 's' : ''} ${absent.join(', ')} not written yet (model.write({ ${absent[0]}: ... }, 'validation'))`);
    }
  }
}
