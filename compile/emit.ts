/**
 * @file Emit: a schedule's nodes as straight-line code, WGSL for the device's kernels or
 * JavaScript for the CPU's compiled plan, one value per line, every line naming the node it
 * computes (`// %14 = scale %13 (×2), backward of %7 squaredError`). What a line computes comes
 * from its op's lowering in the op table, so what autograd derived is what runs. The two dialects
 * differ only in the ops' expressions, a choice by the batch (`select`) and how a row is loaded.
 *
 * Three kinds of code, each a list of lines for a hole of a skeleton in wgsl/:
 * - row code, once per row: the row's values of every row node a pass needs (`v<node>_<column>`),
 *   loaded or computed in registers, then each sum over rows accumulated (`a<k> += ...`);
 * - a row pass's prologue, once per pass: the values without rows its row code reads
 *   (`u<node>_<element>`: parameters, and what is computed from them or from earlier passes' sums);
 * - a finishing step: the loss and every gradient from the finished sums and the parameters, kept
 *   in an array that one loop of the optimizer's rule then reads (or stored, when the update runs
 *   as a kernel of its own).
 */
import { type Node, formatOp } from '../engine/graph.js';
import { type Index, add, div, isLiteral, loopVar, mod, mul, render } from '../engine/indices.js';
import { type Coord, type Lowering, OPS, type OpKind, ROW, broadcastSource } from '../engine/ops.js';
import { asMatrix, sizeOf } from '../engine/shape.js';
import { wgslFloat } from '../wgsl/kernels.js';
import type { Schedule } from './schedule.js';
import type { Team } from './team.js';

/**
 * How a row is laid out in the data: a record of the wide data inputs' values read as vec4
 * (`data4`, padded to whole vec4s), then a record of the narrow ones' read as floats (`data1`).
 * Each input sits whole in one part, from its first column there.
 */
export interface RowLayout {
  /** Floats per row in the vec4 part (a multiple of 4; 0: none) and in the float part. */
  vecWords: number;
  scalarWords: number;
  columns: Map<number, { part: 'vec4' | 'scalar'; column: number }>;
  /** A residual bootstrap: the target input, whose values get the drawn residual row added. */
  residualTarget: number | null;
}

/** The language of the generated lines. */
export type Dialect = 'wgsl' | 'js';

/** Where generated code finds what it reads; each is an expression in the emitter's dialect. */
export interface Sources {
  /** Element `flat` of parameter %id (of the model being trained). */
  param(id: number, flat: Index): string;
  /** Accumulator `k` of all passes, finished. */
  total(k: Index): string;
  /** The rows the sums ran over (an f32). */
  rows: string;
  /** True in a batch shorter than the rest (the last one): its means divide by its own rows. */
  short: string;
  /** Value c of data input %id in this row, where the caller lays rows out itself (the JavaScript plan); else the RowLayout's records. */
  load?(id: number, c: Index): string;
}

/** Element f of a value of this shape, row-major: (row, column), a literal 0 along an axis of length 1. */
export function positionIn(shape: readonly number[], f: Index): Coord {
  const [rows, cols] = asMatrix(shape);
  return [rows === 1 ? 0 : div(f, cols), cols === 1 ? 0 : mod(f, cols)];
}

/** A position that must be a literal: a value held as separate variables, read outside a loop. */
function literal(x: Index, id: number): number {
  if (!isLiteral(x)) throw new Error(`emit: %${id} is held as separate values but read at ${render(x, 'js')}`);
  return x;
}

const COMPONENTS = ['x', 'y', 'z', 'w'];

/**
 * The lines that run `body` at every position of an R x C domain, row-major: an axis longer than
 * `unroll` is a loop over `names[axis]`, a shorter one written out position by position. An index
 * is symbolic only along an axis longer than the limit, so whatever it reads along that axis is
 * wider than the limit too, and held as an array.
 */
