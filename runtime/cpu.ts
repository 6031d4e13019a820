/**
 * @file The CPU backend, in float64 or float32 (values stored at that precision, arithmetic in
 * float64), with two plans:
 * - `compiled` (the default): the compiler's schedule emitted as JavaScript (compile/js.ts), the
 *   same row passes and finishing step as the WebGPU kernels, straight-line code over the typed
 *   arrays with no node stored;
 * - `reference`: the interpreter every test trusts, node by node with the op table's reference
 *   code. Minibatches and a validation set replay the forward graph at the batch's (or the
 *   validation set's) row count and let autograd derive its backward graph; every replay shares
 *   the parameters.
 * Both draw batches with the same shuffle and resamples as the device, and apply the optimizer's
 * CPU rule (optim/) to the gradients.
 */
import { replay as replayAt } from '../autograd/replay.js';
import { type JsPlan, type JsStep, instantiate, planJs } from '../compile/js.js';
import { PlanError } from '../compile/plan.js';
import { Unfusable } from '../compile/schedule.js';
import { type Graph, formatNode } from '../engine/graph.js';
import { debug } from './debug.js';
import { type FloatArray, OPS, type OpDef, type OpKind } from '../engine/ops.js';
import { sizeOf } from '../engine/shape.js';
import { type Backend, type Executable, type PlanOptions, type Program, type RawRun, StateError, type Stats, type TrainingState, batchesPerEpoch, zeroStats } from './program.js';
import { THREAD_MIN_ROWS, Team, cpuCount, defaultThreads, sharedArray, threadsAvailable } from './threads.js';
import { diverging, referenceAfter } from '../wgsl/control.js';
import { epochKey, feistelHalf, permute, resampleRow } from '../wgsl/shuffle.js';
import { DataError } from './values.js';

export type Precision = 'f32' | 'f64';

/**
 * The most bytes one train() call may record on the CPU backend: its losses, validation losses
 * and parameter snapshots, for every replicate. As WebGPU's binding limit does on a device, it
 * refuses a run too long to hold before anything is allocated (a typed array of 2^32 losses is a
 * RangeError; 1e9 epochs grew to 7.6 GB before it was stopped); 1 GiB is 134 million float64
 * epochs of one model, minutes of training at the CPU's fastest.
 */
export const CPU_RECORD_BYTES = 2 ** 30;

/** How the CPU backend runs a program: generated JavaScript, or the node-by-node interpreter. */
export type CpuPlan = 'compiled' | 'reference';

export class CpuBackend implements Backend {
  readonly kind = 'cpu';
  readonly description: string;
  gone: string | null = null;

  /** `plan` is the plan of every compile that does not name a CPU plan itself. */
  constructor(
    readonly precision: Precision = 'f64',
    readonly plan: CpuPlan = 'compiled',
  ) {
    this.description = `CPU float${precision === 'f64' ? 64 : 32}${plan === 'reference' ? ', reference interpreter' : ''}`;
  }

