/**
 * @file The op table: for every op, its shape rule, its CPU reference and its lowering (an
 * elementwise expression in WGSL and in JavaScript, an index mapping, a reduction or a
 * contraction), which the compiler turns into WGSL kernels and into the CPU's generated
 * JavaScript. One entry per op, typed so that adding an op without all of them fails `tsc`.
 * (Gradient rules live in autograd/rules.ts, in a table of the same shape.)
 */
import { type Shape, ShapeError, broadcastShapes, broadcastStrides, fmtShape, sameShape, sizeOf, asMatrix } from './shape.js';
import { type Index, add, div, mod, mul } from './indices.js';
import type { Init } from './init.js';

/** The attributes each op carries besides its inputs. */
export interface OpAttrs {
  input: { name: string };
  /** `init`: how compile() starts its values (engine/init.ts); without one they start at zero until written. */
  param: { name: string; init?: Init };
  constant: { value: number };
  matmul: { transA: boolean; transB: boolean };
  transpose: Record<string, never>;
  reshape: Record<string, never>;
  broadcastTo: Record<string, never>;
  add: Record<string, never>;
  sub: Record<string, never>;
  mul: Record<string, never>;
  squaredError: Record<string, never>;
  scale: { factor: number };
  relu: Record<string, never>;
  tanh: Record<string, never>;
  sigmoid: Record<string, never>;
  step: Record<string, never>;
  sum: { axis: number | null };
  mean: { axis: number | null };
}

export type OpKind = keyof OpAttrs;

/**
 * A position in a node's matrix view (shape.ts's asMatrix: a vector is one row, a scalar [1, 1]).
 * In code that runs once per data row, the coordinate along a node's row axis is ROW: "this row".
 * Generated code may ask at a symbolic position (engine/indices.ts: a loop variable, an
 * expression of one); a literal position maps to a literal.
 */
export type Coord = readonly [Index, Index];
export const ROW = -1;

/** An op's attributes as generated code sees them: every number already written as an expression (a literal, or a choice by the batch). */
export type Rendered<A> = { [P in keyof A]: A[P] extends number ? string : A[P] };

/**
 * How an op becomes code, the same for every kernel that runs it (one node per kernel, or fused):
 * - `leaf`: a value written from outside (a constant's is `fill`);
 * - `map`, `zip`: one element from the operands' elements at the same position (broadcast), as a
 *   WGSL expression and as a JavaScript one (the compiled CPU plan's);
 * - `view`: the element at another position of the operand (`source`); `alias` when the values
 *   keep their order in memory, so a stored operand serves as the output unchanged;
 * - `reduce`: a sum over one axis (null: all), divided by the count for a mean;
 * - `contract`: a matrix product of the operands as they stand after `trans`.
 */
export type Lowering<K extends OpKind> =
  | { kind: 'leaf'; fill?: (attrs: OpAttrs[K]) => number }
  | { kind: 'map'; wgsl: (x: string, attrs: Rendered<OpAttrs[K]>) => string; js: (x: string, attrs: Rendered<OpAttrs[K]>) => string }
  | { kind: 'zip'; wgsl: (a: string, b: string) => string; js: (a: string, b: string) => string }
  | { kind: 'view'; alias: boolean; source: (attrs: OpAttrs[K], input: Shape, output: Shape, at: Coord) => Coord }
  | { kind: 'reduce'; axis: (attrs: OpAttrs[K]) => number | null; mean: boolean }
  | { kind: 'contract'; trans: (attrs: OpAttrs[K]) => readonly [boolean, boolean] };

/** Float arrays a backend computes in: float64 for the reference, float32 to match the GPU. */
export type FloatArray = Float64Array | Float32Array;

export interface Operand {
  readonly data: FloatArray;
  readonly shape: Shape;
}

export interface OpDef<K extends OpKind> {
  /** Number of tensor inputs. */
  arity: number;
  /** Output shape from input shapes; throws ShapeError naming the op and the rule. `shape` is the requested shape for ops that take one. */
  shape(attrs: OpAttrs[K], inputs: Shape[], requested: Shape | undefined): Shape;
  /** Reference evaluation into `out` (length = size of the output shape), arithmetic in float64. */
  cpu(attrs: OpAttrs[K], inputs: Operand[], out: FloatArray, outShape: Shape): void;
  lower: Lowering<K>;
}

/** Elementwise combination of two broadcast operands, for add, sub, mul, squaredError. */
function zip(f: (a: number, b: number) => number) {
  return (_: unknown, [a, b]: Operand[], out: FloatArray, outShape: Shape) => {
    const sa = broadcastStrides(a!.shape, outShape);
    const sb = broadcastStrides(b!.shape, outShape);
    for (let r = 0; r < sa.rows; r++) {
      for (let c = 0; c < sa.cols; c++) {
        out[r * sa.cols + c] = f(a!.data[r * sa.rowStride + c * sa.colStride]!, b!.data[r * sb.rowStride + c * sb.colStride]!);
      }
    }
  };
}

