/**
 * @file The generated parts of each kernel, put together from the emitter's lines: the step
 * functions of the single-dispatch kernels (`train_step`, `valid_step` for wgsl/tiny.wgsl and
 * wgsl/serial.wgsl) and the holes of the row-pass and finishing kernels (wgsl/row_pass.wgsl,
 * wgsl/finish.wgsl, wgsl/valid_finish.wgsl).
 */
import { Emitter, type RowLayout, type Theta, finishLines } from './emit.js';
import type { Schedule } from './schedule.js';

const indent = (lines: string[], depth: number) => lines.map((l) => `${'  '.repeat(depth)}${l}`);

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
 * `fn train_step(lid, first, last, key, seed, t) -> f32`: one optimizer step on positions
 * [first, last) of the epoch's order; returns the batch's loss (in invocation 0).
 */
export function trainStep(s: Schedule, { form, layout, theta, loss }: StepOptions): string {
  const serial = form === 'serial';
  const passes = s.passes.map((_, p) => p);
  // Sums finished: in registers for one invocation; in the tree after a single pass; kept in `totals` across passes.
  const total = (k: number) => (serial ? `a${k}` : s.passes.length === 1 ? `tree[${k}u]` : `totals[${k}u]`);
  const e = new Emitter(s, { param: paramIn(theta), total, rows: 'rows_f', short: 'short_batch' }, layout);
  const residual = layout.residualTarget !== null ? ['let res_at = RESIDUALS_AT + pick.y * RESIDUAL_STRIDE;'] : [];
  const records = recordAt(layout, 'pick.x');
  const lines: string[] = [];
  if (serial) lines.push(...accumulators(s, passes));
  for (const p of passes) {
    const { prologue, body } = e.rowPass(p);
    const loop = [
      `for (var p = first${serial ? '' : ' + lid'}; p < last; p += ${serial ? '1u' : 'WG'}) {`,
      '  let pick = pick_row(p, N, HALF, SHUFFLE, key, BOOTSTRAP, RESIDUALS, seed);',
      ...indent(records, 1),
      ...indent(residual, 1),
      ...indent(body, 1),
      ...(serial && p === 0 ? ['  trained_rows += 1u;'] : []),
      '}',
    ];
    const pass = [`// Pass ${p}: the batch's rows, summed into ${sumsOf(s, p)}.`, ...prologue, ...(serial ? [] : accumulators(s, [p])), ...loop];
    if (!serial) {
      pass.push(...store(s, p), `tree_reduce(lid, ${s.passes[p]!.size}u);`);
      if (s.passes.length > 1) {
        const at = s.passes[p]!.at;
        pass.push(`for (var c = lid; c < ${s.passes[p]!.size}u; c += WG) {`, `  totals[${at}u + c] = tree[c];`, '}', 'workgroupBarrier();');
      }
    }
    lines.push(...pass);
  }
  const finish = ['// The finishing step: the loss and the gradients from the sums, then the optimizer.', ...finishLines(e, s, loss, theta, 'update')];
  if (serial) lines.push(...finish, 'return batch_loss;');
  else lines.push('var result = 0.0;', 'if (lid == 0u) {', ...indent(finish, 1), '  result = batch_loss;', '}', 'sync();', 'return result;');
  return [
    `// One optimizer step on positions [first, last) of the epoch's order (generated from the graph).`,
    `fn train_step(lid: u32, first: u32, last: u32, key: u32, seed: u32, t: f32) -> f32 {`,
    '  let base = replica * COUNT;',
    '  let rows_f = f32(last - first);',
    '  let short_batch = last - first != BATCH;',
    ...indent(lines, 1),
    '}',
  ].join('\n');
}

/** `fn valid_step(lid) -> f32`: the loss over the VALID validation rows stored after the training rows. */
export function validStep(s: Schedule | null, { form, layout, loss, theta }: StepOptions): string {
  if (!s) return '// No validation set.\nfn valid_step(lid: u32) -> f32 {\n  return 0.0;\n}';
  const serial = form === 'serial';
  const passes = s.passes.map((_, p) => p);
  const total = (k: number) => (serial ? `a${k}` : s.passes.length === 1 ? `tree[${k}u]` : `totals[${k}u]`);
  const e = new Emitter(s, { param: paramIn(theta), total, rows: 'rows_f', short: 'false' }, { ...layout, residualTarget: null });
  const lines: string[] = [];
  if (serial) lines.push(...accumulators(s, passes));
  for (const p of passes) {
    const { prologue, body } = e.rowPass(p);
    const loop = [`for (var p = N${serial ? '' : ' + lid'}; p < N + VALID; p += ${serial ? '1u' : 'WG'}) {`, ...indent(recordAt(layout, 'p'), 1), ...indent(body, 1), '}'];
    const pass = [`// Pass ${p}: the validation rows, summed into ${sumsOf(s, p)}.`, ...prologue, ...(serial ? [] : accumulators(s, [p])), ...loop];
    if (!serial) {
      pass.push(...store(s, p), `tree_reduce(lid, ${s.passes[p]!.size}u);`);
      if (s.passes.length > 1) pass.push(`for (var c = lid; c < ${s.passes[p]!.size}u; c += WG) {`, `  totals[${s.passes[p]!.at}u + c] = tree[c];`, '}', 'workgroupBarrier();');
    }
    lines.push(...pass);
  }
  const finish = ['// The validation loss from the sums.', ...finishLines(e, s, loss, null, 'update')];
  if (serial) lines.push(...finish, 'return batch_loss;');
  else lines.push('var result = 0.0;', 'if (lid == 0u) {', ...indent(finish, 1), '  result = batch_loss;', '}', 'workgroupBarrier();', 'return result;');
  return [
    `// The loss over the validation rows, with the parameters as they are (generated from the graph).`,
    `fn valid_step(lid: u32) -> f32 {`,
    '  let base = replica * COUNT;',
    '  let rows_f = f32(VALID);',
    ...indent(lines, 1),
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
  return indent(finishLines(e, s, loss, update ? theta : null, mode), 2).join('\n');
}