  /**
   * Compiles for the CPU. `plan: 'compiled'` insists on generated code, `'reference'` asks for the
   * interpreter; `'auto'` or none takes the backend's plan, falling back from compiled to the
   * interpreter for a graph the compiler does not fuse (the plan's first note says why). The
   * WebGPU plans' names are ignored, so one set of options serves both backends.
   */
  async compile(program: Program, { plan, threads, layout }: PlanOptions = {}): Promise<Executable> {
    const named = plan === 'compiled' || plan === 'reference';
    const wanted = named ? plan : this.plan;
    const notes = plan && plan !== 'auto' && !named ? [`plan "${plan}" is a WebGPU plan; the CPU backend runs its own`] : [];
    if (wanted === 'reference' || program.loss === null || !program.optimizer) return new CpuExecutable(program, this.precision, null, notes, 1);
    try {
      const js = planJs(program, layout?.unroll);
      const { rows, batchSize, validationRows } = program.loader;
      const biggest = Math.max(Math.min(rows, batchSize), validationRows);
      const cores = (await cpuCount()) ?? 1;
      let count = threads ?? defaultThreads(biggest, cores);
      if (count > 1 && !threadsAvailable()) {
        notes.push(`one thread: no worker threads here (Node and Deno have them, a browser page when it is cross-origin isolated; asked for ${count})`);
        count = 1;
      } else if (count > 1) {
        notes.push(`${count} threads (the main thread and ${count - 1} worker${count > 2 ? 's' : ''}${threads ? ', as asked' : `, one a core: batches of ${biggest} rows, at least ${THREAD_MIN_ROWS}`}): each sums its share of a batch's rows, the main thread adds the shares up`);
      } else {
        notes.push(threads ? 'one thread, as asked' : `one thread: batches of ${biggest} rows, under the ${THREAD_MIN_ROWS} that pay for a hand-off to worker threads`);
      }
      const exe = new CpuExecutable(program, this.precision, js, notes, count, threads !== undefined);
      await exe.start();
      debug(1, () => `fusegrad: compiled the compiled plan on ${this.description}: ${js.train.passes.length} row pass${js.train.passes.length === 1 ? '' : 'es'} and a finishing step a batch, on ${count === 1 ? 'one thread' : `${count} threads`}`);
      debug(2, () => [`fusegrad: the generated JavaScript of the training step`, js.trainSource, ...(js.validSource ? ['fusegrad: the generated JavaScript of the validation loss', js.validSource] : [])].join('\n'));
      return exe;
    } catch (e) {
      if (!(e instanceof Unfusable)) throw e;
      if (plan === 'compiled') throw new PlanError(`plan "compiled": ${e.message}; use plan "reference" or "auto"`);
      return new CpuExecutable(program, this.precision, null, [...notes, `not compiled: ${e.message}; the reference interpreter runs it`], 1);
    }
  }

  /** Nothing to free; marks the backend as disposed, as WebGPU's is, so that misuse fails alike on both. */
  dispose(): void {
    this.gone ??= 'it was disposed (backend.dispose())';
  }
}

type ArrayType = Float64ArrayConstructor | Float32ArrayConstructor;

/**
 * The values of one graph's nodes; arrays in `shared` (the parameters) are used, not copied. The
 * leaves' arrays exist from the start, the computed nodes' from the first run (a compiled plan
 * only evaluates on request, and at a million rows those arrays are hundreds of megabytes).
 */
class Evaluator {
  readonly values: FloatArray[];
  /** Whether run() has been called: until then the computed nodes hold nothing. */
  ran = false;

  constructor(
    readonly graph: Graph,
    private readonly Arr: ArrayType,
    shared: Map<number, FloatArray> = new Map(),
  ) {
    const none = new Arr(0);
    this.values = graph.nodes.map((n) => shared.get(n.id) ?? (OPS[n.op].lower.kind === 'leaf' ? new Arr(sizeOf(n.shape)) : none));
    for (const n of graph.nodes) {
      if (n.op === 'constant') this.values[n.id]!.fill((n.attrs as { value: number }).value);
    }
  }

  run(): void {
    const { nodes } = this.graph;
    if (!this.ran) {
      for (const n of nodes) if (OPS[n.op].lower.kind !== 'leaf') this.values[n.id] = new this.Arr(sizeOf(n.shape));
      this.ran = true;
    }
    for (const n of nodes) {
      if (OPS[n.op].lower.kind === 'leaf') continue;
      const def = OPS[n.op] as OpDef<OpKind>;
      const inputs = n.inputs.map((i) => ({ data: this.values[i]!, shape: nodes[i]!.shape }));
      def.cpu(n.attrs, inputs, this.values[n.id]!, n.shape);
    }
  }
}

/** The forward graph at another row count for the data inputs, with its own backward graph; parameters shared. */
interface Replay {
  ev: Evaluator;
  /** Node ids in the replay, by the original's node id (inputs, loss, gradients). */
  ids: Map<number, number>;
}

