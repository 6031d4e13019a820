import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { OPS, type OpKind } from '../engine/ops.js';
import { backward } from '../autograd/backward.js';
import { CASES } from './cases.js';
import { assertClose, cpu64 } from './helpers.js';
import { buildCase } from './opgraph.js';

test('every op in the op table has a test case', () => {
  const covered = new Set<OpKind>(CASES.flatMap((c) => c.ops));
  const missing = (Object.keys(OPS) as OpKind[]).filter((k) => !covered.has(k));
  assert.equal(missing, [], `ops without a case: ${missing.join(', ')}`);
});

// Central differences in float64: truncation error ~h^2 = 1e-12 and rounding ~1e-16/h = 1e-10,
// both far below the 1e-7 allowed (relative to the gradient's scale).
const H = 1e-6;
for (const c of CASES) {
  test(`gradient of ${c.name} matches central finite differences (float64)`, async () => {
    const { model, loss, params, grads, data } = await buildCase(c, cpu64());
    const analytic = await model.evaluate(grads);
    for (const [i, p] of params.entries()) {
      const name = `p${i}`;
      const base = data[name]!;
      const numeric = new Float64Array(base.length);
      for (let k = 0; k < base.length; k++) {
        const probe = base.slice();
        probe[k] = base[k]! + H;
        model.write({ [name]: probe });
        const [up] = await model.evaluate([loss]);
        probe[k] = base[k]! - H;
        model.write({ [name]: probe });
        const [down] = await model.evaluate([loss]);
        numeric[k] = (up![0]! - down![0]!) / (2 * H);
      }
      model.write({ [name]: base });
      assertClose(analytic[i]!, numeric, 1e-7, `${c.name}: d loss / d ${name} (${p.shape})`);
    }
  });
}

test('backward adds nodes marked backward and executes nothing', () => {
  const g = new Graph();
  const X = g.input('X', [4, 2]);
  const W = g.param('W', [1, 2]);
  const loss = g.mean(g.squaredError(g.matmul(X, W, { transB: true }), g.input('Y', [4, 1])));
  const before = g.nodes.length;
  const [dW] = backward(g, loss, [W]);
  assert.ok(g.nodes.length > before);
  assert.ok(g.nodes.slice(before).every((n) => n.role === 'backward'));
  assert.equal([...dW!.shape], [1, 2]);
  assert.is(dW!.node.label, 'dW');
  assert.match(g.toString(), /; backward: dW/);
});

test('backward rejects a loss that is not a single number, and a parameter it does not use', () => {
  const g = new Graph();
  const W = g.param('W', [2, 2]);
  const V = g.param('V', [2]);
  assert.throws(() => backward(g, g.scale(W, 2), [W]), /loss must be a single number, got shape \[2,2\]/);
  assert.throws(() => backward(g, g.sum(W), [V]), /does not depend on %1 "V"/);
});

test.run();
