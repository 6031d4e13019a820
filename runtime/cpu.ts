/**
 * @file The CPU backend: runs the same graph node by node with the op table's reference code, in
 * float64 (the reference every test compares with) or float32 (to compare like with like).
 * Minibatches and a validation set replay the forward graph at the batch's (or the validation
 * set's) row count and let autograd derive its backward graph; every replay shares the
 * parameters, and batches are drawn with the same shuffle as the device's.
 */
import { replay as replayAt } from '../autograd/replay.js';
import { type Graph, formatNode } from '../engine/graph.js';
import { type FloatArray, OPS, type OpDef, type OpKind } from '../engine/ops.js';
import { sizeOf } from '../engine/shape.js';
import { type Backend, type Executable, type Program, type RawRun, type Stats, batchesPerEpoch, zeroStats } from './program.js';
import { diverging, referenceAfter } from '../wgsl/control.js';
import { epochKey, feistelHalf, permute, resampleRow } from '../wgsl/shuffle.js';

export type Precision = 'f32' | 'f64';

export class CpuBackend implements Backend {
  readonly kind = 'cpu';
  readonly description: string;
  gone: string | null = null;

  constructor(readonly precision: Precision = 'f64') {
    this.description = `CPU float${precision === 'f64' ? 64 : 32}`;
  }

  async compile(program: Program): Promise<Executable> {
    return new CpuExecutable(program, this.precision);
  }

  /** Nothing to free; marks the backend as disposed, as WebGPU's is, so that misuse fails alike on both. */
  dispose(): void {
    this.gone ??= 'it was disposed (backend.dispose())';
  }
}

type ArrayType = Float64ArrayConstructor | Float32ArrayConstructor;

/** The values of one graph's nodes; arrays in `shared` (the parameters) are used, not copied. */
class Evaluator {
  readonly values: FloatArray[];

  constructor(
    readonly graph: Graph,
    Arr: ArrayType,
    shared: Map<number, FloatArray> = new Map(),
  ) {
    this.values = graph.nodes.map((n) => shared.get(n.id) ?? new Arr(sizeOf(n.shape)));
    for (const n of graph.nodes) {
      if (n.op === 'constant') this.values[n.id]!.fill((n.attrs as { value: number }).value);
    }
  }