/** A compiled plan's generated functions, bound to the executable's arrays. */
interface Compiled {
  plan: JsPlan;
  /** Worker threads (with 2 or more threads), started by `start()`, and the fewest rows a pass hands them. */
  team: Team | null;
  teamRows: number;
  train: JsStep;
  valid: JsStep | null;
  /** Every pass's sums, finished (one step's). */
  totals: Float64Array;
  /** Each parameter's run of the gradients (one array in theta order, which the generated code writes). */
  gradOf: Float64Array[];
}

class CpuExecutable implements Executable {
  readonly stats: Stats = zeroStats();
  readonly planName: 'compiled' | 'reference';
  private readonly Arr: ArrayType;
  private readonly compiled: Compiled | null;
  private readonly main: Evaluator;
  private readonly state: FloatArray[][];
  private readonly replays = new Map<string, Replay>();
  private readonly validation: Map<number, FloatArray>;
  /** A residual bootstrap's residuals: rows of the target, resampled and added to it. */
  private readonly residuals: FloatArray | null;
  private hyper: number[];
  /** Optimizer steps taken so far (PyTorch's `step`), kept across runs. */
  private steps = 0;
  /** Epochs trained since compile: the shuffle's key, as on the device. */
  private epochsTotal = 0;
  /** The divergence rule's reference: the first loss since the data or parameters were written, or the floor if larger (0 or less: none yet). */
  private reference = 0;
  private floor = 0;
  private readonly replicaReference: number[];
  /** With replicates: every replicate's parameters, one after another (replicate 0's are live in `main`). */
  private readonly stacked: Map<number, FloatArray>;
  private readonly replicaState: FloatArray[][][];
  private readonly replicaSteps: number[];
  /** Per-replicate hyperparameters (a sweep), swapped with `hyper` like the rest. */
  private readonly table: number[][] | null;
  /** The epoch's order, when batches are drawn (made on the first such epoch). */
  private drawn: Drawn | null = null;

  constructor(
    private readonly program: Program,
    private readonly precision: Precision,
    plan: JsPlan | null,
    private readonly notes: string[],
    private readonly threads: number,
    /** The threads were asked for: every pass with a row for each goes to them. */
    private readonly forced = false,
  ) {
    this.planName = plan ? 'compiled' : 'reference';
    this.Arr = precision === 'f64' ? Float64Array : Float32Array;
    // What threads read lives in shared memory: the data, the parameters, the residuals, the order.
    const leaves = [...program.inputs, ...program.params].map((l) => [l.id, this.alloc(sizeOf(program.graph.nodes[l.id]!.shape))] as const);
    this.main = new Evaluator(program.graph, this.Arr, new Map(leaves));
    const slots = program.optimizer?.slots ?? 0;
    this.state = program.params.map((p) => Array.from({ length: slots }, () => new this.Arr(this.main.values[p.id]!.length)));
    this.hyper = Object.values(program.optimizer?.hyper ?? {});
    const { validationRows } = program.loader;
    this.validation = new Map(program.inputs.map((i) => [i.id, this.alloc(validationRows * (program.graph.nodes[i.id]!.shape[1] ?? 1))]));
    const B = program.replicas.count;
    this.stacked = new Map(B > 1 ? program.params.map((p) => [p.id, new this.Arr(B * this.main.values[p.id]!.length)]) : []);
    this.replicaState = Array.from({ length: B }, () => this.state.map((slots) => slots.map((slot) => new this.Arr(slot.length))));
    this.replicaSteps = new Array<number>(B).fill(0);
    this.replicaReference = new Array<number>(B).fill(0);
    this.table = program.replicas.hyper?.map((row) => [...row]) ?? null;
    const { target } = program.replicas;
    this.residuals = target === null ? null : this.alloc(this.main.values[target]!.length);
    this.compiled = plan && this.bind(plan);
  }