export function nest(dialect: Dialect, unroll: number, [R, C]: readonly [number, number], names: readonly [string, string], body: (at: Coord) => string[], note: string): string[] {
  const loop = (v: string, count: number, inner: string[]) => {
    const head = dialect === 'wgsl' ? `for (var ${v} = 0u; ${v} < ${count}u; ${v}++) {` : `for (let ${v} = 0; ${v} < ${count}; ${v}++) {`;
    return [`${head} // ${note}`, ...indent(inner, 1), '}'];
  };
  const cols = (r: Index) => (C > unroll ? loop(names[1], C, body([r, loopVar(names[1])])) : Array.from({ length: C }, (_, c) => body([r, c])).flat());
  return R > unroll ? loop(names[0], R, cols(loopVar(names[0]))) : Array.from({ length: R }, (_, r) => cols(r)).flat();
}

/** Lines indented `depth` levels of two spaces, for the generated sources. */
export const indent = (lines: string[], depth: number) => lines.map((l) => `${'  '.repeat(depth)}${l}`);

/** Values per row of a data input: its columns, or 1 for a vector. */
export const widthOf = (n: Node) => (n.shape.length === 2 ? n.shape[1]! : 1);

/** One node's text for a comment: `%14 = scale %13 (×2), backward of %7 squaredError`. */
export function nodeComment(nodes: readonly Node[], n: Node): string {
  const origin = n.origin === undefined ? '' : `, backward of %${n.origin} ${nodes[n.origin]!.op}`;
  return oneLine(`%${n.id} = ${formatOp(n)}${origin}`);
}

/** Text for a `//` comment: a name with a line break in it would end the comment and run as code. */
export const oneLine = (text: string) => text.replace(/[\r\n\u2028\u2029]+/g, ' ');

/** What the emitter writes as loops: extents past `unroll` (0: every one), and how it names the accumulators. */
export interface EmitOptions {
  /**
   * The widest extent written out element by element: a node with more values (a row's values, or
   * its size) is an array filled in a loop, and a sum of more terms is a loop. Infinity: none.
   */
  unroll: number;
  /**
   * The limit for values without rows (default: `unroll`). A finishing step, which runs once a
   * step and reads no row, loops sooner (UNIFORM_UNROLL): straight-line code costs the driver's
   * compile time there and buys nothing. Row code's values without rows (the parameters it reads)
   * keep the row code's limit: held in a private array, lavapipe read them 10x slower there.
   */
  uniform?: number;
  /** Accumulator k of all passes as the code names it (`a<k>`, or an element of an array). */
  acc?: (k: Index) => string;
  /** Row code for a team of lanes sharing each row (compile/team.ts): its wide input's readers. */
  team?: Team;
}

/** The finishing step's limit: never above the row code's, so what row code reads symbolically is an array. */
export const UNIFORM_UNROLL = 16;
export const uniformLimit = (unroll: number) => Math.min(unroll, UNIFORM_UNROLL);

/** `a<k>` for a literal k: the accumulators as separate variables. */
const scalarAcc = (k: Index) => {
  if (!isLiteral(k)) throw new Error(`emit: accumulator ${render(k, 'js')} indexed, but the accumulators are scalars`);
  return `a${k}`;
};

/**
 * The terms a schedule's row code writes out at an unroll limit: for each product with rows, the
 * values written out (a line each) times the terms written out in each line; for each sum over
 * rows, the accumulations written out (a term each). What stays a loop counts once. The driver's
 * compile time grows faster than this count (bench/width.ts), so the planner keeps it bounded.
 */
export function straightTerms(s: Schedule, unroll: number): number {
  const out = (extent: number) => (extent <= unroll ? extent : 1);
  let terms = 0;
  for (const [id, info] of s.info) {
    const node = s.graph.nodes[id]!;
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    if (info.acrossRows) {
      const [R, C] = asMatrix(node.shape);
      terms += out(R) * out(C);
    } else if (info.rowAxis !== null && lower.kind === 'contract') {
      const a = s.graph.nodes[node.inputs[0]!]!;
      const K = lower.trans(node.attrs)[0] ? a.shape[0]! : a.shape[1]!;
      terms += out(info.width) * out(K);
    }
  }
  return terms;
}

/** Whether a schedule's accumulators are an array: some sum over rows is wider than `unroll`. */
export const indexedAccumulators = (s: Schedule, unroll: number) => s.passes.some((p) => p.sums.some((x) => x.size > unroll));

/** A WGSL u32 index: a literal with its suffix, as the straight-line code always wrote it, or an expression. */
export const wgslIndex = (k: Index) => (isLiteral(k) ? `${k}u` : render(k, 'wgsl'));

