/** @file Reverse mode: walks the graph from the loss back to the parameters, adding gradient nodes. */
import { type Graph, type Node, Tensor } from '../engine/graph.js';
import type { OpKind } from '../engine/ops.js';
import { ShapeError, fmtShape, sizeOf } from '../engine/shape.js';
import { sumToShape } from './broadcast.js';
import { GRADS, type GradRule } from './rules.js';

/** Gradients already built, per graph and (loss, wrt) key, so asking twice adds nothing. */
const built = new WeakMap<Graph, Map<string, Tensor[]>>();

/**
 * Adds to `g` the nodes computing d loss / d t for every t in `wrt`, and returns those gradient
 * tensors in the same order. Executes nothing: the result is more graph. Asking again for the
 * same loss and tensors returns the same nodes (compile() asks too).
 *
 * @example
 * const [dW, db] = backward(g, loss, [W, b]);
 * console.log(g.toString((n) => n.role === 'backward'));
 */
export function backward(g: Graph, loss: Tensor, wrt: Tensor[]): Tensor[] {
  const key = `${loss.id}:${wrt.map((t) => t.id).join(',')}`;
  const cache = built.get(g) ?? new Map<string, Tensor[]>();
  built.set(g, cache);
  const hit = cache.get(key);
  if (hit) return hit;
  const grads = buildBackward(g, loss, wrt);
  cache.set(key, grads);
  return grads;
}

function buildBackward(g: Graph, loss: Tensor, wrt: Tensor[]): Tensor[] {
  if (sizeOf(loss.shape) !== 1) {
    throw new ShapeError(`backward: the loss must be a single number, got shape ${fmtShape(loss.shape)} (take its mean or sum first)`);
  }
  const wanted = new Set(wrt.map((t) => t.id));
  // Nodes that depend on some wanted tensor: only their gradients are needed.
  const needs = new Array<boolean>(g.nodes.length).fill(false);
  for (const n of g.nodes) needs[n.id] = wanted.has(n.id) || n.inputs.some((i) => needs[i]);
  for (const t of wrt) {
    if (!reaches(g, loss.id, t.id)) {
      throw new ShapeError(`backward: the loss %${loss.id} does not depend on %${t.id} ${t.node.op === 'param' || t.node.op === 'input' ? `"${(t.node.attrs as { name: string }).name}"` : ''}`.trim());
    }
  }

  const saved = g.role;
  g.role = 'backward';
  try {
    const grads = new Map<number, Tensor>();
    // Nodes added from `from` on came from `origin`'s rule (generated kernels name it).
    const stamp = (from: number, origin: number) => g.nodes.slice(from).forEach((n) => (n.origin ??= origin));
    grads.set(loss.id, g.constant(1, loss.shape));
    stamp(g.nodes.length - 1, loss.id);
    for (let id = loss.id; id >= 0; id--) {
      const grad = grads.get(id);
      const node = g.nodes[id]!;
      if (!grad || node.inputs.length === 0) continue;
      const rule = GRADS[node.op] as GradRule<OpKind>;
      const inputs = node.inputs.map((i) => new Tensor(g, i));
      const local = rule({ g, node: node as Node<OpKind>, inputs, grad, out: new Tensor(g, id) });
      const from = g.nodes.length;
      local.forEach((build, k) => {
        const input = inputs[k]!;
        if (!build || !needs[input.id]) return;
        const shaped = sumToShape(g, build(), input.shape);
        const prev = grads.get(input.id);
        grads.set(input.id, prev ? g.add(prev, shaped) : shaped);
      });
      stamp(from, id);
    }
    return wrt.map((t) => {
      // Every path from the loss to t passes through an op with no gradient (a step): zero.
      const d = grads.get(t.id) ?? g.constant(0, t.shape);
      const name = t.node.op === 'param' || t.node.op === 'input' ? (t.node.attrs as { name: string }).name : `%${t.id}`;
      d.node.label = `d${name}`;
      return d;
    });
  } finally {
    g.role = saved;
  }
}

function reaches(g: Graph, from: number, to: number): boolean {
  const seen = new Set<number>([from]);
  const stack = [from];
  while (stack.length) {
    const id = stack.pop()!;
    if (id === to) return true;
    for (const i of g.nodes[id]!.inputs) if (!seen.has(i)) seen.add(i), stack.push(i);
  }
  return false;
}