  /** An array at the executable's precision, in shared memory when threads will read it. */
  private alloc(length: number): FloatArray {
    return this.threads > 1 ? sharedArray(this.Arr, length) : new this.Arr(length);
  }

  /** Starts the worker threads, if the plan has some. */
  async start(): Promise<void> {
    const c = this.compiled;
    if (!c || this.threads < 2) return;
    const { inputs, loader, replicas } = this.program;
    const n = loader.rows;
    this.drawn = { order: new Int32Array(new SharedArrayBuffer(4 * Math.max(1, n))), draws: replicas.bootstrap === 'residuals' ? new Int32Array(new SharedArrayBuffer(4 * n)) : null };
    c.team = await Team.start(this.threads, {
      trainSource: c.plan.trainSource,
      validSource: c.plan.validSource,
      data: inputs.map((i) => this.main.values[i.id]!),
      validData: inputs.map((i) => this.validation.get(i.id)!),
      params: c.plan.theta.params.map((p) => this.main.values[p.id]!),
      residuals: this.residuals,
      totals: c.totals,
      order: this.drawn.order,
      draws: this.drawn.draws,
    });
  }

  /** The plan's functions over this executable's arrays: the live data, parameters and residuals. */
  private bind(plan: JsPlan): Compiled {
    const data = this.program.inputs.map((i) => this.main.values[i.id]!);
    const params = plan.theta.params.map((p) => this.main.values[p.id]!);
    const width = Math.max(1, plan.train.accumulators, plan.valid?.accumulators ?? 0);
    const totals = this.threads > 1 ? sharedArray(Float64Array, width) : new Float64Array(width);
    const grads = new Float64Array(plan.theta.count);
    const gradOf = plan.theta.params.map((p) => grads.subarray(p.offset, p.offset + p.size));
    const train = instantiate(plan.trainSource, data, params, this.residuals, totals, grads, this.program.loader.rows);
    const validData = this.program.inputs.map((i) => this.validation.get(i.id)!);
    const valid = plan.validSource === null ? null : instantiate(plan.validSource, validData, params, null, totals, grads, this.program.loader.validationRows);
    return { plan, train, valid, team: null, teamRows: this.forced ? this.threads : THREAD_MIN_ROWS, totals, gradOf };
  }

  write(id: number, data: FloatArray): void {
    this.forgetReference();
    const stacked = this.stacked.get(id);
    if (stacked) {
      // Replicate 0's values are the live ones; the rest wait in `stacked`.
      stacked.set(data);
      this.main.values[id]!.set(data.subarray(0, this.main.values[id]!.length));
      return;
    }
    this.main.values[id]!.set(data);
  }

  writeValidation(id: number, data: FloatArray): void {
    if (!this.program.loader.validationRows) throw new StateError('write: this model has no validation set (compile with validationRows)');
    this.validation.get(id)!.set(data);
  }

  writeResiduals(id: number, data: FloatArray): void {
    if (!this.residuals || id !== this.program.replicas.target) throw new StateError("write: residuals are for the target of a residual bootstrap (compile with bootstrap: 'residuals')");
    this.residuals.set(data);
    this.forgetReference();
  }

  referenceFloor(floor: number): void {
    this.floor = floor;
    this.forgetReference();
  }

  /** New data or parameters: the divergence rule's reference becomes the next epoch's loss again (or the floor, if larger). */
  private forgetReference(): void {
    this.reference = -this.floor;
    this.replicaReference.fill(-this.floor);
  }

  async readState(): Promise<TrainingState> {
    const B = this.program.replicas.count;
    // With replicates every replicate's state waits in replicaState between runs (swapReplica).
    const slotsOf = (i: number, k: number) => (B === 1 ? this.state[i]![k]!.slice() : cat(this.replicaState.map((r) => r[i]![k]!), this.Arr));
    const slots = this.program.params.map((p, i) => (p.grad === null ? [] : this.state[i]!.map((_, k) => slotsOf(i, k))));
    return { slots, steps: B === 1 ? [this.steps] : [...this.replicaSteps], epochs: this.epochsTotal };
  }