/** Arithmetic reads the same in WGSL and JavaScript: one expression serves both. */
const zipDef = <K extends 'add' | 'sub' | 'mul' | 'squaredError'>(name: K, f: (a: number, b: number) => number, expr: (a: string, b: string) => string): OpDef<K> => ({
  arity: 2,
  shape: (_, [a, b]) => broadcastShapes(name, a!, b!),
  cpu: zip(f),
  lower: { kind: 'zip', wgsl: expr, js: expr },
});

/** An elementwise function of one operand: its float64 reference, its WGSL and its JavaScript expression. */
const mapDef = <K extends 'relu' | 'tanh' | 'sigmoid' | 'step'>(f: (x: number) => number, wgsl: (x: string) => string, js: (x: string) => string): OpDef<K> => ({
  arity: 1,
  shape: (_, [a]) => a!,
  cpu: (_, [a], out) => {
    for (let i = 0; i < out.length; i++) out[i] = f(a!.data[i]!);
  },
  lower: { kind: 'map', wgsl: (x) => wgsl(x), js: (x) => js(x) },
});

/** Output shape of a reduction over `axis` (null: every element). */
function reducedShape(op: string, shape: Shape, axis: number | null): Shape {
  if (axis === null) return [];
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new ShapeError(`${op}: axis ${axis} is out of range for shape ${fmtShape(shape)} (rank ${shape.length})`);
  }
  return shape.filter((_, i) => i !== axis);
}

/**
 * A reduction seen as `outCount` sums of `count` elements each, where element r of output o sits
 * at o * outStride + r * stride. The CPU loop and the WGSL reduce kernel both use this view.
 */
export function reductionLayout(shape: Shape, axis: number | null) {
  if (axis === null) return { outCount: 1, count: sizeOf(shape), outStride: 0, stride: 1 };
  const [rows, cols] = asMatrix(shape);
  if (shape.length === 1) return { outCount: 1, count: cols, outStride: 0, stride: 1 };
  return axis === 0 ? { outCount: cols, count: rows, outStride: 1, stride: cols } : { outCount: rows, count: cols, outStride: cols, stride: 1 };
}

/** Where element `at` of a broadcast result reads an operand of shape `from` (0 along a broadcast axis). */
export function broadcastSource(from: Shape, to: Shape, [i, j]: Coord): Coord {
  const [fr, fc] = asMatrix(from);
  const [tr, tc] = asMatrix(to);
  return [fr === 1 && tr !== 1 ? 0 : i, fc === 1 && tc !== 1 ? 0 : j];
}

function reduceCpu(divide: boolean) {
  return ({ axis }: { axis: number | null }, [a]: Operand[], out: FloatArray) => {
    const { outCount, count, outStride, stride } = reductionLayout(a!.shape, axis);
    for (let o = 0; o < outCount; o++) {
      let s = 0;
      for (let r = 0; r < count; r++) s += a!.data[o * outStride + r * stride]!;
      out[o] = divide ? s / count : s;
    }
  };
}

const leaf = <K extends 'input' | 'param'>(): OpDef<K> => ({
  arity: 0,
  shape: (_, __, requested) => requested!,
  cpu: () => {
    throw new Error('leaf nodes are written, not computed');
  },
  lower: { kind: 'leaf' },
});