/** The terms a reduction or a matrix product adds up: an R x C domain, and each one's expression by its position in it. */
interface Terms {
  extents: readonly [number, number];
  term(at: Coord): string;
}

const countOf = (t: Terms) => t.extents[0] * t.extents[1];

/**
 * Writes the code of one kernel section. Values are emitted on first use, every element of a node
 * together, after the values they read, so the lines read in graph order; uniform values go to
 * `prologue`, row values and accumulations to `body`. A node wider than `unroll` is an array
 * (`v<node>[i]`, `u<node>[i]`) filled by one loop, declared once in the prologue.
 */
export class Emitter {
  private prologue: string[] = [];
  private body: string[] = [];
  private readonly done = new Set<number>();
  private readonly declared = new Set<string>();
  private loaded = new Set<string>();
  private readonly nodes: readonly Node[];
  private readonly unroll: number;
  private readonly uniform: number;
  private readonly acc: (k: Index) => string;
  private readonly team: Team | null;
  private readonly teamDone = new Set<number>();

  constructor(
    private readonly s: Schedule,
    private readonly src: Sources,
    private readonly layout: RowLayout | null = null,
    private readonly dialect: Dialect = 'wgsl',
    options: EmitOptions = { unroll: Infinity },
  ) {
    this.nodes = s.graph.nodes;
    this.unroll = options.unroll;
    this.uniform = Math.min(options.uniform ?? options.unroll, options.unroll);
    this.acc = options.acc ?? scalarAcc;
    this.team = options.team ?? null;
  }