  writeState(state: TrainingState): void {
    const B = this.program.replicas.count;
    this.program.params.forEach((p, i) => {
      if (p.grad === null) return;
      this.state[i]!.forEach((slot, k) => {
        const all = state.slots[i]![k]!;
        if (B === 1) slot.set(all);
        else this.replicaState.forEach((r, b) => r[i]![k]!.set(all.subarray(b * slot.length, (b + 1) * slot.length)));
      });
    });
    if (B === 1) this.steps = state.steps[0]!;
    else state.steps.forEach((t, r) => (this.replicaSteps[r] = t));
    this.epochsTotal = state.epochs;
  }

  setHyper(values: readonly number[]): void {
    this.hyper = [...values];
    // One set for every replicate.
    this.table?.forEach((_, r) => (this.table![r] = [...values]));
  }

  async train(epochs: number, { paramsEvery }: { paramsEvery: number }): Promise<RawRun> {
    const { loss, optimizer } = this.program;
    if (loss === null || !optimizer) throw new StateError('train: the program was compiled without a loss and an optimizer');
    const B = this.program.replicas.count;
    const validating = this.program.loader.validationRows > 0;
    const slots = paramsEvery ? Math.floor(epochs / paramsEvery) : 0;
    const snapshotWords = this.program.params.filter((p) => p.grad !== null).reduce((s, p) => s + this.main.values[p.id]!.length, 0);
    const bytes = this.Arr.BYTES_PER_ELEMENT * (B * epochs * (validating ? 2 : 1) + slots * snapshotWords);
    if (bytes > CPU_RECORD_BYTES) {
      const what = `${B > 1 ? `${B} replicates x ` : ''}${epochs} epochs of losses${validating ? ' and validation losses' : ''}${slots ? ` and ${slots} parameter snapshots` : ''}`;
      throw new PlanError(`train: ${what} need ${bytes} bytes in memory, over the CPU backend's limit of ${CPU_RECORD_BYTES} for one run; train in shorter runs (each train() goes on where the last one stopped)`);
    }
    const start = performance.now();
    const logged = (run: RawRun) => {
      debug(1, () => {
        const ms = performance.now() - start;
        return `fusegrad: trained ${epochs} epochs in ${ms.toFixed(2)} ms (${((1000 * ms) / epochs).toFixed(1)} µs/epoch) on the ${this.planName} plan on CPU float${this.precision === 'f64' ? 64 : 32}`;
      });
      return run;
    };
    if (B === 1) return logged(await this.trainOne(epochs, paramsEvery, null));
    if (paramsEvery) throw new DataError('train: parameter snapshots are for one model; with replicates, read the parameters after the run');
    // Many models: each replicate's parameters, state, steps and hyperparameters are swapped in and
    // trained in turn, on its own resample when bootstrapping, drawn as the device draws it.
    const startTotal = this.epochsTotal;
    const runs: RawRun[] = [];
    for (let r = 0; r < B; r++) {
      this.swapReplica(r);
      this.epochsTotal = startTotal;
      const { seed, rows } = this.program.loader;
      // A replicate's draws depend on (seed, replicate, row) alone: drawn once here, looked up every epoch.
      const drawn = this.program.replicas.bootstrap === 'none' ? null : Int32Array.from({ length: rows }, (_, p) => resampleRow(seed, r, p, rows));
      const draw = drawn && ((p: number) => drawn[p]!);
      runs.push(await this.trainOne(epochs, 0, draw));
      this.swapReplica(r);
    }
    this.epochsTotal = startTotal + epochs;
    // Each replicate's trained values now wait in `stacked`; replicate 0's become the live ones again.
    for (const p of this.program.params) {
      const live = this.main.values[p.id]!;
      live.set(this.stacked.get(p.id)!.subarray(0, live.length));
    }
    const marks = runs.map((run) => run.diverged);
    const valid = this.program.loader.validationRows ? runs.map((run) => run.valid!) : null;
    const reference = runs.map((run) => run.reference);
    return logged({ loss: runs[0]!.loss, valid: valid?.[0] ?? null, snapshots: new Map(), diverged: 0, reference: reference[0]!, replicas: { loss: runs.map((run) => run.loss), valid, diverged: marks, reference } });
  }