export const OPS: { [K in OpKind]: OpDef<K> } = {
  input: leaf<'input'>(),
  param: leaf<'param'>(),
  constant: {
    arity: 0,
    shape: (_, __, requested) => requested!,
    cpu: ({ value }, _, out) => out.fill(value),
    lower: { kind: 'leaf', fill: ({ value }) => value },
  },
  matmul: {
    arity: 2,
    shape: ({ transA, transB }, [a, b]) => {
      if (a!.length !== 2 || b!.length !== 2) {
        throw new ShapeError(`matmul: operands must be matrices, got ${fmtShape(a!)} and ${fmtShape(b!)}`);
      }
      const [m, ka] = transA ? [a![1]!, a![0]!] : [a![0]!, a![1]!];
      const [kb, n] = transB ? [b![1]!, b![0]!] : [b![0]!, b![1]!];
      if (ka !== kb) {
        const ta = transA ? 'ᵀ' : '';
        const tb = transB ? 'ᵀ' : '';
        throw new ShapeError(
          `matmul: inner dimensions differ: A${ta} is [${m},${ka}] (A is ${fmtShape(a!)}), B${tb} is [${kb},${n}] (B is ${fmtShape(b!)}); ` +
            `columns of the left operand must equal rows of the right`,
        );
      }
      return [m, n];
    },
    cpu: ({ transA, transB }, [a, b], out, [m, n]) => {
      const k = transA ? a!.shape[0]! : a!.shape[1]!;
      const [aI, aK] = transA ? [1, m!] : [k, 1];
      const [bK, bJ] = transB ? [1, k] : [n!, 1];
      for (let i = 0; i < m!; i++) {
        for (let j = 0; j < n!; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a!.data[i * aI + p * aK]! * b!.data[p * bK + j * bJ]!;
          out[i * n! + j] = s;
        }
      }
    },
    lower: { kind: 'contract', trans: ({ transA, transB }) => [transA, transB] },
  },
  transpose: {
    arity: 1,
    shape: (_, [a]) => {
      if (a!.length !== 2) throw new ShapeError(`transpose: operand must be a matrix, got ${fmtShape(a!)}`);
      return [a![1]!, a![0]!];
    },
    cpu: (_, [a], out) => {
      const [r, c] = a!.shape as [number, number];
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a!.data[i * c + j]!;
    },
    lower: { kind: 'view', alias: false, source: (_, __, ___, [i, j]) => [j, i] },
  },
  reshape: {
    arity: 1,
    shape: (_, [a], requested) => {
      if (sizeOf(a!) !== sizeOf(requested!)) {
        throw new ShapeError(`reshape: cannot reshape ${fmtShape(a!)} (${sizeOf(a!)} elements) to ${fmtShape(requested!)} (${sizeOf(requested!)} elements)`);
      }
      return requested!;
    },
    cpu: (_, [a], out) => out.set(a!.data),
    // Row-major order is kept: element (i, j) of the output is element i * cols + j of the input.
    lower: {
      kind: 'view',
      alias: true,
      source: (_, input, output, [i, j]) => {
        // Per row, a reshape that keeps the rows leading keeps each row's values as they are.
        if (i === ROW || j === ROW) return input.length === 1 ? [0, ROW] : [ROW, i === ROW ? j : i];
        const flat = add(mul(i, asMatrix(output)[1]), j);
        const cols = asMatrix(input)[1];
        return [div(flat, cols), mod(flat, cols)];
      },
    },
  },
  broadcastTo: {
    arity: 1,
    shape: (_, [a], requested) => {
      const out = broadcastShapes('broadcastTo', a!, requested!);
      if (!sameShape(out, requested!)) {
        throw new ShapeError(`broadcastTo: ${fmtShape(a!)} broadcasts to ${fmtShape(out)}, not to the requested ${fmtShape(requested!)}`);
      }
      return out;
    },
    cpu: (_, [a], out, outShape) => {
      const s = broadcastStrides(a!.shape, outShape);
      for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.cols; c++) out[r * s.cols + c] = a!.data[r * s.rowStride + c * s.colStride]!;
    },
    lower: { kind: 'view', alias: false, source: (_, input, output, at) => broadcastSource(input, output, at) },
  },
  add: zipDef('add', (a, b) => a + b, (a, b) => `${a} + ${b}`),
  sub: zipDef('sub', (a, b) => a - b, (a, b) => `${a} - ${b}`),
  mul: zipDef('mul', (a, b) => a * b, (a, b) => `${a} * ${b}`),
  squaredError: zipDef('squaredError', (a, b) => (a - b) * (a - b), (a, b) => `(${a} - ${b}) * (${a} - ${b})`),
  scale: {
    arity: 1,
    shape: (_, [a]) => a!,
    cpu: ({ factor }, [a], out) => {
      for (let i = 0; i < out.length; i++) out[i] = a!.data[i]! * factor;
    },
    lower: { kind: 'map', wgsl: (x, { factor }) => `${x} * ${factor}`, js: (x, { factor }) => `${x} * ${factor}` },
  },
  relu: mapDef(
    (x) => (x > 0 ? x : 0),
    (x) => `max(${x}, 0.0)`,
    (x) => `(${x} > 0 ? ${x} : 0)`,
  ),
  // tanh(x) is 1 in float32 from |x| > 9.01; the clamp keeps an implementation that computes it
  // from exp(2x) from reaching inf / inf (NaN) for large |x|, and changes no float32 result.
  tanh: mapDef(
    Math.tanh,
    (x) => `tanh(clamp(${x}, -15.0, 15.0))`,
    (x) => `Math.tanh(${x})`,
  ),
  // exp(-x) overflows to inf for x < -88, and 1 / (1 + inf) is the right limit, 0.
  sigmoid: mapDef(
    (x) => 1 / (1 + Math.exp(-x)),
    (x) => `1.0 / (1.0 + exp(-(${x})))`,
    (x) => `1 / (1 + Math.exp(-(${x})))`,
  ),
  /** The Heaviside step, 1 where x > 0 and 0 elsewhere: relu's derivative. */
  step: mapDef(
    (x) => (x > 0 ? 1 : 0),
    (x) => `select(0.0, 1.0, ${x} > 0.0)`,
    (x) => `(${x} > 0 ? 1 : 0)`,
  ),
  sum: {
    arity: 1,
    shape: ({ axis }, [a]) => reducedShape('sum', a!, axis),
    cpu: reduceCpu(false),
    lower: { kind: 'reduce', axis: ({ axis }) => axis, mean: false },
  },
  mean: {
    arity: 1,
    shape: ({ axis }, [a]) => reducedShape('mean', a!, axis),
    cpu: reduceCpu(true),
    lower: { kind: 'reduce', axis: ({ axis }) => axis, mean: true },
  },
};