  run(): void {
    const { nodes } = this.graph;
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

class CpuExecutable implements Executable {
  readonly stats: Stats = zeroStats();
  readonly planName = 'cpu';
  private readonly Arr: ArrayType;
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

  constructor(
    private readonly program: Program,
    precision: Precision,
  ) {
    this.Arr = precision === 'f64' ? Float64Array : Float32Array;
    this.main = new Evaluator(program.graph, this.Arr);
    const slots = program.optimizer?.slots ?? 0;
    this.state = program.params.map((p) => Array.from({ length: slots }, () => new this.Arr(this.main.values[p.id]!.length)));
    this.hyper = Object.values(program.optimizer?.hyper ?? {});
    const { validationRows } = program.loader;
    this.validation = new Map(program.inputs.map((i) => [i.id, new this.Arr(validationRows * (program.graph.nodes[i.id]!.shape[1] ?? 1))]));
    const B = program.replicas.count;
    this.stacked = new Map(B > 1 ? program.params.map((p) => [p.id, new this.Arr(B * this.main.values[p.id]!.length)]) : []);
    this.replicaState = Array.from({ length: B }, () => this.state.map((slots) => slots.map((slot) => new this.Arr(slot.length))));
    this.replicaSteps = new Array<number>(B).fill(0);
    this.replicaReference = new Array<number>(B).fill(0);
    this.table = program.replicas.hyper?.map((row) => [...row]) ?? null;
    const { target } = program.replicas;
    this.residuals = target === null ? null : new this.Arr(this.main.values[target]!.length);
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
    if (!this.program.loader.validationRows) throw new Error('write: this model has no validation set (compile with validationRows)');
    this.validation.get(id)!.set(data);
  }

  writeResiduals(id: number, data: FloatArray): void {
    if (!this.residuals || id !== this.program.replicas.target) throw new Error("write: residuals are for the target of a residual bootstrap (compile with bootstrap: 'residuals')");
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

  setHyper(values: readonly number[]): void {
    this.hyper = [...values];
    // One set for every replicate.
    this.table?.forEach((_, r) => (this.table![r] = [...values]));
  }

  async train(epochs: number, { paramsEvery }: { paramsEvery: number }): Promise<RawRun> {
    const { loss, optimizer } = this.program;
    if (loss === null || !optimizer) throw new Error('train: the program was compiled without a loss and an optimizer');
    const B = this.program.replicas.count;
    if (B === 1) return this.trainOne(epochs, paramsEvery, null);
    if (paramsEvery) throw new Error('train: parameter snapshots are for one model; with replicates, read the parameters after the run');
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
    return { loss: runs[0]!.loss, valid: valid?.[0] ?? null, snapshots: new Map(), diverged: 0, reference: reference[0]!, replicas: { loss: runs.map((run) => run.loss), valid, diverged: marks, reference } };
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
    const { loss, params, loader } = this.program;
    const lossOut = new this.Arr(epochs);
    const validOut = loader.validationRows ? new this.Arr(epochs) : null;
    const snapshots = new Map<number, FloatArray[]>(params.filter((p) => p.grad !== null).map((p) => [p.id, []]));
    const batches = batchesPerEpoch(loader);
    const fullBatch = batches === 1 && loader.batchSize >= loader.rows && !loader.shuffle && !draw;
    const { bootstrap, target } = this.program.replicas;
    const pairs = draw && bootstrap === 'pairs' ? draw : null;
    const residual = draw && bootstrap === 'residuals' ? draw : null;
    let ran = 0;
    let diverged = 0;
    for (let e = 0; e < epochs; e++) {
      let sum = 0;
      if (fullBatch) {
        sum = this.step(this.main, (id) => id);
      } else {
        const key = epochKey(loader.seed, this.epochsTotal);
        const half = feistelHalf(loader.rows);
        for (let b = 0; b < batches; b++) {
          const first = b * loader.batchSize;
          const last = Math.min(loader.rows, first + loader.batchSize);
          const rows = Array.from({ length: last - first }, (_, i) => {
            const pos = loader.shuffle ? permute(first + i, loader.rows, key, half) : first + i;
            return pairs ? pairs(pos) : pos;
          });
          const replay = this.replay(rows.length, true);
          for (const input of this.program.inputs) gatherRows(this.main.values[input.id]!, rows, replay.ev.values[replay.ids.get(input.id)!]!);
          if (residual) addRows(this.residuals!, rows.map(residual), replay.ev.values[replay.ids.get(target!)!]!);
          sum += this.step(replay.ev, (id) => replay.ids.get(id)!);
        }
      }
      const epochLoss = sum / batches;
      lossOut[e] = epochLoss;
      this.epochsTotal++;
      ran = e + 1;
      if (validOut) {
        const replay = this.replay(loader.validationRows, false);
        for (const input of this.program.inputs) replay.ev.values[replay.ids.get(input.id)!]!.set(this.validation.get(input.id)!);
        replay.ev.run();
        validOut[e] = replay.ev.values[replay.ids.get(loss!)!]![0]!;
      }
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

  async evaluate(ids: readonly number[]): Promise<FloatArray[]> {
    this.main.run();
    return this.read(ids);
  }

  async read(ids: readonly number[]): Promise<FloatArray[]> {
    return ids.map((id) => {
      const stacked = this.stacked.get(id);
      if (!stacked) return this.main.values[id]!.slice();
      const out = stacked.slice();
      out.set(this.main.values[id]!, 0);
      return out;
    });
  }

  plan(): string {
    return this.program.graph.nodes
      .filter((n) => OPS[n.op].lower.kind !== 'leaf')
      .map((n) => `cpu ${formatNode(n)}`)
      .join('\n');
  }

  explain(): string {
    return `plan: the CPU backend evaluates every node in graph order with the op table's reference code\n${this.plan()}`;
  }

  dispose(): void {}

  /** One optimizer step on an evaluator's graph; returns the loss before the step. */
  private step(ev: Evaluator, idOf: (id: number) => number): number {
    const { loss, optimizer, params } = this.program;
    ev.run();
    this.steps++;
    params.forEach((p, i) => {
      if (p.grad !== null) optimizer!.step(this.main.values[p.id]!, ev.values[idOf(p.grad)]!, this.state[i]!, this.hyper, this.steps);
    });
    return ev.values[idOf(loss!)]![0]!;
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

/** Adds the given rows of a row-major matrix to `out`, row i to row i. */
function addRows(from: FloatArray, rows: number[], out: FloatArray): void {
  const width = out.length / rows.length;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]! * width;
    for (let c = 0; c < width; c++) out[i * width + c]! += from[r + c]!;
  }
}

/** Copies the given rows of a row-major matrix into `out`. */
function gatherRows(from: FloatArray, rows: number[], out: FloatArray): void {
  const width = out.length / rows.length;
  // Element by element: a subarray per row allocates, and that dominated small batches.
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]! * width;
    for (let c = 0; c < width; c++) out[i * width + c] = from[r + c]!;
  }
}
