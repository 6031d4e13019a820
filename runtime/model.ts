/**
 * @file compile() and Model: the user's entry point. compile adds the backward graph, hands the
 * program to a backend once, and Model checks every value a user writes before it reaches a device.
 */
import { backward } from '../autograd/backward.js';
import { type Graph, Tensor } from '../engine/graph.js';
import type { FloatArray } from '../engine/ops.js';
import { fmtShape, sizeOf } from '../engine/shape.js';
import { type Optimizer, hyperValues } from '../optim/optimizer.js';
import { debug } from './debug.js';
import { requestBackend } from './device.js';
import type { Backend, Bootstrap, Executable, Loader, PlanOptions, Program, Replicas, Stats } from './program.js';

/** Values a user may write: a number, nested arrays matching the shape, or a flat typed array. */
export type TensorData = number | readonly number[] | readonly (readonly number[])[] | Float32Array | Float64Array;

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

export interface TrainOptions {
  epochs: number;
  /** Record every parameter after every k-th epoch (default 0: none). */
  paramsEvery?: number;
}

/** A loss that stopped being a finite number: the run stopped at that epoch. */
export interface Divergence {
  /** The epoch (0-based) whose loss was NaN or infinite. */
  epoch: number;
  /** The last finite loss before it (null if the first epoch already diverged). */
  lastFiniteLoss: number | null;
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
}

/** Bad values written to a model: names the tensor, the shape and the offending row or index. */
export class DataError extends Error {
  override name = 'DataError';
}

/**
 * Compiles a graph for a backend: adds the backward pass when given a loss and an optimizer, then
 * creates every buffer and pipeline once.
 *
 * @example
 * const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend });
 * model.write({ X: inputs, Y: targets });
 * const run = await model.train({ epochs: 100 }); // one submission, one read
 */
export async function compile(g: Graph, options: CompileOptions = {}): Promise<Model> {
  const { loss, optimizer = null, plan, layout } = options;
  const params = g.leaves('param');
  const loader = makeLoader(g, options);
  let grads: (Tensor | null)[] = params.map(() => null);
  if (loss && loss.graph !== g) throw new Error('compile: the loss is not a tensor of this graph');
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
  return new Model(program, backend, await backend.compile(program, { plan, layout }));
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
      if (values.length !== count) throw new DataError(`sweep ${name}: ${values.length} values for ${count} replicates; give one per replicate`);
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
  if (!Number.isInteger(seed)) throw new DataError(`seed must be an integer, got ${seed}`);
  return { rows, batchSize: Math.min(size, rows), shuffle, dropLast, seed, validationRows };
}

export class Model {
  private readonly written = new Set<number>();
  private readonly writtenValidation = new Set<number>();
  private residualsWritten = false;

