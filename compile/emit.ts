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
 * - a finishing step: the loss and every gradient from the finished sums and the parameters, then
 *   one call of the optimizer's rule per parameter value (or its gradient stored, when the update
 *   runs as a kernel of its own).
 */
import { type Node, formatOp } from '../engine/graph.js';
import { type Coord, type Lowering, OPS, type OpKind, ROW, broadcastSource } from '../engine/ops.js';
import { asMatrix, sizeOf } from '../engine/shape.js';
import { wgslFloat } from '../wgsl/kernels.js';
import type { Schedule } from './schedule.js';

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
  param(id: number, flat: number): string;
  /** Accumulator `k` of all passes, finished. */
  total(k: number): string;
  /** The rows the sums ran over (an f32). */
  rows: string;
  /** True in a batch shorter than the rest (the last one): its means divide by its own rows. */
  short: string;
  /** Value c of data input %id in this row, where the caller lays rows out itself (the JavaScript plan); else the RowLayout's records. */
  load?(id: number, c: number): string;
}

const COMPONENTS = ['x', 'y', 'z', 'w'];

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

/**
 * Writes the code of one kernel section. Values are emitted on first use, every element of a node
 * together, after the values they read, so the lines read in graph order; uniform values go to
 * `prologue`, row values and accumulations to `body`.
 */
export class Emitter {
  private prologue: string[] = [];
  private body: string[] = [];
  private readonly done = new Set<number>();
  private loaded = new Set<string>();
  private readonly nodes: readonly Node[];

  constructor(
    private readonly s: Schedule,
    private readonly src: Sources,
    private readonly layout: RowLayout | null = null,
    private readonly dialect: Dialect = 'wgsl',
  ) {
    this.nodes = s.graph.nodes;
  }

