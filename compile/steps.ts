/**
 * @file The generated parts of each kernel, put together from the emitter's lines: the step
 * functions of the single-dispatch kernels (`train_step`, `valid_step` for wgsl/tiny.wgsl and
 * wgsl/serial.wgsl) and the holes of the row-pass and finishing kernels (wgsl/row_pass.wgsl,
 * wgsl/finish.wgsl, wgsl/valid_finish.wgsl).
 */
import { Emitter, type RowLayout, type Sources, type Theta, finishLines, indent } from './emit.js';
import type { Schedule } from './schedule.js';

/** What a finishing step does with gradient k: the optimizer's update, or the gradient stored for the update kernel. */
const UPDATE = (k: number) => `optimizer_step(base + ${k}u, g${k}, t);`;
const STORE = (k: number) => `partials[GRADS_AT + base + ${k}u] = g${k};`;

/** Element f of parameter %id of this model: its place in theta, after the model's `base`. */
const paramIn = (theta: Theta) => (id: number, f: number) => `params[base + ${theta.params.find((p) => p.id === id)!.offset + f}u]`;

/** The sums a pass accumulates, for a comment: `%8 mean, %15 sum, %16 matmul`. */
function sumsOf(s: Schedule, p: number): string {
  return s.passes[p]!.sums.map((x) => `%${x.id} ${s.graph.nodes[x.id]!.op}`).join(', ');
}

/** Where row `row`'s records start: in data4 (vec4s) and data1 (floats), for the parts the layout has. */
export function recordAt(layout: RowLayout, row: string): string[] {
  return [...(layout.vecWords ? [`let at4 = ${row} * VEC_STRIDE;`] : []), ...(layout.scalarWords ? [`let at1 = SCALAR_AT + ${row} * SCALAR_STRIDE;`] : [])];
}

/**
 * The data bindings from binding `first` on: the vec4 view of the rows' buffer when the layout has
 * a vec4 part, its float view when it has a float part (or residuals). One buffer, bound twice.
 */
export function dataBindings(layout: RowLayout, first: number): { text: string; views: number } {
  const lines: string[] = [];
  if (layout.vecWords) lines.push(`@group(0) @binding(${first + lines.length}) var<storage, read> data4: array<vec4f>;`);
  if (layout.scalarWords || layout.residualTarget !== null) lines.push(`@group(0) @binding(${first + lines.length}) var<storage, read> data1: array<f32>;`);
  return { text: lines.join('\n') || '// (no data inputs)', views: lines.length };
}

/** `var a3 = 0.0;` for each accumulator of the given passes. */
function accumulators(s: Schedule, passes: number[]): string[] {
  return passes.flatMap((p) => {
    const pass = s.passes[p]!;
    return Array.from({ length: pass.size }, (_, k) => `var a${pass.at + k} = 0.0;`);
  });
}

/** Stores each accumulator of pass p in the tree, at its place in the pass. */
function store(s: Schedule, p: number): string[] {
  const pass = s.passes[p]!;
  return Array.from({ length: pass.size }, (_, k) => `tree[lid * P + ${k}u] = a${pass.at + k};`);
}

export interface StepOptions {
  /** `lanes`: the rows of a batch dealt out to a workgroup's invocations, summed as a tree; `serial`: one invocation. */
  form: 'lanes' | 'serial';
  layout: RowLayout;
  theta: Theta;
  loss: number;
}

/**
 * The row passes of a step function and its finishing step. `rows` opens the row loop (the rows
 * of the batch, or of the validation set); `tail` ends each row of the first pass. Sums finish in
 * registers for one invocation, in the tree after a single pass, or kept in `totals` across passes.
 */
function stepBody(s: Schedule, serial: boolean, src: Omit<Sources, 'total'>, layout: RowLayout, rows: (p: number) => string[], tail: string[], finish: (e: Emitter) => string[]): string[] {
  const total = (k: number) => (serial ? `a${k}` : s.passes.length === 1 ? `tree[${k}u]` : `totals[${k}u]`);
  const e = new Emitter(s, { ...src, total }, layout);
  const lines: string[] = serial ? accumulators(s, s.passes.map((_, p) => p)) : [];
  s.passes.forEach((pass, p) => {
    const { prologue, body } = e.rowPass(p);
    lines.push(`// Pass ${p}: the rows, summed into ${sumsOf(s, p)}.`, ...prologue, ...(serial ? [] : accumulators(s, [p])));
    lines.push(...rows(p), ...indent(body, 1), ...(p === 0 ? indent(tail, 1) : []), '}');
    if (serial) return;
    lines.push(...store(s, p), `tree_reduce(lid, ${pass.size}u);`);
    if (s.passes.length > 1) lines.push(`for (var c = lid; c < ${pass.size}u; c += WG) {`, `  totals[${pass.at}u + c] = tree[c];`, '}', 'workgroupBarrier();');
  });
  const done = finish(e);
  if (serial) return [...lines, ...done, 'return batch_loss;'];
  // One invocation finishes; its parameter updates must reach every invocation before the next step.
  return [...lines, 'var result = 0.0;', 'if (lid == 0u) {', ...indent(done, 1), '  result = batch_loss;', '}', 'sync();', 'return result;'];
}