  /** Exchanges the live parameters, optimizer state, step count and hyperparameters with replicate r's. */
  private swapReplica(r: number): void {
    this.program.params.forEach((p, i) => {
      const live = this.main.values[p.id]!;
      const stacked = this.stacked.get(p.id)!;
      const mine = stacked.slice(r * live.length, (r + 1) * live.length);
      stacked.set(live, r * live.length);
      live.set(mine);
      const state = this.replicaState[r]![i]!;
      this.state[i]!.forEach((slot, k) => {
        const keep = slot.slice();
        slot.set(state[k]!);
        state[k]!.set(keep);
      });
    });
    [this.steps, this.replicaSteps[r]] = [this.replicaSteps[r]!, this.steps];
    [this.reference, this.replicaReference[r]] = [this.replicaReference[r]!, this.reference];
    if (this.table) [this.hyper, this.table[r]] = [this.table[r]!, this.hyper];
  }

  /**
   * One model's run; `draw` maps a row to a bootstrap replicate's draw: the row trained on instead
   * (pairs), or the row of residuals added to its target (residuals).
   */
  private async trainOne(epochs: number, paramsEvery: number, draw: ((row: number) => number) | null): Promise<RawRun> {
    const { params, loader } = this.program;
    const lossOut = new this.Arr(epochs);
    const validOut = loader.validationRows ? new this.Arr(epochs) : null;
    const snapshots = new Map<number, FloatArray[]>(params.filter((p) => p.grad !== null).map((p) => [p.id, []]));
    const batches = batchesPerEpoch(loader);
    const fullBatch = batches === 1 && loader.batchSize >= loader.rows && !loader.shuffle && !draw;
    let ran = 0;
    let diverged = 0;
    for (let e = 0; e < epochs; e++) {
      const drawn = fullBatch ? null : this.epochOrder(draw);
      let sum = 0;
      for (let b = 0; b < batches; b++) {
        const first = b * loader.batchSize;
        sum += this.batch(drawn, first, Math.min(loader.rows, first + loader.batchSize));
      }
      lossOut[e] = sum / batches;
      this.epochsTotal++;
      ran = e + 1;
      if (validOut) validOut[e] = this.validationLoss();
      if (paramsEvery && (e + 1) % paramsEvery === 0) {
        for (const [id, list] of snapshots) list.push(this.main.values[id]!.slice());
      }
      // The rule is control.wgsl's, applied to the loss as recorded (float32 on a float32 backend).
      const recorded = lossOut[e]!;
      this.reference = referenceAfter(recorded, this.reference);
      if (diverging(recorded, this.reference)) {
        diverged = e + 1;
        break;
      }
    }
    return { loss: lossOut.slice(0, ran), valid: validOut?.slice(0, ran) ?? null, snapshots, diverged, reference: this.reference };
  }

  /**
   * This epoch's order, drawn as the device draws it: the data row at each position (shuffled,
   * and for a pairs bootstrap resampled) and, for a residual bootstrap, the residual row each
   * position gets.
   */
  private epochOrder(draw: ((row: number) => number) | null): Drawn {
    const { loader, replicas } = this.program;
    const n = loader.rows;
    this.drawn ??= { order: new Int32Array(n), draws: replicas.bootstrap === 'residuals' ? new Int32Array(n) : null };
    const { order } = this.drawn;
    const draws = draw ? this.drawn.draws : null;
    const key = epochKey(loader.seed, this.epochsTotal);
    const half = feistelHalf(n);
    const pairs = draw && replicas.bootstrap === 'pairs';
    for (let q = 0; q < n; q++) {
      const pos = loader.shuffle ? permute(q, n, key, half) : q;
      order[q] = pairs ? draw(pos) : pos;
      if (draws) draws[q] = draw ? draw(pos) : pos;
    }
    return { order, draws };
  }