  constructor(
    readonly program: Program,
    readonly backend: Backend,
    private readonly exe: Executable,
  ) {}

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
   * Writes inputs and parameters by name. Every value is checked (length, shape, finiteness)
   * before anything is written, so a bad entry leaves the model as it was.
   */
  write(values: Record<string, TensorData>, set: 'training' | 'validation' | 'residuals' = 'training'): void {
    const validation = set === 'validation';
    const residuals = set === 'residuals';
    const nv = this.program.loader.validationRows;
    if (validation && !nv) throw new DataError('write: this model has no validation set (compile with validationRows)');
    const { target } = this.program.replicas;
    if (residuals && target === null) throw new DataError("write: residuals are for a residual bootstrap (compile with bootstrap: 'residuals')");
    if (set !== 'training' && !validation && !residuals) throw new DataError(`write: the set is 'training', 'validation' or 'residuals', got ${JSON.stringify(set)}`);
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
      // With replicates, a parameter takes one value for all of them, or every replicate's in turn.
      if (isParam && B > 1 && !(typeof data === 'number') && flatLength(data) === B * sizeOf(shape)) {
        return { id: leaf.id, flat: flatten(name, data instanceof Float32Array || data instanceof Float64Array ? data : (data as number[]).flat(), [B * sizeOf(shape)]) };
      }
      const flat = flatten(set === 'training' ? name : `${name} (${set})`, data, validation ? [nv, ...shape.slice(1)] : shape);
      return { id: leaf.id, flat: isParam && B > 1 ? repeat(flat, B) : flat };
    });
    for (const { id, flat } of checked) {
      if (validation) {
        this.exe.writeValidation(id, flat);
        this.writtenValidation.add(id);
      } else if (residuals) {
        this.exe.writeResiduals(id, flat);
        this.residualsWritten = true;
      } else {
        this.exe.write(id, flat);
        this.written.add(id);
      }
    }
  }

  /** Writes optimizer hyperparameters (e.g. `{ lr: 0.01 }`) into the device buffer; recompiles nothing. */
  setHyper(values: Record<string, number>): void {
    const opt = this.requireOptimizer('setHyper');
    this.exe.setHyper(hyperValues(opt, values));
  }

  /** How many models train at once (1 unless compiled with replicates or a sweep). */
  get replicates(): number {
    return this.program.replicas.count;
  }

  /**
   * Trains `epochs` epochs: one submission and one read for the whole run, validation losses and
   * parameter snapshots included. Stops at an epoch whose loss is not finite and says so.
   */
  async train({ epochs, paramsEvery = 0 }: TrainOptions): Promise<TrainResult> {
    this.requireOptimizer('train');
    if (!Number.isInteger(epochs) || epochs < 1) throw new DataError(`train: epochs must be a positive integer, got ${epochs}`);
    if (!Number.isInteger(paramsEvery) || paramsEvery < 0) throw new DataError(`train: paramsEvery must be an integer >= 0, got ${paramsEvery}`);
    this.requireInputs('train');
    const raw = await this.exe.train(epochs, { paramsEvery });
    const result: TrainResult = { loss: raw.loss, epochs: raw.loss.length };
    if (raw.replicas) {
      result.replicates = {
        loss: raw.replicas.loss,
        diverged: raw.replicas.diverged.map((mark, r) => (mark ? this.divergence(mark - 1, raw.replicas!.loss[r]!, this.program.replicas.hyper?.[r]?.[0]) : null)),
      };
      if (raw.replicas.valid) {
        result.replicates.validLoss = raw.replicas.valid;
        result.validLoss = raw.valid!;
      }
      result.epochs = epochs;
      return result;
    }
    if (raw.valid) result.validLoss = raw.valid;
    if (paramsEvery) {
      result.params = Object.fromEntries(this.program.params.filter((p) => raw.snapshots.has(p.id)).map((p) => [p.name, raw.snapshots.get(p.id)!]));
    }
    if (raw.diverged) result.diverged = this.divergence(raw.diverged - 1, raw.loss, this.program.optimizer!.hyper.lr);
    return result;
  }

  private divergence(epoch: number, loss: FloatArray, lr: number | undefined): Divergence {
    const lastFiniteLoss = epoch > 0 ? loss[epoch - 1]! : null;
    return {
      epoch,
      lastFiniteLoss,
      message:
        `the loss became ${loss[epoch]} at epoch ${epoch + 1}` +
        (lastFiniteLoss === null ? '' : ` (last finite loss ${lastFiniteLoss.toPrecision(6)} at epoch ${epoch})`) +
        `; training stopped there. The learning rate${lr === undefined ? '' : ` (${lr})`} is probably too large: try a smaller one (say 10x smaller), or standardize the features.`,
    };
  }

  /** Runs forward and backward once without updating, and reads the given tensors (one read). */
  async evaluate(tensors: readonly (Tensor | string)[]): Promise<FloatArray[]> {
    this.requireInputs('evaluate');
    return this.exe.evaluate(tensors.map((t) => this.idOf(t)));
  }

  /** Reads the current value of a parameter, input or computed tensor. */
  async read(tensor: Tensor | string): Promise<FloatArray> {
    const [value] = await this.exe.read([this.idOf(tensor)]);
    return value!;
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

  dispose(): void {
    this.exe.dispose();
  }

  private idOf(t: Tensor | string): number {
    if (typeof t !== 'string') {
      if (t.graph !== this.graph) throw new DataError('read: the tensor belongs to another graph');
      return t.id;
    }
    const found = this.graph.byName(t);
    if (!found) throw new DataError(`read: the graph has no input or parameter "${t}"`);
    return found.id;
  }

  private requireOptimizer(what: string): Optimizer {
    if (!this.program.optimizer || this.program.loss === null) {
      throw new Error(`${what}: compile the model with a loss and an optimizer first`);
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

function flatLength(data: TensorData): number {
  if (typeof data === 'number') return 1;
  if (data instanceof Float32Array || data instanceof Float64Array) return data.length;
  return (data as readonly (number | readonly number[])[]).reduce<number>((s, v) => s + (Array.isArray(v) ? v.length : 1), 0);
}

function repeat(flat: Float64Array, times: number): Float64Array {
  const out = new Float64Array(flat.length * times);
  for (let r = 0; r < times; r++) out.set(flat, r * flat.length);
  return out;
}

/** Checks data against a shape and returns it flat, as float64 so the CPU reference loses nothing. */
function flatten(name: string, data: TensorData, shape: readonly number[]): Float64Array {
  const expected = sizeOf(shape);
  let flat: Float64Array;
  if (typeof data === 'number') {
    flat = Float64Array.of(data);
  } else if (data instanceof Float32Array || data instanceof Float64Array) {
    flat = Float64Array.from(data);
  } else if (Array.isArray(data) && data.length && Array.isArray(data[0])) {
    const rows = data as readonly (readonly number[])[];
    const cols = shape.length === 2 ? shape[1]! : 1;
    if (shape.length !== 2 || rows.length !== shape[0]) {
      throw new DataError(`write ${name}: got ${rows.length} rows, shape ${fmtShape(shape)} needs ${shape.length === 2 ? shape[0] : 'a flat array'}`);
    }
    flat = new Float64Array(expected);
    rows.forEach((row, r) => {
      if (!Array.isArray(row) || row.length !== cols) {
        throw new DataError(`write ${name}: row ${r} has ${Array.isArray(row) ? row.length : 'no'} values, shape ${fmtShape(shape)} needs ${cols}`);
      }
      flat.set(row, r * cols);
    });
  } else {
    flat = Float64Array.from(data as readonly number[]);
  }
  if (flat.length !== expected) {
    throw new DataError(`write ${name}: got ${flat.length} values, shape ${fmtShape(shape)} needs ${expected}`);
  }
  const bad = flat.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const cols = shape.length === 2 ? shape[1]! : 0;
    const where = cols ? `row ${Math.floor(bad / cols)}, column ${bad % cols}` : `index ${bad}`;
    throw new DataError(`write ${name}: the value at ${where} is ${flat[bad]}; fusegrad needs finite numbers (drop or fill missing values first)`);
  }
  return flat;
}
