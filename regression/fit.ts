/**
 * @file Fitting a linear regression by gradient descent, the way `fusegrad fit` and the examples
 * do: polynomial terms, a seeded validation split, z-scores, the graph, training on a backend, and
 * the result in both the units trained on and the data's own units, next to the closed form.
 */
import { Graph } from '../engine/graph.js';
import type { FloatArray } from '../engine/ops.js';
import { adam, adamw } from '../optim/adam.js';
import type { Optimizer } from '../optim/optimizer.js';
import { sgd } from '../optim/sgd.js';
import { FLOAT32_MAX, compile } from '../runtime/model.js';
import type { Backend } from '../runtime/program.js';
import { normals } from '../engine/random.js';
import { epochKey, feistelHalf, permute } from '../wgsl/shuffle.js';
import { InputError } from './data.js';
import { type Scaling, polynomial, restandardize, scaling, standardize, unstandardize } from './features.js';
import { type OlsResult, ols } from './ols.js';
import { type FitDivergence, runEpochs } from './epochs.js';
import { type BootstrapMethod, type BootstrapSummary, bootstrapFit, rowsOf } from './bootstrap.js';

export type { BootstrapMethod, BootstrapSummary } from './bootstrap.js';

export type OptimizerName = 'sgd' | 'adam' | 'adamw';

export interface FitOptions {
  optimizer?: OptimizerName;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  seed?: number;
  /** Fraction of rows held out for validation (seeded split). */
  validFrac?: number;
  standardize?: boolean;
  /** Polynomial terms x, x², ..., x^degree of a single x. */
  poly?: number;
  /**
   * zeros (default), normal (seeded N(0, 1), as torch.randn), or given weights: in the units
   * trained on, or with `units: 'data'` in the data's own units (a saved model's `weight` and
   * `bias`), which this fit turns into its own units (z-scores with `standardize`).
   */
  init?: 'zeros' | 'normal' | { weight: number[][]; bias: number[]; units?: 'trained' | 'data' };
  /** Record every parameter after every k-th epoch. */
  paramsEvery?: number;
  /** Called after each chunk of epochs when training in chunks (for a progress bar or a live curve); chunks > 1 costs one read per chunk. */
  chunks?: number;
  onProgress?: (epochsDone: number, loss: readonly number[], validLoss: readonly number[]) => void;
  /** Called as each stage begins: the bootstrap's replicates, compiling the model (which can be slow for wide data), training. */
  onStage?: (stage: 'bootstrap' | 'compile' | 'train') => void;
  /** Keep the model's explain() text (graphs, plan, WGSL) in the result. */
  explain?: boolean;
  /** How messages name row i of X and Y (default "row i+1"): a file's line, say. */
  rowName?: (row: number) => string;
  /** Also fit this many bootstrap replicates, each on its own resample drawn on the device, all in the same dispatches. */
  bootstrap?: number;
  /** How the bootstrap resamples: `pairs` (rows with replacement, the default) or `residuals` (see regression/bootstrap.ts). */
  bootstrapMethod?: BootstrapMethod;
  /**
   * Train one model per setting, all in the same dispatches: replicate i takes the i-th value of
   * each list given (lists of one length; each replaces its single option).
   */
  sweep?: Partial<Record<SweptName, number[]>>;
}