  /**
   * Row code of pass `p`: every row value its sums read, then one accumulation per element of each
   * sum (accumulator k of all passes is `a<k>`). Returns the lines for inside the row loop, and the
   * lines for before it (values without rows the row code reads, not emitted before).
   */
  rowPass(p: number): { prologue: string[]; body: string[] } {
    // A pass's row loop is a scope of its own: row values are emitted again in each.
    for (const id of [...this.done]) if (this.s.info.get(id)!.rowAxis !== null) this.done.delete(id);
    this.loaded = new Set();
    for (const sum of this.s.passes[p]!.sums) {
      const node = this.nodes[sum.id]!;
      const note = nodeComment(this.nodes, node);
      for (let f = 0; f < sum.size; f++) {
        const terms = this.perRow(node, this.coordOf(node, f));
        this.body.push(`a${sum.at + f} += ${terms.join(' + ')}; // ${note}`);
      }
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

  /** A WGSL expression for the value of `id` at `at`, emitting the lines it needs. */
  value(id: number, at: Coord = [0, 0]): string {
    const node = this.nodes[id]!;
    const info = this.s.info.get(id)!;
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    if (info.rowAxis === null) {
      // A value without rows read from row code: its size along the row axis is 1 (broadcast).
      const here: Coord = [at[0] === ROW ? 0 : at[0], at[1] === ROW ? 0 : at[1]];
      if (lower.kind === 'view') return this.value(node.inputs[0]!, lower.source(node.attrs, this.nodes[node.inputs[0]!]!.shape, node.shape, here));
      if (lower.kind === 'leaf' && lower.fill) return wgslFloat(lower.fill(node.attrs));
      this.ensure(node);
      return `u${id}_${here[0] * asMatrix(node.shape)[1] + here[1]}`;
    }
    if (at[info.rowAxis] !== ROW) throw new Error(`emit: %${id} read at a fixed row (${at})`);
    const c = at[1 - info.rowAxis]!;
    if (lower.kind === 'view') return this.value(node.inputs[0]!, lower.source(node.attrs, this.nodes[node.inputs[0]!]!.shape, node.shape, at));
    if (lower.kind === 'leaf' && lower.fill) return wgslFloat(lower.fill(node.attrs));
    this.ensure(node);
    return `v${id}_${c}`;
  }

  /** Emits the lets of every element of a node computed here (once). */
  private ensure(node: Node): void {
    if (this.done.has(node.id)) return;
    this.done.add(node.id);
    const info = this.s.info.get(node.id)!;
    const note = nodeComment(this.nodes, node);
    const count = info.width;
    const out = info.rowAxis === null ? this.prologue : this.body;
    const name = (f: number) => (info.rowAxis === null ? `u${node.id}_${f}` : `v${node.id}_${f}`);
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    for (let f = 0; f < count; f++) {
      const at = this.coordOf(node, f);
      let expr: string;
      if (lower.kind === 'leaf') expr = info.rowAxis === null ? this.src.param(node.id, f) : this.load(node.id, f);
      else if (info.acrossRows) expr = this.finished(node, at, f);
      else expr = this.compute(node, at);
      out.push(`let ${name(f)} = ${expr}; // ${note}`);
    }
  }

  /** The position of value f of a node: its f-th element, or for a row node its f-th value of this row. */
  private coordOf(node: Node, f: number): Coord {
    const info = this.s.info.get(node.id)!;
    if (info.rowAxis === 0) return [ROW, f];
    if (info.rowAxis === 1) return [f, ROW];
    const cols = asMatrix(node.shape)[1];
    return [Math.floor(f / cols), f % cols];
  }

  /**
   * Value c of data input %id in this row: from the row's vec4 record (`at4`, one load per vec4,
   * shared by the values in it) or its float record (`at1`), plus the drawn residual (`res_at`) for
   * the target of a residual bootstrap.
   */
  private load(id: number, c: number): string {
    if (this.src.load) return this.src.load(id, c);
    const layout = this.layout;
    if (!layout) throw new Error(`emit: data input %${id} read outside row code`);
    const { part, column } = layout.columns.get(id)!;
    let x: string;
    if (part === 'scalar') x = `data1[at1 + ${column + c}u]`;
    else {
      const k = column + c;
      const name = `r${Math.floor(k / 4)}`;
      if (!this.loaded.has(name)) {
        this.loaded.add(name);
        this.body.push(`let ${name} = data4[at4 + ${Math.floor(k / 4)}u];`);
      }
      x = `${name}.${COMPONENTS[k % 4]}`;
    }
    return layout.residualTarget === id ? `(${x} + data1[res_at + ${c}u])` : x;
  }

  /** A finished sum over rows: its total (over the rows of the batch, divided by the count for a mean). */
  private finished(node: Node, at: Coord, f: number): string {
    const sum = this.s.sums.get(node.id)!;
    const total = this.src.total(sum.at + f);
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    if (lower.kind !== 'reduce' || !lower.mean) return total;
    // Values summed per row, times the rows.
    const perRow = this.perRow(node, at, false).length;
    return `${total} / (${this.src.rows}${perRow === 1 ? '' : ` * ${wgslFloat(perRow)}`})`;
  }

  /** The element of a node computed from its operands' elements, by its op's lowering. */
  private compute(node: Node, at: Coord): string {
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    const [a, b] = node.inputs.map((i) => this.nodes[i]!);
    switch (lower.kind) {
      case 'map':
        return lower[this.dialect](this.value(a!.id, at), this.attrs(node) as never);
      case 'zip':
        return lower[this.dialect](this.value(a!.id, broadcastSource(a!.shape, node.shape, at)), this.value(b!.id, broadcastSource(b!.shape, node.shape, at)));
      case 'reduce':
      case 'contract': {
        const terms = this.perRow(node, at);
        const sum = terms.length === 1 ? terms[0]! : `(${terms.join(' + ')})`;
        return lower.kind === 'reduce' && lower.mean ? `${sum} / ${wgslFloat(terms.length)}` : sum;
      }
      default:
        throw new Error(`emit: %${node.id} ${node.op} (${lower.kind}) computes no element`);
    }
  }

  /**
   * The terms a reduction or a matrix product adds up for output element `at`. Along a row axis
   * there is one term, the row's (a sum over rows adds them across rows); along any other axis,
   * one term per position. With `emit` false, only counts them.
   */
  private perRow(node: Node, at: Coord, emit = true): string[] {
    const lower = OPS[node.op].lower as Lowering<OpKind>;
    const range = (id: number, axis: 0 | 1, length: number) => (this.s.info.get(id)!.rowAxis === axis ? [ROW] : [...Array(length).keys()]);
    const read = (id: number, c: Coord) => (emit ? this.value(id, c) : '');
    if (lower.kind === 'reduce') {
      const a = this.nodes[node.inputs[0]!]!;
      const [R, C] = asMatrix(a.shape);
      const axis = lower.axis(node.attrs);
      const rows = axis === null || (axis === 0 && a.shape.length === 2) ? range(a.id, 0, R) : [a.shape.length === 2 ? at[1] : 0];
      const cols = axis === null || axis === 1 || a.shape.length === 1 ? range(a.id, 1, C) : [at[1]];
      return rows.flatMap((i) => cols.map((j) => read(a.id, [i, j])));
    }
    if (lower.kind === 'contract') {
      const [ta, tb] = lower.trans(node.attrs);
      const [a, b] = node.inputs.map((i) => this.nodes[i]!) as [Node, Node];
      const K = ta ? a.shape[0]! : a.shape[1]!;
      // op(A)(i, p) and op(B)(p, j), with p along A's rows when transposed.
      const ps = range(a.id, ta ? 0 : 1, K);
      return ps.map((p) => {
        const left = read(a.id, ta ? [p, at[0]] : [at[0], p]);
        const right = read(b.id, tb ? [at[1], p] : [p, at[1]]);
        return emit ? `${left} * ${right}` : '';
      });
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
 * The finishing step's lines: the batch's loss as `batch_loss`, then each parameter value's
 * gradient (`g<k>` for value k of theta) and what `use` makes of it: the optimizer's call on it,
 * or the gradient stored for an update that runs apart. Every gradient is computed before any
 * parameter changes.
 */
export function finishLines(e: Emitter, s: Schedule, loss: number, theta: Theta | null, use: (k: number) => string): string[] {
  const nodes = s.graph.nodes;
  const lines = [`let batch_loss = ${e.value(loss)};`];
  const calls: string[] = [];
  for (const p of theta?.params ?? []) {
    const grad = nodes[p.grad]!;
    const cols = asMatrix(grad.shape)[1];
    for (let f = 0; f < p.size; f++) {
      const k = p.offset + f;
      lines.push(`let g${k} = ${e.value(p.grad, [Math.floor(f / cols), f % cols])}; // ${oneLine(`${p.name}[${f}]: %${p.grad} ${grad.label ?? ''}`)}`.trimEnd());
      calls.push(use(k));
    }
  }
  return [...e.takePrologue(), ...lines, ...calls];
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
