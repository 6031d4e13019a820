/**
 * @file The static computation graph: nodes in the order they were added (always a topological
 * order), shapes inferred and checked as each node is added, and a one-node-per-line printer.
 */
import { OPS, type OpAttrs, type OpKind } from './ops.js';
import { type Shape, ShapeError, checkShape, fmtShape } from './shape.js';
import { type Init, checkInit, formatInit } from './init.js';

/** Which pass added a node: the user's forward graph, or autograd's backward pass. */
export type Role = 'forward' | 'backward';

export interface Node<K extends OpKind = OpKind> {
  readonly id: number;
  readonly op: K;
  readonly inputs: readonly number[];
  readonly shape: Shape;
  readonly attrs: OpAttrs[K];
  readonly role: Role;
  /** What the node is for, e.g. `dW` for a gradient; printed beside it. */
  label?: string;
  /** For a backward node: the forward node whose gradient rule added it. */
  origin?: number;
}

/** A handle to a node's value, returned by every builder method. */
export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
  ) {}
  get node(): Node {
    return this.graph.nodes[this.id]!;
  }
  get shape(): Shape {
    return this.node.shape;
  }
  toString(): string {
    return `%${this.id}:f32${fmtShape(this.shape)}`;
  }
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Builds a graph. Every method checks shapes at once and throws a ShapeError naming the op and
 * both shapes, so a mistake shows where it was made, not when the graph runs.
 *
 * @example
 * const g = new Graph();
 * const X = g.input('X', [5, 3]);
 * const W = g.param('W', [2, 3]);
 * const b = g.param('b', [2]);
 * const pred = g.add(g.matmul(X, g.transpose(W)), b);
 * console.log(g.toString());
 */
export class Graph {
  readonly nodes: Node[] = [];
  /** Role stamped on nodes added from now on; autograd switches it to 'backward'. */
  role: Role = 'forward';
  private readonly names = new Map<string, number>();

  input(name: string, shape: Shape): Tensor {
    return this.leaf('input', name, shape);
  }

  /**
   * A trained parameter. With `init` (engine/init.ts, or the helpers of nn/), compile() writes its
   * starting values; without one it starts at zero until written.
   */
  param(name: string, shape: Shape, init?: Init): Tensor {
    if (init === undefined) return this.leaf('param', name, shape);
    checkShape(shape, `param "${name}"`);
    return this.leaf('param', name, shape, checkInit(init, shape, `param "${name}"`));
  }

  /** A tensor filled with `value`, fixed when the graph is compiled. */
  constant(value: number, shape: Shape = []): Tensor {
    if (!Number.isFinite(value)) throw new ShapeError(`constant: value ${value} is not a finite number`);
    checkShape(shape, 'constant');
    return this.push('constant', [], { value }, shape);
  }

  /** Matrix product of op(a) and op(b), where op transposes when asked. */
  matmul(a: Tensor, b: Tensor, { transA = false, transB = false }: MatmulOptions = {}): Tensor {
    return this.push('matmul', [a, b], { transA, transB });
  }

  transpose(a: Tensor): Tensor {
    return this.push('transpose', [a], {});
  }

  reshape(a: Tensor, shape: Shape): Tensor {
    checkShape(shape, 'reshape');
    return this.push('reshape', [a], {}, shape);
  }

  broadcastTo(a: Tensor, shape: Shape): Tensor {
    checkShape(shape, 'broadcastTo');
    return this.push('broadcastTo', [a], {}, shape);
  }

  /** Elementwise a + b with numpy broadcasting. */
  add(a: Tensor, b: Tensor): Tensor {
    return this.push('add', [a, b], {});
  }

  sub(a: Tensor, b: Tensor): Tensor {
    return this.push('sub', [a, b], {});
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.push('mul', [a, b], {});
  }

  /** Elementwise (a - b)^2 with broadcasting. */
  squaredError(a: Tensor, b: Tensor): Tensor {
    return this.push('squaredError', [a, b], {});
  }

  /** a times a constant factor. */
  scale(a: Tensor, factor: number): Tensor {
    if (!Number.isFinite(factor)) throw new ShapeError(`scale: factor ${factor} is not a finite number`);
    return this.push('scale', [a], { factor });
  }

  /** max(a, 0), elementwise. */
  relu(a: Tensor): Tensor {
    return this.push('relu', [a], {});
  }

