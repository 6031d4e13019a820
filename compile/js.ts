/**
 * @file The CPU target: a schedule (compile/schedule.ts) emitted as JavaScript, the same row
 * passes and finishing step as the WGSL kernels, from the same emitter (compile/emit.ts), so the
 * same graph reads as two programs. The row code is straight-line, one local a value, over the
 * data's typed arrays; the sums over rows are locals added up row by row; the finishing step
 * computes the loss and every gradient into `G` (theta order), and the CPU backend applies the
 * optimizer's rule (optim/) to them.
 *
 * Each plan is one factory, `(data, params, residuals, T, G) => ({ passes, finish })`, made into a
 * function once per model: `data` holds the data inputs' arrays in the program's order (rows one
 * after another), `params` the parameters' arrays in theta order, `residuals` a residual
 * bootstrap's set (or null), `T` every pass's sums (the finished totals the later passes and the
 * finishing step read) and `G` the gradients. `passes[p](order, draws, first, last, m, short, out)`
 * sums positions [first, last) of the epoch's order (null: the rows in order; `draws`: the
 * residual row each position gets, or null) into `out` at the pass's place; `finish(m, short)`
 * returns the batch's loss. A pass writes `out` rather than `T`, so that threads can each sum
 * their own rows and the caller add them up.
 */
import { type Index, add, loopVar, render } from '../engine/indices.js';
import { Emitter, type Theta, finishLines, indent, indexedAccumulators, nodeComment, thetaOf, uniformLimit, widthOf } from './emit.js';
import { fusionNotes } from './fuse.js';
import { type Program, batchesPerEpoch, shortBatch } from './program.js';
import { type Schedule, Unfusable, schedule } from './schedule.js';

export interface JsOptions {
  /** The data inputs, in the order of the factory's `data`. */
  inputs: readonly number[];
  theta: Theta;
  loss: number;
  /** The input whose rows get a residual row added (a residual bootstrap), or null. */
  residualTarget: number | null;
  /** Compute the gradients too (a training step), or the loss alone (validation). */
  training: boolean;
  /** What the plan is, for its first comment line. */
  title: string;
  /** Extents written element by element at most; wider values are arrays filled in loops (emit.ts). */
  unroll: number;
}

/**
 * The factory's source: a function expression, readable as printed by `explain`. Locals are named
 * as in the WGSL (`v<node>_<column>` per row, `u<node>_<element>` without rows, `a<k>` sums);
 * data input %id is `d<id>`, its row's first value at `o<id>`.
 */
export function emitJs(s: Schedule, { inputs, theta, loss, residualTarget, training, title, unroll }: JsOptions): string {
  const nodes = s.graph.nodes;
  const width = new Map(inputs.map((id) => [id, widthOf(nodes[id]!)]));
  const paramOf = new Map(theta.params.map((p, i) => [p.id, i]));
  const js = (k: Index) => render(k, 'js');
  const sources = {
    param: (id: number, f: Index) => `p${id}[${js(f)}]`,
    total: (k: Index) => `T[${js(k)}]`,
    rows: 'm',
    short: 'short',
    load: (id: number, c: Index) => {
      const x = `d${id}[o${id} + ${js(c)}]`;
      return id === residualTarget ? `(${x} + residuals[r + ${js(c)}])` : x;
    },
  };
  // Accumulators: a local each, or (a sum wider than the unroll limit) one array a pass.
  const arrays = indexedAccumulators(s, unroll);
  // One emitter a function: each pass and the finishing step is a scope of its own, and reads
  // what it needs (a parameter, an earlier total) itself, as each WGSL kernel does.
  const emitter = (first = 0, uniform = unroll) => new Emitter(s, sources, null, 'js', { unroll, uniform, ...(arrays ? { acc: (k: Index) => `acc[${js(add(k, -first))}]` } : {}) });
  const head = [
    `// ${title}, generated from the graph's schedule.`,
    '(function (data, params, residuals, T, G) {',
    ...indent(inputs.map((id, i) => `const d${id} = data[${i}]; // ${nodeComment(nodes, nodes[id]!)}`), 1),
    ...indent([...paramOf].map(([id, i]) => `const p${id} = params[${i}]; // ${nodeComment(nodes, nodes[id]!)}`), 1),
  ];
  const passes = s.passes.map((pass, p) => {
    const { prologue, body } = emitter(pass.at).rowPass(p);
    const sums = pass.sums.map((x) => `%${x.id} ${nodes[x.id]!.op}`).join(', ');
    const accs = Array.from({ length: pass.size }, (_, k) => pass.at + k);
    const declare = arrays ? [`const acc = new Float64Array(${pass.size});`] : accs.map((k) => `let a${k} = 0;`);
    const store = arrays ? [`for (let c = 0; c < ${pass.size}; c++) out[${js(add(pass.at, loopVar('c')))}] = acc[c];`] : accs.map((k) => `out[${k}] = a${k};`);
    const row = [
      'const row = order === null ? q : order[q];',
      ...inputs.map((id) => `const o${id} = row * ${width.get(id)};`),
      ...(residualTarget === null ? [] : [`const r = draws[q] * ${width.get(residualTarget)};`]),
    ];
    return [
      `// Pass ${p}: the rows, summed into ${sums}.`,
      '(order, draws, first, last, m, short, out) => {',
      ...indent(prologue, 1),
      ...indent(declare, 1),
      '  for (let q = first; q < last; q++) {',
      ...indent([...row, ...body], 2),
      '  }',
      ...indent(store, 1),
      '},',
    ];
  });
  const finish = finishLines(emitter(0, uniformLimit(unroll)), s, loss, training ? theta : null, { head: [], store: (k, value) => `G[${js(k)}] = ${value};`, tail: [] }, 'js');
  return [
    ...head,
    '  const passes = [',
    ...indent(passes.flat(), 2),
    '  ];',
    `  // The finishing step: the loss${training ? ' and the gradients' : ''} from the sums.`,
    '  const finish = (m, short) => {',
    ...indent([...finish, 'return batch_loss;'], 2),
    '  };',
    '  return { passes, finish };',
    '})',
  ].join('\n');
}