export interface FitResult {
  device: { backend: 'webgpu' | 'cpu'; adapter: string; plan: string };
  features: string[];
  targets: string[];
  n: number;
  validRows: number;
  epochs: number;
  optimizer: { name: string; hyper: Record<string, number> };
  history: { loss: number[]; validLoss?: number[] };
  /** The training loss of the final parameters (float64, in the units trained on). */
  finalLoss: number;
  /** In the units trained on (z-scores with --standardize). */
  params: { weight: number[][]; bias: number[] };
  /** In the data's own units. */
  coefficients: { weight: number[][]; bias: number[] };
  /** Each parameter after every k-th epoch, in the units trained on. */
  trajectory?: { epoch: number[]; weight: number[][][]; bias: number[][] };
  scaling?: { x: Scaling; y: Scaling };
  poly?: { column: string; degree: number };
  /** The closed-form fit of each target on the training rows, in the data's own units. */
  closedForm: OlsResult[];
  /** compileMs: compiling the model (planning, pipelines, and the driver's shader compilation); ms: training alone. */
  timing: { compileMs: number; ms: number; msPerEpoch: number; dispatchesPerEpoch: number; submits: number; readbacks: number };
  /** With options.explain: the forward and backward graphs, the kernel plan and the WGSL. */
  explain?: string;
  /**
   * The fit diverged (runtime/control.ts's rule): at `epoch`, counted from 1 as printed (the
   * history's last entry), with the loss there, the reference it grew from and what to change.
   */
  diverged?: FitDivergence;
  /** With `bootstrap`: per coefficient (data's units), the replicates' mean, standard deviation and 2.5% / 97.5% percentiles. */
  bootstrap?: BootstrapSummary;
  /** With `sweep`: one entry per setting (its learning rate, and the other swept values). */
  sweep?: ({ lr: number; loss: number[]; finalLoss: number; validLoss?: number[]; finalValidLoss?: number; coefficients: { weight: number[][]; bias: number[] }; diverged: string | null } & Partial<Record<SweptName, number>>)[];
}

/** The options a fit can sweep; each is the optimizer's hyperparameter of the same name. */
export type SweptName = 'lr' | 'momentum' | 'weightDecay';

/** The optimizer the options ask for (a sweep's first setting for the swept ones). */
export function makeOptimizer(o: Pick<FitOptions, 'optimizer' | 'lr' | 'momentum' | 'weightDecay' | 'sweep'>): Optimizer {
  const lr = o.sweep?.lr?.[0] ?? o.lr ?? (o.optimizer === 'sgd' || !o.optimizer ? 0.01 : 1e-3);
  const momentum = o.sweep?.momentum?.[0] ?? o.momentum;
  const weightDecay = o.sweep?.weightDecay?.[0] ?? o.weightDecay;
  switch (o.optimizer ?? 'sgd') {
    case 'sgd':
      return sgd({ lr, momentum: momentum ?? 0, weightDecay: weightDecay ?? 0 });
    case 'adam':
      if (momentum !== undefined) throw new InputError('--momentum applies to sgd; Adam has betas');
      return adam({ lr, weightDecay: weightDecay ?? 0 });
    case 'adamw':
      if (momentum !== undefined) throw new InputError('--momentum applies to sgd; AdamW has betas');
      return adamw({ lr, weightDecay: weightDecay ?? 1e-2 });
    default:
      throw new InputError(`--optimizer: expected sgd, adam or adamw, got "${o.optimizer}"`);
  }
}

/**
 * Many models at once (a bootstrap, a sweep) that the device cannot plan, such as a problem larger
 * than one workgroup's budget: the planner's reason, as a usage error that says what to do instead.
 */
function replicatesRefused(option: string): (err: unknown) => never {
  return (err) => {
    // By name: a backend from another bundle of fusegrad throws its own copy of the class.
    if (err instanceof Error && err.name === 'PlanError') throw new InputError(`${option}: ${err.message}. On the CPU backend (--device cpu) the replicates train one after another at any size`);
    throw err;
  };
}