  /** One optimizer step on positions [first, last) of the epoch's order (null: every row, in order); returns the batch's loss before the step. */
  private batch(drawn: Drawn | null, first: number, last: number): number {
    const c = this.compiled;
    if (c) {
      const m = last - first;
      const short = m !== this.program.loader.batchSize;
      const { passes } = c.plan.train;
      for (let p = 0; p < passes.length; p++) this.pass(c, c.train, true, p, passes[p]!, drawn, first, last, m, short);
      const loss = c.train.finish(m, short);
      this.update(c.gradOf);
      return loss;
    }
    if (!drawn) return this.step(this.main, (id) => id);
    const rows = drawn.order.subarray(first, last);
    const replay = this.replay(rows.length, true);
    for (const input of this.program.inputs) gatherRows(this.main.values[input.id]!, rows, replay.ev.values[replay.ids.get(input.id)!]!);
    const { target } = this.program.replicas;
    if (drawn.draws) addRows(this.residuals!, drawn.draws.subarray(first, last), replay.ev.values[replay.ids.get(target!)!]!);
    return this.step(replay.ev, (id) => replay.ids.get(id)!);
  }

  /** Pass p of a compiled step on positions [first, last): across the threads when it has enough rows, else here. */
  private pass(c: Compiled, step: JsStep, training: boolean, p: number, sums: { at: number; size: number }, drawn: Drawn | null, first: number, last: number, m: number, short: boolean): void {
    const order = drawn?.order ?? null;
    const draws = drawn?.draws ?? null;
    if (c.team && last - first >= c.teamRows) c.team.run(step, training, p, sums, order, draws, first, last, m, short);
    else step.passes[p]!(order, draws, first, last, m, short, c.totals);
  }

  /** The loss over the validation set with the parameters as they are. */
  private validationLoss(): number {
    const nv = this.program.loader.validationRows;
    const c = this.compiled;
    if (c) {
      const { passes } = c.plan.valid!;
      for (let p = 0; p < passes.length; p++) this.pass(c, c.valid!, false, p, passes[p]!, null, 0, nv, nv, false);
      return c.valid!.finish(nv, false);
    }
    const replay = this.replay(nv, false);
    for (const input of this.program.inputs) replay.ev.values[replay.ids.get(input.id)!]!.set(this.validation.get(input.id)!);
    replay.ev.run();
    return replay.ev.values[replay.ids.get(this.program.loss!)!]![0]!;
  }

  async evaluate(ids: readonly number[]): Promise<FloatArray[]> {
    this.main.run();
    return this.read(ids);
  }

  async read(ids: readonly number[]): Promise<FloatArray[]> {
    return ids.map((id) => {
      const n = this.program.graph.nodes[id]!;
      if (this.compiled && !this.main.ran && OPS[n.op].lower.kind !== 'leaf') {
        throw new PlanError(`read: %${id} (${n.op}${n.label ? `, ${n.label}` : ''}) is computed inside the compiled plan's generated code and never stored; model.predict(rows) computes predictions, evaluate([...]) this value, or compile with plan: 'reference'`);
      }
      const stacked = this.stacked.get(id);
      if (!stacked) return this.main.values[id]!.slice();
      const out = stacked.slice();
      out.set(this.main.values[id]!, 0);
      return out;
    });
  }

