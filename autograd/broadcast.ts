/** @file The one place where a broadcast operand's gradient is summed back to its own shape. */
import type { Graph, Tensor } from '../engine/graph.js';
import { type Shape, sameShape } from '../engine/shape.js';

/**
 * Sums `grad` (shaped like a broadcast result) over the axes along which an operand of shape
 * `shape` was broadcast, then reshapes to `shape`. `[n,k]` to `[k]` sums axis 0; to `[n,1]` sums
 * axis 1; to `[]` sums everything.
 */
export function sumToShape(g: Graph, grad: Tensor, shape: Shape): Tensor {
  const from = grad.shape;
  if (sameShape(from, shape)) return grad;
  // Leading axes the operand lacks, and axes where it has size 1 but the gradient does not.
  const lead = from.length - shape.length;
  const axes = [...from.keys()].filter((i) => i < lead || (shape[i - lead] === 1 && from[i] !== 1));
  let out = grad;
  if (axes.length === from.length) {
    out = g.sum(out);
  } else {
    for (const axis of axes.sort((a, b) => b - a)) out = g.sum(out, axis);
  }
  return sameShape(out.shape, shape) ? out : g.reshape(out, shape);
}