/** The starting W and b that `init` asks for, in the units trained on; null for zeros. */
function initialParams(init: FitOptions['init'], k: number, d: number, seed: number, scale: { x: Scaling; y: Scaling } | undefined): { W: FloatArray | number[][]; b: FloatArray | number[] } | null {
  if (init === undefined || init === 'zeros') return null;
  if (init === 'normal') {
    const z = normals(k * d + k, seed);
    return { W: z.subarray(0, k * d), b: z.subarray(k * d) };
  }
  const { weight, bias, units } = (init ?? {}) as { weight?: unknown; bias?: unknown; units?: unknown };
  const shape = `{"weight": [[...]] (${k} row${k > 1 ? 's' : ''} of ${d}), "bias": [...] (${k})}, in the ${units === 'data' ? "data's own units" : 'units trained on'}`;
  if (!Array.isArray(weight) || weight.length !== k || weight.some((r) => !Array.isArray(r) || r.length !== d) || !Array.isArray(bias) || bias.length !== k) {
    throw new InputError(`--init: expected ${shape}`);
  }
  // Every entry a finite number: a null would be written as 0, a string as whatever it parses to.
  const entries: [string, unknown][] = [...(weight as unknown[][]).flatMap((r, t) => r.map((v, j): [string, unknown] => [`weight[${t}][${j}]`, v])), ...bias.map((v, t): [string, unknown] => [`bias[${t}]`, v])];
  const bad = entries.find(([, v]) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad) throw new InputError(`--init: ${bad[0]} is ${JSON.stringify(bad[1]) ?? String(bad[1])}, not a finite number; expected ${shape}`);
  if (units !== 'data' || !scale) return { W: weight as number[][], b: bias as number[] };
  const z = restandardize(weight as number[][], bias as number[], scale.x, scale.y);
  return { W: z.W, b: z.b };
}

/**
 * A float32 device (WebGPU, the CPU backend in float32) holds nothing past ±3.4e38: a value beyond
 * it, or a first epoch whose sums of squared errors or gradient terms pass it, would come back as
 * Infinity and look like a learning rate too large. Refused before any work, naming the value.
 */
function checkFloat32(
  train: { X: number[][]; Y: number[][]; rows: number[] },
  valid: { X: number[][]; Y: number[][]; rows: number[] },
  initial: { W: FloatArray | number[][]; b: FloatArray | number[] } | null,
  features: string[],
  targets: string[],
  rowName: (row: number) => string,
): void {
  const advice = 'beyond float32 (the largest it holds is ±3.4028e38), which WebGPU computes in; rescale the data (--standardize) or train in float64 on the CPU backend (--device cpu)';
  for (const set of [train, valid]) {
    set.X.forEach((r, i) => r.forEach((v, j) => {
      if (Math.abs(v) > FLOAT32_MAX) throw new InputError(`column "${features[j]}" at ${rowName(set.rows[i]!)} is ${v}, ${advice}`);
    }));
    set.Y.forEach((r, i) => r.forEach((v, t) => {
      if (Math.abs(v) > FLOAT32_MAX) throw new InputError(`column "${targets[t]}" at ${rowName(set.rows[i]!)} is ${v}, ${advice}`);
    }));
  }
  const d = features.length;
  const k = targets.length;
  const W = initial ? Array.from({ length: k * d }, (_, i) => (Array.isArray(initial.W[0]) ? (initial.W as number[][])[Math.floor(i / d)]![i % d]! : (initial.W as FloatArray)[i]!)) : new Array<number>(k * d).fill(0);
  const b = initial ? Array.from(initial.b as ArrayLike<number>) : new Array<number>(k).fill(0);
  const big = [...W, ...b].find((v) => Math.abs(v) > FLOAT32_MAX);
  if (big !== undefined) throw new InputError(`--init: the starting value ${big} is ${advice}`);
  // The first epoch's sums, as the device forms them before dividing by the rows: Σ e² and Σ |e x|.
  let squares = 0;
  const terms = new Array<number>(d).fill(0);
  train.X.forEach((x, i) => {
    for (let t = 0; t < k; t++) {
      const e = x.reduce((s, v, j) => s + W[t * d + j]! * v, b[t]!) - train.Y[i]![t]!;
      squares += e * e;
      x.forEach((v, j) => (terms[j]! += Math.abs(e * v)));
    }
  });
  const worst = Math.max(squares, ...terms);
  if (worst > FLOAT32_MAX) {
    throw new InputError(`at the start, the squared errors${worst === squares ? '' : ' times the features'} over the ${train.X.length} training rows sum to ${worst.toPrecision(3)}, ${advice}`);
  }
}