  /**
   * Row code of pass `p`: every row value its sums read, then the accumulation of each sum's
   * elements (one line each, or a loop over them). Returns the lines for inside the row loop, and
   * the lines for before it (values without rows the row code reads, arrays, not emitted before).
   */
  rowPass(p: number): { prologue: string[]; body: string[] } {
    // A pass's row loop is a scope of its own: row values are emitted again in each.
    for (const id of [...this.done]) if (this.s.info.get(id)!.rowAxis !== null) this.done.delete(id);
    this.loaded = new Set();
    for (const sum of this.s.passes[p]!.sums) {
      const node = this.nodes[sum.id]!;
      const note = nodeComment(this.nodes, node);
      if (this.team?.sums.has(sum.id)) {
        this.teamSum(node, note);
        continue;
      }
      const [R, C] = asMatrix(node.shape);
      const accumulate = ([r, c]: Coord) => {
        const terms = this.terms(node, [r, c]);
        const into = this.acc(add(sum.at, add(mul(r, C), c)));
        // Inside a loop, the loop's line names the node.
        if (!this.loops(terms, this.unroll)) return [`${into} += ${this.unrolled(terms).join(' + ')};${isLiteral(r) && isLiteral(c) ? ` // ${note}` : ''}`];
        return nest(this.dialect, this.unroll, terms.extents, ['k', 'l'], (at) => [`${into} += ${terms.term(at)};`], note);
      };
      this.body.push(...nest(this.dialect, this.unroll, [R, C], ['i', 'j'], accumulate, note));
    }
    const out = { prologue: this.prologue, body: this.body };
    this.prologue = [];
    this.body = [];
    return out;
  }

  /** The lines of values without rows emitted since the last call (for a finishing step). */
  takePrologue(): string[] {
    const out = this.prologue;
    this.prologue = [];
    return out;
  }

  /** An expression for the value of `id` at `at`, emitting the lines it needs. */
  value(id: number, at: Coord = [0, 0]): string {
    const node = this.nodes[id]!;
    const info = this.s.info.get(id)!;
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    if (info.rowAxis === null) {
      // A value without rows read from row code: its size along the row axis is 1 (broadcast).
      const here: Coord = [at[0] === ROW ? 0 : at[0], at[1] === ROW ? 0 : at[1]];
      if (lower.kind === 'view') return this.value(node.inputs[0]!, lower.source(node.attrs, this.nodes[node.inputs[0]!]!.shape, node.shape, here));
      if (lower.kind === 'leaf' && lower.fill) return wgslFloat(lower.fill(node.attrs));
      const flat = add(mul(here[0], asMatrix(node.shape)[1]), here[1]);
      // Parameters too are loaded once, before the rows (into registers, or a private array): a
      // read of the parameters' buffer in every row cost lavapipe 4x the epoch at 32 features.
      this.ensure(node);
      return this.indexed(id) ? `u${id}[${render(flat, this.dialect)}]` : `u${id}_${literal(flat, id)}`;
    }
    if (at[info.rowAxis] !== ROW) throw new Error(`emit: %${id} read at a fixed row (${at})`);
    if (id === this.team?.input) throw new Error(`emit: %${id} is shared by a team of lanes and read only by its contractions`);
    const c = at[1 - info.rowAxis]!;
    if (lower.kind === 'view') return this.value(node.inputs[0]!, lower.source(node.attrs, this.nodes[node.inputs[0]!]!.shape, node.shape, at));
    if (lower.kind === 'leaf' && lower.fill) return wgslFloat(lower.fill(node.attrs));
    this.ensure(node);
    return this.indexed(id) ? `v${id}[${render(c, this.dialect)}]` : `v${id}_${literal(c, id)}`;
  }

  /** The limit for values without rows (the finishing step's loops follow it). */
  get uniformLimit(): number {
    return this.uniform;
  }

  /** The unroll limit of a node's code: the row code's, or the one of code without rows. */
  private limit(id: number): number {
    return this.s.info.get(id)!.rowAxis === null ? this.uniform : this.unroll;
  }

  /** A node held as an array, filled in a loop: wider than its unroll limit. */
  private indexed(id: number): boolean {
    return this.s.info.get(id)!.width > this.limit(id);
  }

  /** A sum whose terms are written as a loop: one of its axes is longer than the limit. */
  private loops(terms: Terms, limit: number): boolean {
    return terms.extents.some((e) => e > limit);
  }

  /** Declares an array of `size` values once per emitter (one function of generated code). */
  private declare(name: string, size: number, type = 'f32'): void {
    if (this.declared.has(name)) return;
    this.declared.add(name);
    this.prologue.push(this.dialect === 'wgsl' ? `var ${name}: array<${type}, ${size}>;` : `const ${name} = new Float64Array(${size});`);
  }

  /** Emits every element of a node computed here (once): one let each, or an array filled in a loop. */
  private ensure(node: Node): void {
    if (this.done.has(node.id)) return;
    this.done.add(node.id);
    const info = this.s.info.get(node.id)!;
    const note = nodeComment(this.nodes, node);
    const out = info.rowAxis === null ? this.prologue : this.body;
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    const element = (f: Index, at: Coord, pre: string[], scratch: string) => {
      if (lower.kind === 'leaf') return info.rowAxis === null ? this.src.param(node.id, f) : this.load(node.id, f);
      if (info.acrossRows) return this.finished(node, at, f);
      return this.compute(node, at, pre, scratch);
    };
    // A sum written as a loop adds into a scratch variable of its own: s<node>_<k>.
    let scratch = 0;
    if (!this.indexed(node.id)) {
      const name = info.rowAxis === null ? 'u' : 'v';
      for (let f = 0; f < info.width; f++) {
        const pre: string[] = [];
        const expr = element(f, this.coordOf(node, f), pre, `s${node.id}_${scratch++}`);
        out.push(...pre, `let ${name}${node.id}_${f} = ${expr}; // ${note}`);
      }
      return;
    }
    // An array, filled position by position of its values: (row, column) without rows, (0, value) for a row's.
    const name = `${info.rowAxis === null ? 'u' : 'v'}${node.id}`;
    const [R, C] = info.rowAxis === null ? asMatrix(node.shape) : [1, info.width];
    const lines = nest(this.dialect, this.limit(node.id), [R, C], ['i', 'j'], ([r, c]) => {
      const f = add(mul(r, C), c);
      const at: Coord = info.rowAxis === 0 ? [ROW, c] : info.rowAxis === 1 ? [c, ROW] : [r, c];
      const pre: string[] = [];
      const expr = element(f, at, pre, `s${node.id}_${scratch++}`);
      return [...pre, `${name}[${render(f, this.dialect)}] = ${expr};${isLiteral(f) ? ` // ${note}` : ''}`];
    }, note);
    this.declare(name, info.width);
    out.push(...lines);
  }

  /** The position of value f of a node: its f-th element, or for a row node its f-th value of this row. */
  private coordOf(node: Node, f: Index): Coord {
    const info = this.s.info.get(node.id)!;
    if (info.rowAxis === 0) return [ROW, f];
    if (info.rowAxis === 1) return [f, ROW];
    return positionIn(node.shape, f);
  }

  /**
   * Value c of data input %id in this row: from the row's vec4 record (`at4`, one load per vec4,
   * shared by the values in it; a component chosen by index in a loop) or its float record
   * (`at1`), plus the drawn residual (`res_at`) for the target of a residual bootstrap.
   */
  private load(id: number, c: Index): string {
    if (this.src.load) return this.src.load(id, c);
    const layout = this.layout;
    if (!layout) throw new Error(`emit: data input %${id} read outside row code`);
    const { part, column } = layout.columns.get(id)!;
    const k = add(column, c);
    let x: string;
    if (part === 'scalar') x = `data1[at1 + ${wgslIndex(k)}]`;
    else if (!isLiteral(k)) x = `data4[at4 + ${render(div(k, 4), 'wgsl')}][${render(mod(k, 4), 'wgsl')}]`;
    else {
      const name = `r${Math.floor(k / 4)}`;
      if (!this.loaded.has(name)) {
        this.loaded.add(name);
        this.body.push(`let ${name} = data4[at4 + ${Math.floor(k / 4)}u];`);
      }
      x = `${name}.${COMPONENTS[k % 4]}`;
    }
    return layout.residualTarget === id ? `(${x} + data1[res_at + ${wgslIndex(c)}])` : x;
  }

  /** A finished sum over rows: its total (over the rows of the batch, divided by the count for a mean). */
  private finished(node: Node, at: Coord, f: Index): string {
    const sum = this.s.sums.get(node.id)!;
    const total = this.src.total(add(sum.at, f));
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    if (lower.kind !== 'reduce' || !lower.mean) return total;
    // Values summed per row, times the rows.
    const perRow = countOf(this.terms(node, at));
    return `${total} / (${this.src.rows}${perRow === 1 ? '' : ` * ${wgslFloat(perRow)}`})`;
  }

  /**
   * The element of a node computed from its operands' elements, by its op's lowering. A sum of
   * more terms than the unroll limit is a loop into `scratch`, its lines pushed to `pre`.
   */
  private compute(node: Node, at: Coord, pre: string[], scratch: string): string {
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    const [a, b] = node.inputs.map((i) => this.nodes[i]!);
    switch (lower.kind) {
      case 'map':
        return lower[this.dialect](this.value(a!.id, at), this.attrs(node) as never);
      case 'zip':
        return lower[this.dialect](this.value(a!.id, broadcastSource(a!.shape, node.shape, at)), this.value(b!.id, broadcastSource(b!.shape, node.shape, at)));
      case 'reduce':
      case 'contract': {
        if (this.team?.dots.has(node.id)) return this.teamDot(node, at[1] as number, pre);
        const terms = this.terms(node, at);
        let sum: string;
        const limit = this.limit(node.id);
        if (!this.loops(terms, limit)) {
          const list = this.unrolled(terms);
          sum = list.length === 1 ? list[0]! : `(${list.join(' + ')})`;
        } else {
          const note = nodeComment(this.nodes, node);
          const body = nest(this.dialect, limit, terms.extents, ['k', 'l'], (q) => [`${scratch} += ${terms.term(q)};`], note);
          pre.push(this.dialect === 'wgsl' ? `var ${scratch} = 0.0;` : `let ${scratch} = 0;`, ...body);
          sum = scratch;
        }
        return lower.kind === 'reduce' && lower.mean ? `${sum} / ${wgslFloat(countOf(terms))}` : sum;
      }
      default:
        throw new Error(`emit: %${node.id} ${node.op} (${lower.kind}) computes no element`);
    }
  }

  /** The vec4 `c4` of this lane's share of the team's row (clamped into the row: its parameters there are 0). */
  private teamLoad(t: Team): string {
    return `data4[at4 + ${t.vecAt}u + min(lane + ${t.lanes}u * c4, ${t.vec4s - 1}u)]`;
  }

  /**
   * Output j of a team's product of the wide input with a parameter: each lane's vec4s of the row
   * times its vec4s of the parameter (filled once, before the rows, 0 past the row's width), added
   * across the subgroup. Every output is emitted at the first one's call, in one loop.
   */
  private teamDot(node: Node, j: number, pre: string[]): string {
    const t = this.team!;
    const dot = t.dots.get(node.id)!;
    if (!this.teamDone.has(node.id)) {
      this.teamDone.add(node.id);
      const note = nodeComment(this.nodes, node);
      const outs = Array.from({ length: dot.outputs }, (_, k) => k);
      const wp = (k: number, m: number) => {
        const p = add(loopVar('p'), m);
        return `select(0.0, ${this.src.param(dot.param, dot.element(k, p))}, ${render(p, 'wgsl')} < ${t.width}u)`;
      };
      for (const k of outs) this.declare(`w${node.id}_${k}`, t.chunks, 'vec4f');
      this.prologue.push(
        `for (var c4 = 0u; c4 < ${t.chunks}u; c4++) { // this lane's share of the parameter in ${note}`,
        `  let p = 4u * (lane + ${t.lanes}u * c4);`,
        ...outs.map((k) => `  w${node.id}_${k}[c4] = vec4f(${[0, 1, 2, 3].map((m) => wp(k, m)).join(', ')});`),
        '}',
      );
      pre.push(
        ...outs.map((k) => `var t${node.id}_${k} = vec4f(0.0);`),
        `for (var c4 = 0u; c4 < ${t.chunks}u; c4++) { // ${note}: this lane's vec4s of the row`,
        `  let x = ${this.teamLoad(t)};`,
        ...outs.map((k) => `  t${node.id}_${k} += x * w${node.id}_${k}[c4];`),
        '}',
        ...outs.map((k) => `let d${node.id}_${k} = subgroupAdd(t${node.id}_${k}.x + t${node.id}_${k}.y + t${node.id}_${k}.z + t${node.id}_${k}.w);`),
      );
    }
    return `d${node.id}_${j}`;
  }

  /** A team's sum over rows: each lane adds its vec4s of the row times the narrow operand into its own accumulators (`g<node>_<j>`). */
  private teamSum(node: Node, note: string): void {
    const t = this.team!;
    const sum = t.sums.get(node.id)!;
    const outs = Array.from({ length: sum.others }, (_, k) => k);
    const factors = outs.map((k) => this.value(sum.other, [ROW, k]));
    for (const k of outs) this.declare(`g${node.id}_${k}`, t.chunks, 'vec4f');
    this.body.push(
      ...outs.map((k) => `let e${node.id}_${k} = ${factors[k]};`),
      `for (var c4 = 0u; c4 < ${t.chunks}u; c4++) { // ${note}: this lane's columns`,
      `  let x = ${this.teamLoad(t)};`,
      ...outs.map((k) => `  g${node.id}_${k}[c4] += x * e${node.id}_${k};`),
      '}',
    );
  }

  /** Every term written out, row-major. */
  private unrolled(terms: Terms): string[] {
    const [R, C] = terms.extents;
    return Array.from({ length: R * C }, (_, q) => terms.term([Math.floor(q / C), q % C]));
  }

  /**
   * The terms a reduction or a matrix product adds up for output element `at`. Along a row axis
   * there is one term, the row's (a sum over rows adds them across rows); along any other axis,
   * one term per position. A term is emitted only when asked for.
   */
  private terms(node: Node, at: Coord): Terms {
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    /** Positions along an axis of an operand: the row alone (a fixed position), or all `length` of them. */
    const along = (id: number, axis: 0 | 1, length: number): { fixed: Index } | number => (this.s.info.get(id)!.rowAxis === axis ? { fixed: ROW } : length);
    const extent = (x: { fixed: Index } | number) => (typeof x === 'number' ? x : 1);
    const pick = (x: { fixed: Index } | number, q: Index) => (typeof x === 'number' ? q : x.fixed);
    if (lower.kind === 'reduce') {
      const a = this.nodes[node.inputs[0]!]!;
      const [R, C] = asMatrix(a.shape);
      const axis = lower.axis(node.attrs);
      const rows = axis === null || (axis === 0 && a.shape.length === 2) ? along(a.id, 0, R) : { fixed: a.shape.length === 2 ? at[1] : 0 };
      const cols = axis === null || axis === 1 || a.shape.length === 1 ? along(a.id, 1, C) : { fixed: at[1] };
      return { extents: [extent(rows), extent(cols)], term: ([r, c]) => this.value(a.id, [pick(rows, r), pick(cols, c)]) };
    }
    if (lower.kind === 'contract') {
      const [ta, tb] = lower.trans(node.attrs);
      const [a, b] = node.inputs.map((i) => this.nodes[i]!) as [Node, Node];
      const K = ta ? a.shape[0]! : a.shape[1]!;
      // op(A)(i, p) and op(B)(p, j), with p along A's rows when transposed.
      const ps = along(a.id, ta ? 0 : 1, K);
      return {
        extents: [1, extent(ps)],
        term: ([, q]) => {
          const p = pick(ps, q);
          return `${this.value(a.id, ta ? [p, at[0]] : [at[0], p])} * ${this.value(b.id, tb ? [at[1], p] : [p, at[1]])}`;
        },
      };
    }
    throw new Error(`emit: %${node.id} ${node.op} is not a sum`);
  }

  /** The node's attributes as its lowering reads them: numbers as literals, a batch-dependent one chosen by the batch. */
  private attrs(node: Node): Record<string, unknown> {
    const { full, short } = this.s.attrsAt(node.id) as { full: Record<string, unknown>; short: Record<string, unknown> | null };
    return Object.fromEntries(
      Object.entries(full).map(([k, v]) => {
        if (typeof v !== 'number') return [k, v];
        const w = short?.[k] as number | undefined;
        if (w === undefined || w === v) return [k, wgslFloat(v)];
        return [k, this.dialect === 'wgsl' ? `select(${wgslFloat(v)}, ${wgslFloat(w)}, ${this.src.short})` : `(${this.src.short} ? ${wgslFloat(w)} : ${wgslFloat(v)})`];
      }),
    );
  }
}

/** Every parameter's values in theta order: the parameter, its offset, and its gradient node. */
export interface Theta {
  params: { id: number; name: string; grad: number; offset: number; size: number }[];
  count: number;
}

/**
 * Where a finishing step puts each gradient: `store(k, value)` is the statement that keeps value k
 * of theta's gradient, after the `head` lines; `tail` follows every gradient (the optimizer's loop).
 */
export interface GradientSink {
  head: string[];
  store(k: Index, value: string): string;
  tail: string[];
}

/**
 * The finishing step's lines: the batch's loss as `batch_loss`, then each parameter value's
 * gradient kept by the sink (in an array the optimizer's loop reads, or stored for an update that
 * runs apart). Every gradient is computed before any parameter changes.
 */
export function finishLines(e: Emitter, s: Schedule, loss: number, theta: Theta | null, sink: GradientSink, dialect: Dialect = 'wgsl'): string[] {
  const nodes = s.graph.nodes;
  const lines = [`let batch_loss = ${e.value(loss)};`];
  if (!theta) return [...e.takePrologue(), ...lines];
  lines.push(...sink.head);
  for (const p of theta.params) {
    const grad = nodes[p.grad]!;
    const [, C] = asMatrix(grad.shape);
    const note = oneLine(`${p.name}: %${p.grad} ${grad.label ?? ''}`).trimEnd();
    lines.push(
      ...nest(dialect, e.uniformLimit, asMatrix(grad.shape), ['i', 'j'], ([r, c]) => {
        const f = add(mul(r, C), c);
        const store = sink.store(add(p.offset, f), e.value(p.grad, [r, c]));
        return [isLiteral(f) ? `${store} // ${oneLine(`${p.name}[${f}]: %${p.grad} ${grad.label ?? ''}`)}`.trimEnd() : store];
      }, note),
    );
  }
  return [...e.takePrologue(), ...lines, ...sink.tail];
}

/** Parameters in theta order (the program's), each with its gradient. */
export function thetaOf(params: readonly { id: number; name: string; grad: number | null }[], nodes: readonly Node[]): Theta {
  let offset = 0;
  const out = params.map((p) => {
    const size = sizeOf(nodes[p.id]!.shape);
    const entry = { id: p.id, name: p.name, grad: p.grad!, offset, size };
    offset += size;
    return entry;
  });
  return { params: out, count: offset };
}
