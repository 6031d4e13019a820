/**
 * @file The generated parts of each kernel, put together from the emitter's lines: the step
 * functions of the single-dispatch kernels (`train_step`, `valid_step` for wgsl/tiny.wgsl and
 * wgsl/serial.wgsl) and the holes of the row-pass and finishing kernels (wgsl/row_pass.wgsl,
 * wgsl/finish.wgsl, wgsl/valid_finish.wgsl).
 */
import { type Index, add, loopVar, render } from '../engine/indices.js';
import { type EmitOptions, Emitter, type GradientSink, type RowLayout, type Sources, type Theta, finishLines, indent, indexedAccumulators, uniformLimit, wgslIndex } from './emit.js';
import type { Schedule } from './schedule.js';
import type { Team } from './team.js';

/**
 * What a finishing step does with the gradients: keeps them in an array and applies the
 * optimizer's rule to every parameter value in one loop, or stores them for the update kernel.
 * The loop, not one inlined copy of the rule per value: the driver's compile time grew much faster
 * than the text (lavapipe: a 64-feature regression's finishing kernel took ~17 s with a copy per
 * value, ~1 s with the loop; shared/notes/width.md).
 */
const UPDATE: GradientSink = {
  head: ['var grads: array<f32, COUNT>;'],
  store: (k, value) => `grads[${render(k, 'wgsl')}] = ${value};`,
  tail: ['for (var i = 0u; i < COUNT; i++) {', '  optimizer_step(base + i, grads[i], t);', '}'],
};
const STORE: GradientSink = { head: [], store: (k, value) => `partials[GRADS_AT + base + ${wgslIndex(k)}] = ${value};`, tail: [] };

/** Element f of parameter %id of this model: its place in theta, after the model's `base`. */
const paramIn = (theta: Theta) => (id: number, f: Index) => `params[base + ${wgslIndex(add(f, theta.params.find((p) => p.id === id)!.offset))}]`;

/**
 * How the code names the accumulators of the passes from `first` on: separate variables `a<k>`,
 * or, when a sum is wider than the unroll limit, one array `acc` (element k - first).
 */
function emitOptions(s: Schedule, unroll: number, first = 0): EmitOptions {
  if (!indexedAccumulators(s, unroll)) return { unroll };
  return { unroll, acc: (k) => `acc[${render(add(k, -first), 'wgsl')}]` };
}

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

/**
 * `var a3 = 0.0;` for each accumulator of the given passes, or one array for them (`size` floats:
 * the passes' own, or every pass's when one function holds them all).
 */
function accumulators(s: Schedule, passes: number[], unroll: number, size: number): string[] {
  if (indexedAccumulators(s, unroll)) return [`var acc: array<f32, ${size}>;`];
  return passes.flatMap((p) => {
    const pass = s.passes[p]!;
    return Array.from({ length: pass.size }, (_, k) => `var a${pass.at + k} = 0.0;`);
  });
}

/** Stores each accumulator of pass p in the tree, at its place in the pass (from the array at `first`, when they are one). */
function store(s: Schedule, p: number, unroll: number, first: number): string[] {
  const pass = s.passes[p]!;
  if (indexedAccumulators(s, unroll)) return [`for (var c = 0u; c < ${pass.size}u; c++) {`, `  tree[lid * P + c] = acc[${render(add(add(pass.at, -first), loopVar('c')), 'wgsl')}];`, '}'];
  return Array.from({ length: pass.size }, (_, k) => `tree[lid * P + ${k}u] = a${pass.at + k};`);
}

export interface StepOptions {
  /** `lanes`: the rows of a batch dealt out to a workgroup's invocations, summed as a tree; `serial`: one invocation. */
  form: 'lanes' | 'serial';
  layout: RowLayout;
  theta: Theta;
  loss: number;
  /** Extents written element by element at most (emit.ts's EmitOptions); wider ones are loops. */
  unroll: number;
}

/**
 * The row passes of a step function and its finishing step. `rows` opens the row loop (the rows
 * of the batch, or of the validation set); `tail` ends each row of the first pass. Sums finish in
 * registers for one invocation, in the tree after a single pass, or kept in `totals` across passes.
 */