/** Splits rows by a seeded permutation: the last round(frac n) of it are the validation rows. */
export function splitRows(n: number, frac: number, seed: number): { train: number[]; valid: number[] } {
  if (!(frac >= 0 && frac < 1)) throw new InputError(`--valid-frac: expected a fraction in [0, 1), got ${frac}`);
  const nv = Math.round(frac * n);
  if (frac > 0 && nv === 0) throw new InputError(`--valid-frac ${frac} of ${n} rows rounds to no validation row; use at least ${(1 / n).toPrecision(3)} (one row of ${n}), or leave it out`);
  const order = Array.from({ length: n }, (_, i) => permute(i, n, epochKey(seed, 0xffffffff), feistelHalf(n)));
  const valid = order.slice(n - nv).sort((a, b) => a - b);
  const held = new Set(valid);
  return { train: order.filter((i) => !held.has(i)).sort((a, b) => a - b), valid };
}

/**
 * Fits Y = X Wᵀ + b by gradient descent on `backend`.
 * @example const r = await fitRegression(X, Y, ['displacement'], ['mpg'], backend, { standardize: true, lr: 0.01 });
 */
export async function fitRegression(X: number[][], Y: number[][], featureNames: string[], targets: string[], backend: Backend, o: FitOptions = {}): Promise<FitResult> {
  let features = featureNames;
  let rows = X;
  let low: number[][] | undefined;
  if (o.poly !== undefined) ({ X: rows, features, low } = polynomial(X, features, o.poly));
  const epochs = o.epochs ?? 1000;
  if (!Number.isInteger(epochs) || epochs < 1) throw new InputError(`--epochs: expected a positive integer, got ${epochs}`);
  const seed = o.seed ?? 0;
  // Seeds are 32-bit on the device: 2^32 would train exactly as 0 does.
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError(`--seed: expected an integer in [0, 4294967295], got ${seed}`);
  const split = splitRows(rows.length, o.validFrac ?? 0, seed);
  const d = features.length;
  const k = targets.length;
  if (split.train.length <= d + 1) {
    throw new InputError(`${split.train.length} training rows cannot determine ${d + 1} coefficients per target (${['const', ...features].join(', ')}); it needs more rows than coefficients`);
  }
  const trainX = split.train.map((i) => rows[i]!);
  const trainY = split.train.map((i) => Y[i]!);
  const validX = split.valid.map((i) => rows[i]!);
  const validY = split.valid.map((i) => Y[i]!);
  const scale = o.standardize ? { x: scaling(trainX, features, 'x'), y: scaling(trainY, targets, 'y') } : undefined;
  const [tx, ty, vx, vy] = scale ? [standardize(trainX, scale.x), standardize(trainY, scale.y), standardize(validX, scale.x), standardize(validY, scale.y)] : [trainX, trainY, validX, validY];

  const trainLow = low && split.train.map((i) => low[i]!);
  const closedForm = targets.map((_, t) => ols(trainX, trainY.map((r) => r[t]!), features, { low: trainLow }));

  const n = tx.length;
  const g = new Graph();
  const Xin = g.input('X', [n, d]);
  const Yin = g.input('Y', [n, k]);
  const W = g.param('W', [k, d]);
  const b = g.param('b', [k]);
  const lossNode = g.mean(g.squaredError(g.add(g.matmul(Xin, g.transpose(W)), b), Yin));
  const optimizer = makeOptimizer(o);
  // A sweep is one model per rate; the bootstrap is a second model of B resamples, trained before
  // the fit on the data itself, so that a problem too large for it is refused before any training.
  const swept = Object.entries(o.sweep ?? {}).filter(([, v]) => v !== undefined) as [SweptName, number[]][];
  const settings = swept[0]?.[1].length ?? 0;
  for (const [, values] of swept) {
    if (!Array.isArray(values) || values.length !== settings || settings < 2) throw new InputError(`sweep: ${swept.map(([n, v]) => `${n} has ${v.length} values`).join(', ')}; give each swept option the same number of values, at least 2`);
  }
  const sweep = settings ? Object.fromEntries(swept) : undefined;
  const replicas = sweep ? { sweep } : {};
  if (o.bootstrap !== undefined && (!Number.isInteger(o.bootstrap) || o.bootstrap < 2)) throw new InputError(`--bootstrap: expected an integer >= 2, got ${o.bootstrap}`);
  if (o.bootstrapMethod !== undefined && o.bootstrapMethod !== 'pairs' && o.bootstrapMethod !== 'residuals') throw new InputError(`--bootstrap-method: expected pairs or residuals, got "${o.bootstrapMethod}"`);
  if (o.bootstrapMethod && !o.bootstrap) throw new InputError('--bootstrap-method needs --bootstrap <B>');
  if (o.bootstrap && sweep) throw new InputError('--bootstrap and a sweep (several --lr, --momentum or --weight-decay values): choose one');
  const initial = initialParams(o.init, k, d, seed, scale);
  if (backend.precision === 'f32') {
    const rowName = (i: number) => o.rowName?.(i) ?? `row ${i + 1}`;
    checkFloat32({ X: tx, Y: ty, rows: split.train }, { X: vx, Y: vy, rows: split.valid }, initial, features, targets, rowName);
  }
  const refused = replicatesRefused(o.bootstrap ? '--bootstrap' : 'the sweep');
  let bootstrap: BootstrapSummary | undefined;
  if (o.bootstrap) {
    // Every replicate trains as the fit does: the same optimizer, batches, shuffle and start.
    const train = { optimizer: makeOptimizer(o), backend, epochs, seed, batchSize: o.batchSize, shuffle: o.shuffle ?? false, start: initial };
    o.onStage?.('bootstrap');
    bootstrap = await bootstrapFit({ X: tx, Y: ty }, train, { B: o.bootstrap, method: o.bootstrapMethod ?? 'pairs' }, scale).catch(refused);
  }
  o.onStage?.('compile');
  const compileStart = performance.now();
  const model = await compile(g, {
    loss: lossNode,
    optimizer,
    backend,
    batchSize: o.batchSize,
    shuffle: o.shuffle ?? false,
    seed,
    validationRows: vx.length,
    ...replicas,
  }).catch(refused);
  const compileMs = performance.now() - compileStart;
  try {
    model.write({ X: tx, Y: ty });
    if (vx.length) model.write({ X: vx, Y: vy }, 'validation');
    if (initial) model.write(initial);

    // Snapshots and a sweep's curves come from one run, so such a run is not split for a progress bar.
    const chunks = o.paramsEvery || sweep ? 1 : Math.max(1, Math.min(o.chunks ?? 1, epochs));
    const before = { ...model.stats };
    o.onStage?.('train');
    const { loss, validLoss: valid, snapshots, diverged, done, last: lastRun, ms } = await runEpochs(model, epochs, chunks, { paramsEvery: o.paramsEvery, onProgress: o.onProgress });
    const work = { ...model.stats };
    const B = model.replicates;
    const replicaRuns = lastRun?.replicates;
    // With replicates, W and b read as every replicate's values in turn; replicate 0 is the model.
    const allW = await model.read('W');
    const allB = await model.read('b');
    const w = rowsOf(allW.subarray(0, k * d), d);
    const bias = Array.from(allB.subarray(0, k));
    // The training loss of the final parameters, in float64 on the host.
    let finalLoss = 0;
    tx.forEach((r, i) => {
      for (let t = 0; t < k; t++) {
        const e = r.reduce((s, v, j) => s + w[t]![j]! * v, bias[t]!) - ty[i]![t]!;
        finalLoss += (e * e) / (n * k);
      }
    });
    const original = unstandardize(w, bias, scale?.x ?? null, scale?.y ?? null);
    const coefficients = { weight: original.W, bias: original.b };
    const result: FitResult = {
      device: { backend: backend.kind, adapter: backend.description, plan: model.planName },
      features,
      targets,
      n,
      validRows: vx.length,
      epochs: done,
      optimizer: { name: optimizer.name, hyper: { ...optimizer.hyper } },
      history: { loss },
      finalLoss,
      params: { weight: w, bias },
      coefficients,
      closedForm,
      timing: {
        compileMs,
        ms,
        msPerEpoch: ms / done,
        dispatchesPerEpoch: (work.dispatches - before.dispatches) / done,
        submits: work.submits - before.submits,
        readbacks: work.readbacks - before.readbacks,
      },
    };
    if (vx.length) result.history.validLoss = valid;
    if (scale) result.scaling = scale;
    if (o.poly !== undefined) result.poly = { column: featureNames[0]!, degree: o.poly };
    if (o.paramsEvery && snapshots.W?.length) {
      result.trajectory = {
        epoch: snapshots.W.map((_, i) => (i + 1) * o.paramsEvery!),
        weight: snapshots.W.map((s) => rowsOf(s, d)),
        bias: snapshots.b!.map((s) => Array.from(s)),
      };
    }
    if (diverged) result.diverged = diverged;
    if (o.explain) result.explain = model.explain();
    if (B > 1 && replicaRuns && sweep) {
      result.sweep = Array.from({ length: settings }, (_, r) => {
        const lr = sweep.lr?.[r] ?? optimizer.hyper.lr!;
        const curve = Array.from(replicaRuns.loss[r]!);
        const c = unstandardize(rowsOf(allW.subarray(r * k * d, (r + 1) * k * d), d), Array.from(allB.subarray(r * k, (r + 1) * k)), scale?.x ?? null, scale?.y ?? null);
        const entry: NonNullable<FitResult['sweep']>[number] = { lr, loss: curve, finalLoss: curve[curve.length - 1]!, coefficients: { weight: c.W, bias: c.b }, diverged: replicaRuns.diverged[r]?.message ?? null };
        for (const [name, values] of swept) if (name !== 'lr') entry[name] = values[r]!;
        const validCurve = replicaRuns.validLoss?.[r];
        if (validCurve) Object.assign(entry, { validLoss: Array.from(validCurve), finalValidLoss: validCurve[validCurve.length - 1]! });
        return entry;
      });
    }
    if (bootstrap) result.bootstrap = bootstrap;
    return result;
  } finally {
    model.dispose();
  }
}

/** The model a `--save` file holds, enough for `fusegrad predict`. */
export interface SavedModel {
  format: 'fusegrad-linear-1';
  /** The data columns the model reads (the x column for a polynomial). */
  inputs: string[];
  features: string[];
  targets: string[];
  poly?: { column: string; degree: number };
  /** In the data's own units: y = weight · features + bias. */
  weight: number[][];
  bias: number[];
  /** What training saw, for reference. */
  trained: { params: { weight: number[][]; bias: number[] }; scaling?: { x: Scaling; y: Scaling } };
}

export function savedModel(r: FitResult): SavedModel {
  const saved: SavedModel = {
    format: 'fusegrad-linear-1',
    inputs: r.poly ? [r.poly.column] : r.features,
    features: r.features,
    targets: r.targets,
    weight: r.coefficients.weight,
    bias: r.coefficients.bias,
    trained: { params: r.params },
  };
  if (r.poly) saved.poly = r.poly;
  if (r.scaling) saved.trained.scaling = r.scaling;
  return saved;
}
