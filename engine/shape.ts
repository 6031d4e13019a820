/** @file Shapes: rank 0 to 2 tensors, numpy broadcasting, and the errors that name what broke. */

export type Shape = readonly number[];

/** fusegrad tensors are scalars, vectors or matrices: everything a linear model needs. */
export const MAX_RANK = 2;

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

export const fmtShape = (shape: Shape): string => `[${shape.join(',')}]`;

export const sameShape = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** A shape rule broken while a node was being added to a graph. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** Checks that a shape is usable; `what` names the thing being checked for the error message. */
export function checkShape(shape: Shape, what: string): void {
  if (shape.length > MAX_RANK) {
    throw new ShapeError(`${what}: shape ${fmtShape(shape)} has rank ${shape.length}, fusegrad allows at most ${MAX_RANK}`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) {
      throw new ShapeError(`${what}: shape ${fmtShape(shape)} has dimension ${d}; dimensions must be integers >= 1`);
    }
  }
}

/**
 * Numpy broadcasting: align from the right; each pair of dimensions must be equal or one of
 * them 1. Returns the result shape or throws naming the op, both shapes and the axis.
 */
export function broadcastShapes(op: string, a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${op}: cannot broadcast ${fmtShape(a)} with ${fmtShape(b)}: ` +
          `axis ${i} (aligned from the right) has sizes ${da} and ${db}; they must be equal or one of them 1`,
      );
    }
    out.push(Math.max(da, db));
  }
  return out;
}

/**
 * Row and column strides that read an operand of shape `from` as if broadcast to the rank-2
 * view [rows, cols] of `to`: a broadcast axis gets stride 0. Used by CPU loops and WGSL alike.
 */
export function broadcastStrides(from: Shape, to: Shape): { rows: number; cols: number; rowStride: number; colStride: number } {
  const [rows, cols] = asMatrix(to);
  const [fr, fc] = asMatrix(from);
  return { rows, cols, rowStride: fr === 1 ? 0 : fc, colStride: fc === 1 ? 0 : 1 };
}

/** Views a shape of rank <= 2 as [rows, cols] by padding with 1s on the left (numpy alignment). */
export function asMatrix(shape: Shape): [number, number] {
  return [shape.length === 2 ? shape[0]! : 1, shape.length >= 1 ? shape[shape.length - 1]! : 1];
}