  plan(): string {
    const c = this.compiled;
    if (!c) {
      return this.program.graph.nodes
        .filter((n) => OPS[n.op].lower.kind !== 'leaf')
        .map((n) => `cpu ${formatNode(n)}`)
        .join('\n');
    }
    const { train } = c.plan;
    const passes = train.passes.map((pass, p) => `row pass ${p}: per row, summed into ${pass.sums.map((x) => `%${x.id}`).join(' ')}`);
    return [...passes, 'finishing step: the loss and the gradients from the sums, then the optimizer'].join('\n');
  }

  explain(): string {
    const c = this.compiled;
    const notes = [...this.notes, ...(c?.plan.notes ?? [])].map((n) => `  note: ${n}`);
    if (!c) return [`plan: reference (the CPU backend evaluates every node in graph order with the op table's reference code)`, ...notes, this.plan()].join('\n');
    const { train, valid } = c.plan;
    const steps = `${train.passes.length} row pass${train.passes.length === 1 ? '' : 'es'} and a finishing step a batch`;
    return [
      `plan: compiled (generated JavaScript on ${this.threads === 1 ? 'one thread' : `${this.threads} threads`}, float${this.precision === 'f64' ? 64 : 32} values, float64 arithmetic: ${steps})`,
      ...notes,
      this.plan(),
      '',
      '== generated JavaScript: the training step ==',
      c.plan.trainSource,
      ...(valid ? ['', '== generated JavaScript: the validation loss ==', c.plan.validSource!] : []),
    ].join('\n');
  }

  dispose(): void {
    this.compiled?.team?.dispose();
  }

  /** One optimizer step on an evaluator's graph; returns the loss before the step. */
  private step(ev: Evaluator, idOf: (id: number) => number): number {
    const { loss, params } = this.program;
    ev.run();
    this.update(params.map((p) => ev.values[idOf(p.grad!)]!));
    return ev.values[idOf(loss!)]![0]!;
  }

  /** The optimizer's rule applied to every parameter, given its gradient. */
  private update(grads: readonly FloatArray[]): void {
    const { optimizer, params } = this.program;
    this.steps++;
    for (let i = 0; i < params.length; i++) optimizer!.step(this.main.values[params[i]!.id]!, grads[i]!, this.state[i]!, this.hyper, this.steps);
  }

  /** The forward graph replayed with `rows` rows in every data input (and, for training, its backward graph). */
  private replay(rows: number, withBackward: boolean): Replay {
    const key = `${rows}:${withBackward}`;
    const hit = this.replays.get(key);
    if (hit) return hit;
    const { graph, loss, params, loader } = this.program;
    const { graph: g, ids } = replayAt(graph, loader.rows, rows, withBackward ? { loss: loss!, params } : null);
    const shared = new Map(params.map((p) => [ids.get(p.id)!, this.main.values[p.id]!]));
    const replay = { ev: new Evaluator(g, this.Arr, shared), ids };
    this.replays.set(key, replay);
    return replay;
  }
}

/** An epoch's order (epochOrder). */
interface Drawn {
  order: Int32Array;
  draws: Int32Array | null;
}

/** Adds the given rows of a row-major matrix to `out`, row i to row i. */
function addRows(from: FloatArray, rows: ArrayLike<number>, out: FloatArray): void {
  const width = out.length / rows.length;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]! * width;
    for (let c = 0; c < width; c++) out[i * width + c]! += from[r + c]!;
  }
}

/** Copies the given rows of a row-major matrix into `out`. */
function gatherRows(from: FloatArray, rows: ArrayLike<number>, out: FloatArray): void {
  const width = out.length / rows.length;
  // Element by element: a subarray per row allocates, and that dominated small batches.
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]! * width;
    for (let c = 0; c < width; c++) out[i * width + c] = from[r + c]!;
  }
}

/** Arrays laid end to end, in one array of `Arr`. */
function cat(parts: readonly FloatArray[], Arr: ArrayType): FloatArray {
  const out = new Arr(parts.reduce((s, x) => s + x.length, 0));
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}