function stepBody(s: Schedule, serial: boolean, src: Omit<Sources, 'total'>, layout: RowLayout, unroll: number, rows: (p: number) => string[], tail: string[], finish: (e: Emitter) => string[]): string[] {
  const options = emitOptions(s, unroll);
  const acc = options.acc ?? ((k: Index) => `a${k}`);
  const total = (k: Index) => (serial ? acc(k) : s.passes.length === 1 ? `tree[${wgslIndex(k)}]` : `totals[${wgslIndex(k)}]`);
  const e = new Emitter(s, { ...src, total }, layout, 'wgsl', options);
  // One function holds every pass: an array of accumulators is declared once, for all of them.
  const all = s.passes.map((_, p) => p);
  const once = indexedAccumulators(s, unroll);
  const lines: string[] = serial || once ? accumulators(s, all, unroll, s.accumulators) : [];
  s.passes.forEach((pass, p) => {
    const { prologue, body } = e.rowPass(p);
    lines.push(`// Pass ${p}: the rows, summed into ${sumsOf(s, p)}.`, ...prologue, ...(serial || once ? [] : accumulators(s, [p], unroll, pass.size)));
    lines.push(...rows(p), ...indent(body, 1), ...(p === 0 ? indent(tail, 1) : []), '}');
    if (serial) return;
    lines.push(...store(s, p, unroll, 0), `tree_reduce(lid, ${pass.size}u);`);
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
export function trainStep(s: Schedule, { form, layout, theta, loss, unroll }: StepOptions): string {
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
  const body = stepBody(s, serial, { param: paramIn(theta), rows: 'rows_f', short: 'short_batch' }, layout, unroll, rows, tail, finish);
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
export function validStep(s: Schedule | null, { form, layout, loss, theta, unroll }: StepOptions): string {
  if (!s) return '// No validation set.\nfn valid_step(lid: u32) -> f32 {\n  return 0.0;\n}';
  const serial = form === 'serial';
  const plain = { ...layout, residualTarget: null };
  const rows = () => [`for (var p = N${serial ? '' : ' + lid'}; p < N + VALID; p += ${serial ? '1u' : 'WG'}) {`, ...indent(recordAt(plain, 'p'), 1)];
  const finish = (e: Emitter) => ['// The validation loss from the sums.', ...finishLines(e, s, loss, null, UPDATE)];
  const body = stepBody(s, serial, { param: paramIn(theta), rows: 'rows_f', short: 'false' }, plain, unroll, rows, [], finish);
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
export function rowPassHoles(s: Schedule, p: number, layout: RowLayout, theta: Theta, unroll: number): Record<string, string> {
  const first = s.passes[p]!.at;
  const e = new Emitter(s, { param: paramIn(theta), total: (k) => `totals[${wgslIndex(k)}]`, rows: 'rows_f', short: 'short_batch' }, layout, 'wgsl', emitOptions(s, unroll, first));
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
    TEAM: '',
    LANE: '',
    // Every invocation is a reader of rows.
    READERS: '  let threads = groups.x * WG;\n  let me = wid.x * WG + lid;',
    RECORD: indent(recordAt(layout, 'row'), 2).join('\n'),
    PROLOGUE: indent(prologue, 1).join('\n'),
    ACCUMULATORS: indent(accumulators(s, [p], unroll, s.passes[p]!.size), 1).join('\n'),
    ROW: indent(body, 2).join('\n'),
    // The invocations' sums added as a tree, the workgroup's totals written as its row of partials.
    STORE: indent(
      [
        ...store(s, p, unroll, first),
        'tree_reduce(lid, P);',
        'for (var c = lid; c < P; c += WG) {',
        '  partials[(replica * REPLICA_GROUPS + GROUP_BASE + wid.x) * TOTALS + PASS_AT + c] = tree[c];',
        '}',
      ],
      1,
    ).join('\n'),
  };
}

/** The FINISH hole of a finishing kernel: the loss (and gradients and updates, or stored gradients) from the sums in `tree`. */
export function finishHole(s: Schedule, loss: number, theta: Theta, mode: 'update' | 'store', unroll: number, update = true): string {
  // A finishing kernel reads no row: its values loop from the finishing step's lower limit.
  const e = new Emitter(s, { param: paramIn(theta), total: (k) => `tree[${wgslIndex(k)}]`, rows: 'rows_f', short: 'short_batch' }, null, 'wgsl', { unroll, uniform: uniformLimit(unroll) });
  return indent(finishLines(e, s, loss, update ? theta : null, mode === 'update' ? UPDATE : STORE), 2).join('\n');
}

/**
 * What a row pass run by teams of lanes says of itself, before the kernel's declarations. The
 * row loop's trip count is the same in every lane of a team (it depends on the workgroup alone),
 * which WGSL's uniformity analysis cannot see through the row picker: hence the diagnostic.
 */
const TEAM_HEADER = `// Row teams (compile/team.ts): here a workgroup is one subgroup, a team of lanes that share each
// row: lane \`lane\` holds the vec4s lane, lane + WG, ... of the row's wide input. Its products with
// the parameters are each lane's partial sums added across the subgroup, its sums over rows each
// lane's own columns; the narrow values run in every lane alike. Each accumulator is stored by the
// one lane that holds it as the workgroup's row of \`partials\`: no tree. The rows are dealt out to
// the teams (workgroups), CONTIGUOUS as a run each.
enable subgroups;
diagnostic(off, subgroup_uniformity);

`;

/**
 * The holes of a row pass (wgsl/row_pass.wgsl) run by teams of lanes (compile/team.ts): the team's
 * sums are vec4 arrays of each lane's columns, the narrow ones scalars in every lane; each is
 * stored by the lane that holds it (the narrow ones by lane 0).
 */
export function teamPassHoles(s: Schedule, layout: RowLayout, theta: Theta, unroll: number, team: Team): Record<string, string> {
  const pass = s.passes[0]!;
  const e = new Emitter(s, { param: paramIn(theta), total: (k) => `totals[${wgslIndex(k)}]`, rows: 'rows_f', short: 'short_batch' }, layout, 'wgsl', { unroll, team });
  const { prologue, body } = e.rowPass(0);
  const narrow = pass.sums.filter((x) => !team.sums.has(x.id));
  const scalars = narrow.flatMap((x) => Array.from({ length: x.size }, (_, k) => x.at + k));
  const store = ['let row_at = (replica * REPLICA_GROUPS + GROUP_BASE + wid.x) * TOTALS + PASS_AT;'];
  if (scalars.length) store.push('if (lane == 0u) {', ...scalars.map((k) => `  partials[row_at + ${k - pass.at}u] = a${k};`), '}');
  const wide = pass.sums.filter((x) => team.sums.has(x.id));
  if (wide.length) {
    store.push(`for (var c4 = 0u; c4 < ${team.chunks}u; c4++) {`, `  let i0 = 4u * (lane + ${team.lanes}u * c4);`);
    for (const x of wide) {
      const sum = team.sums.get(x.id)!;
      for (let j = 0; j < sum.others; j++) {
        for (let m = 0; m < 4; m++) {
          const i = add(loopVar('i0'), m);
          const at = add(sum.element(i, j), x.at - pass.at);
          store.push(`  if (${render(i, 'wgsl')} < ${team.width}u) {`, `    partials[row_at + ${render(at, 'wgsl')}] = g${x.id}_${j}[c4].${'xyzw'[m]};`, '  }');
        }
      }
    }
    store.push('}');
  }
  return {
    TEAM: TEAM_HEADER,
    LANE: '  @builtin(subgroup_invocation_id) lane: u32,\n',
    // A team (workgroup) is one reader of rows.
    READERS: '  let threads = groups.x;\n  let me = wid.x;',
    TREE: '// (no tree: each lane stores the sums it holds)',
    P: String(Math.max(1, pass.size)),
    EARLIER_DECL: '',
    FINISH_EARLIER: '',
    RECORD: indent(recordAt(layout, 'row'), 2).join('\n'),
    PROLOGUE: indent(prologue, 1).join('\n'),
    ACCUMULATORS: indent(scalars.map((k) => `var a${k} = 0.0;`), 1).join('\n'),
    ROW: indent(body, 2).join('\n'),
    STORE: indent(store, 1).join('\n'),
  };
}