/** A training program as generated JavaScript: its training step, its validation loss (if any) and what fused. */
export interface JsPlan {
  theta: Theta;
  train: Schedule;
  valid: Schedule | null;
  /** The factories' sources (emitJs). */
  trainSource: string;
  validSource: string | null;
  notes: string[];
}

/**
 * The widest value the CPU's generated code writes out element by element: past it, arrays and
 * loops (V8 optimizes a loop far better than a function of 10000 lines, and compiles it at once).
 */
export const JS_UNROLL = 32;

/** Plans a training program for the CPU; throws Unfusable for a graph the compiler does not fuse. */
export function planJs(program: Program, unroll = JS_UNROLL): JsPlan {
  const { graph, loss, optimizer, loader } = program;
  if (loss === null || !optimizer) throw new Unfusable('the program has no loss and optimizer: there is nothing to compile into a training step');
  const n = loader.rows;
  const nv = loader.validationRows;
  const short = shortBatch(loader);
  const theta = thetaOf(program.params, graph.nodes);
  const inputs = program.inputs.map((i) => i.id);
  const training = { loss, params: program.params };
  const train = schedule(graph, n, inputs, [loss, ...theta.params.map((p) => p.grad)], training, loader.batchSize, short, unroll);
  const valid = nv ? schedule(graph, n, inputs, [loss], null, nv, null, unroll) : null;
  const residualTarget = program.replicas.bootstrap === 'residuals' ? program.replicas.target : null;
  const batches = batchesPerEpoch(loader);
  const trainTitle = `One optimizer step on positions [first, last) of the epoch's order${batches > 1 ? ` (${batches} batches of ${loader.batchSize} rows an epoch)` : ''}`;
  return {
    theta,
    train,
    valid,
    trainSource: emitJs(train, { inputs, theta, loss, residualTarget, training: true, title: trainTitle, unroll }),
    validSource: valid && emitJs(valid, { inputs, theta, loss, residualTarget: null, training: false, title: `The loss over the ${nv} validation rows`, unroll }),
    notes: fusionNotes(train),
  };
}

/** A generated step, made into functions over the given arrays. */
export interface JsStep {
  passes: ((order: Int32Array | null, draws: Int32Array | null, first: number, last: number, m: number, short: boolean, out: Float64Array) => void)[];
  finish(m: number, short: boolean): number;
}

type Arrays = Float32Array | Float64Array;

/**
 * Warm-up calls of every pass on the first WARM_ROWS rows, made once when the functions are made.
 * A pass is called once a batch, each call a long loop: left alone, V8 optimizes it only by
 * on-stack replacement inside the loop, and that code ran a worker thread's share at half speed
 * in about half the runs (1e6 x 16 on this machine: 43-47 ms against 22-24 ms). A few hundred
 * short calls get the whole function optimized first, in every run.
 */
export const WARM_CALLS = 200;
export const WARM_ROWS = 16;

/** Makes the factory's functions (one `new Function` a model, at compile time) and warms them up. */
export function instantiate(source: string, data: Arrays[], params: Arrays[], residuals: Arrays | null, T: Float64Array, G: Float64Array, rows: number): JsStep {
  // The source is generated by emitJs from the graph's own nodes; names reach it only in comments (oneLine).
  const factory = new Function(`return (\n${source}\n);`)() as (...args: unknown[]) => JsStep;
  const step = factory(data, params, residuals, T, G);
  const scratch = new Float64Array(T.length);
  const draws = new Int32Array(WARM_ROWS);
  for (let k = 0; k < WARM_CALLS; k++) for (const pass of step.passes) pass(null, draws, 0, Math.min(rows, WARM_ROWS), 1, false, scratch);
  return step;
}