/**
 * `fn train_step(lid, first, last, key, seed, t) -> f32`: one optimizer step on positions
 * [first, last) of the epoch's order; returns the batch's loss (in invocation 0).
 */
export function trainStep(s: Schedule, { form, layout, theta, loss }: StepOptions): string {
  const serial = form === 'serial';
  const rows = () => [
    `for (var p = first${serial ? '' : ' + lid'}; p < last; p += ${serial ? '1u' : 'WG'}) {`,
    '  let pick = pick_row(p, N, HALF, SHUFFLE, key, BOOTSTRAP, RESIDUALS, seed);',
    ...indent(recordAt(layout, 'pick.x'), 1),
    ...(layout.residualTarget !== null ? ['  let res_at = RESIDUALS_AT + pick.y * RESIDUAL_STRIDE;'] : []),
  ];
  // The serial form counts the rows it trains (a driver that stops loops early is caught by it).
  const tail = serial ? ['trained_rows += 1u;'] : [];
  const finish = (e: Emitter) => ['// The finishing step: the loss and the gradients from the sums, then the optimizer.', ...finishLines(e, s, loss, theta, UPDATE)];
  const body = stepBody(s, serial, { param: paramIn(theta), rows: 'rows_f', short: 'short_batch' }, layout, rows, tail, finish);
  return [
    `// One optimizer step on positions [first, last) of the epoch's order (generated from the graph).`,
    `fn train_step(lid: u32, first: u32, last: u32, key: u32, seed: u32, t: f32) -> f32 {`,
    '  let base = replica * COUNT;',
    '  let rows_f = f32(last - first);',
    '  let short_batch = last - first != BATCH;',
    ...indent(body, 1),
    '}',
  ].join('\n');
}

/** `fn valid_step(lid) -> f32`: the loss over the VALID validation rows stored after the training rows. */
export function validStep(s: Schedule | null, { form, layout, loss, theta }: StepOptions): string {
  if (!s) return '// No validation set.\nfn valid_step(lid: u32) -> f32 {\n  return 0.0;\n}';
  const serial = form === 'serial';
  const plain = { ...layout, residualTarget: null };
  const rows = () => [`for (var p = N${serial ? '' : ' + lid'}; p < N + VALID; p += ${serial ? '1u' : 'WG'}) {`, ...indent(recordAt(plain, 'p'), 1)];
  const finish = (e: Emitter) => ['// The validation loss from the sums.', ...finishLines(e, s, loss, null, UPDATE)];
  const body = stepBody(s, serial, { param: paramIn(theta), rows: 'rows_f', short: 'false' }, plain, rows, [], finish);
  return [
    `// The loss over the validation rows, with the parameters as they are (generated from the graph).`,
    `fn valid_step(lid: u32) -> f32 {`,
    '  let base = replica * COUNT;',
    '  let rows_f = f32(VALID);',
    ...indent(body, 1),
    '}',
  ].join('\n');
}

/** The holes of one row-pass kernel (wgsl/row_pass.wgsl) for pass p. */
export function rowPassHoles(s: Schedule, p: number, layout: RowLayout, theta: Theta): Record<string, string> {
  const e = new Emitter(s, { param: paramIn(theta), total: (k) => `totals[${k}u]`, rows: 'rows_f', short: 'short_batch' }, layout);
  const { prologue, body } = e.rowPass(p);
  const earlier = s.passes[p]!.at;
  return {
    // A later pass finishes the earlier passes' sums first, in every workgroup, one tree a sum.
    EARLIER_DECL: earlier ? `// The earlier passes' sums, finished.\nvar<workgroup> totals: array<f32, ${earlier}>;` : '',
    FINISH_EARLIER: earlier
      ? [
          `  for (var c = 0u; c < ${earlier}u; c++) {`,
          '    var s = 0.0;',
          '    for (var g = lid; g < GROUPS; g += WG) {',
          '      s += partials[(replica * REPLICA_GROUPS + g) * TOTALS + c];',
          '    }',
          '    tree[lid * P] = s;',
          '    tree_reduce(lid, 1u);',
          '    if (lid == 0u) {',
          '      totals[c] = tree[0];',
          '    }',
          '    workgroupBarrier();',
          '  }',
        ].join('\n')
      : '',
    RECORD: indent(recordAt(layout, 'row'), 2).join('\n'),
    PROLOGUE: indent(prologue, 1).join('\n'),
    ACCUMULATORS: indent(accumulators(s, [p]), 1).join('\n'),
    ROW: indent(body, 2).join('\n'),
    STORE: indent(store(s, p), 1).join('\n'),
  };
}

/** The FINISH hole of a finishing kernel: the loss (and gradients and updates, or stored gradients) from the sums in `tree`. */
export function finishHole(s: Schedule, loss: number, theta: Theta, mode: 'update' | 'store', update = true): string {
  const e = new Emitter(s, { param: paramIn(theta), total: (k) => `tree[${k}u]`, rows: 'rows_f', short: 'short_batch' });
  return indent(finishLines(e, s, loss, update ? theta : null, mode === 'update' ? UPDATE : STORE), 2).join('\n');
}