  /** The hyperbolic tangent, elementwise. */
  tanh(a: Tensor): Tensor {
    return this.push('tanh', [a], {});
  }

  /** The logistic function 1 / (1 + e^-a), elementwise. */
  sigmoid(a: Tensor): Tensor {
    return this.push('sigmoid', [a], {});
  }

  /** 1 where a > 0, 0 elsewhere (relu's derivative; its own gradient is zero). */
  step(a: Tensor): Tensor {
    return this.push('step', [a], {});
  }

  /** Sum over one axis, or over every element when `axis` is omitted. */
  sum(a: Tensor, axis: number | null = null): Tensor {
    return this.push('sum', [a], { axis });
  }

  /** Mean over one axis, or over every element when `axis` is omitted. */
  mean(a: Tensor, axis: number | null = null): Tensor {
    return this.push('mean', [a], { axis });
  }

  /**
   * Adds a node of any op, checked like the named builders; for code that transforms graphs (the
   * CPU backend replays a forward graph at a batch's row count). Leaves go through input/param.
   */
  apply<K extends Exclude<OpKind, 'input' | 'param'>>(op: K, inputs: Tensor[], attrs: OpAttrs[K], requested?: Shape): Tensor {
    if (requested) checkShape(requested, op);
    return this.push(op, inputs, attrs, requested);
  }

  /** Looks up an input or parameter by name. */
  byName(name: string): Tensor | undefined {
    const id = this.names.get(name);
    return id === undefined ? undefined : new Tensor(this, id);
  }

  /** Input and parameter nodes, in the order they were declared. */
  leaves(op: 'input' | 'param'): Node<'input' | 'param'>[] {
    return this.nodes.filter((n): n is Node<'input' | 'param'> => n.op === op);
  }

  /** One node per line: `%3:f32[5,2] = add %2, %1`, backward nodes marked. */
  toString(filter: (n: Node) => boolean = () => true): string {
    return this.nodes.filter(filter).map(formatNode).join('\n');
  }

  private leaf(op: 'input' | 'param', name: string, shape: Shape, init?: Init): Tensor {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new ShapeError(`${op} "${name}": names must start with a letter or _ and hold only letters, digits and _`);
    }
    if (this.names.has(name)) throw new ShapeError(`${op} "${name}": the graph already has an input or parameter of that name`);
    checkShape(shape, `${op} "${name}"`);
    const t = this.push(op, [], init ? { name, init } : { name }, shape);
    this.names.set(name, t.id);
    return t;
  }

  private push<K extends OpKind>(op: K, inputs: Tensor[], attrs: OpAttrs[K], requested?: Shape): Tensor {
    for (const t of inputs) {
      if (!(t instanceof Tensor) || t.graph !== this) {
        throw new ShapeError(`${op}: an operand is not a tensor of this graph`);
      }
    }
    const shape = OPS[op].shape(attrs, inputs.map((t) => t.shape), requested);
    const node: Node<K> = { id: this.nodes.length, op, inputs: inputs.map((t) => t.id), shape: [...shape], attrs, role: this.role };
    this.nodes.push(node as Node);
    return new Tensor(this, node.id);
  }
}

function formatAttrs(n: Node): string {
  const a = n.attrs as Record<string, unknown>;
  const parts: string[] = [];
  if (n.op === 'param' && a.init) return `"${a.name}" (init ${formatInit(a.init as Init, n.shape)})`;
  if (n.op === 'input' || n.op === 'param') return `"${a.name}"`;
  if (n.op === 'constant') return String(a.value);
  if (a.transA) parts.push('transA');
  if (a.transB) parts.push('transB');
  if ('factor' in a) parts.push(`×${a.factor}`);
  if ('axis' in a) parts.push(a.axis === null ? 'all' : `axis=${a.axis}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** The op with its operands and attributes: `matmul %0, %14 (transA)`. */
export function formatOp(n: Node): string {
  const args = n.inputs.map((i) => `%${i}`).join(', ');
  const attrs = formatAttrs(n);
  return n.inputs.length ? `${n.op} ${args}${attrs}` : `${n.op} ${attrs}`;
}

export function formatNode(n: Node): string {
  const body = formatOp(n);
  const note = [n.role === 'backward' ? 'backward' : '', n.label ?? ''].filter(Boolean).join(': ');
  const line = `%${n.id}:f32${fmtShape(n.shape)} = ${body}`;
  return note ? `${line.padEnd(44)} ; ${note}` : line;
}
