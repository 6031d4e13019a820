/**
 * @file Gradient rules, one per op, in a table typed so that a new op without a rule fails `tsc`.
 * A rule builds graph nodes and runs nothing. Rules for broadcasting ops return gradients in the
 * output's shape; backward() sums them back to each operand's shape in one place.
 */
import type { Graph, Node, Tensor } from '../engine/graph.js';
import type { OpKind } from '../engine/ops.js';
import { reductionLayout } from '../engine/ops.js';

export interface GradContext<K extends OpKind> {
  g: Graph;
  node: Node<K>;
  /** The node's operands. */
  inputs: Tensor[];
  /** d loss / d output, shaped like the output. */
  grad: Tensor;
  /** The node's own value (tanh and sigmoid write their derivatives with it). */
  out: Tensor;
}

/**
 * For each input, a function that builds d loss / d input (null where an input gets no gradient).
 * Functions, so that backward builds only the gradients it needs: none for the data inputs.
 */
export type GradRule<K extends OpKind> = (ctx: GradContext<K>) => ((() => Tensor) | null)[];

const none = () => [];

/** Builds `make()` once, on first use, for a subexpression two inputs' gradients share. */
function once(make: () => Tensor): () => Tensor {
  let t: Tensor | undefined;
  return () => (t ??= make());
}

/** Gradient of a reduction: spread g back over the reduced axis (or all of it). */
function spread(g: Graph, grad: Tensor, a: Tensor, axis: number | null): Tensor {
  if (axis === null || a.shape.length === 1) return g.broadcastTo(grad, a.shape);
  const kept = a.shape.map((d, i) => (i === axis ? 1 : d));
  return g.broadcastTo(g.reshape(grad, kept), a.shape);
}

export const GRADS: { [K in OpKind]: GradRule<K> } = {
  input: none,
  param: none,
  constant: none,
  // C = op(A) op(B): d op(A) = G op(B)ᵀ and d op(B) = op(A)ᵀ G, transposed back where op transposed.
  matmul: ({ g, node: { attrs: { transA, transB } }, inputs: [a, b], grad }) => [
    () => (transA ? g.matmul(b!, grad, { transA: transB, transB: true }) : g.matmul(grad, b!, { transB: !transB })),
    () => (transB ? g.matmul(grad, a!, { transA: true, transB: transA }) : g.matmul(a!, grad, { transA: !transA })),
  ],
  transpose: ({ g, grad }) => [() => g.transpose(grad)],
  reshape: ({ g, inputs: [a], grad }) => [() => g.reshape(grad, a!.shape)],
  broadcastTo: ({ grad }) => [() => grad],
  add: ({ grad }) => [() => grad, () => grad],
  sub: ({ g, grad }) => [() => grad, () => g.scale(grad, -1)],
  mul: ({ g, inputs: [a, b], grad }) => [() => g.mul(grad, b!), () => g.mul(grad, a!)],
  // d (a-b)^2 = 2 (a-b) da - 2 (a-b) db
  squaredError: ({ g, inputs: [a, b], grad }) => {
    const d = once(() => g.scale(g.mul(grad, g.sub(a!, b!)), 2));
    return [d, () => g.scale(d(), -1)];
  },
  scale: ({ g, node, grad }) => [() => g.scale(grad, node.attrs.factor)],
  relu: ({ g, inputs: [a], grad }) => [() => g.mul(grad, g.step(a!))],
  // d tanh = 1 - tanh², d sigmoid = sigmoid (1 - sigmoid): both from the output itself.
  tanh: ({ g, grad, out }) => [() => g.mul(grad, g.sub(g.constant(1), g.mul(out, out)))],
  sigmoid: ({ g, grad, out }) => [() => g.mul(grad, g.mul(out, g.sub(g.constant(1), out)))],
  // Zero almost everywhere (and undefined at 0): no gradient flows through a step.
  step: () => [null],
  sum: ({ g, node, inputs: [a], grad }) => [() => spread(g, grad, a!, node.attrs.axis)],
  mean: ({ g, node, inputs: [a], grad }) => [
    () => {
      const { count } = reductionLayout(a!.shape, node.attrs.axis);
      return spread(g, g.scale(grad, 1 / count), a!, node.attrs.axis);
    },
  ],
};
