import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CONTROL, HYPER, REPLICA_COUNTERS, RUNAWAY, controlLayout, diverging, referenceAfter } from '../wgsl/control.js';
import { CONTROL_WGSL as controlWgsl } from '../wgsl/kernels.js';

test('the control buffer layout the kernels get is the table TypeScript reads', () => {
  const wgsl = Object.fromEntries([...controlWgsl.matchAll(/const (C_\w+|HYPER): u32 = (\d+)u;/g)].map((m) => [m[1]!, Number(m[2])]));
  const ts: Record<string, number> = { HYPER, ...Object.fromEntries(Object.entries(CONTROL).map(([k, v]) => [`C_${k}`, v])) };
  assert.equal(wgsl, ts);
  assert.not.match(controlWgsl, /\{\{/, 'every hole filled');
  // The per-replicate blocks: WGSL's Counters fields in the table's order, each at the block controlLayout gives it.
  const fields = /struct Counters \{([^}]*)\}/.exec(controlWgsl)![1]!.match(/^\s*(\w+): u32/gm)!.map((f) => f.trim().split(':')[0]);
  assert.equal(fields, [...REPLICA_COUNTERS]);
  const blocks = /let B = REPLICATES;\n\s+return Counters\(([^)]*)\);/.exec(controlWgsl)![1]!.split(', ');
  const layout = controlLayout(5, 3);
  blocks.forEach((expr, k) => {
    const offset = Function('at', 'B', `return ${expr.replace(/(\d+)u/g, '$1')};`)(layout.replicaAt, 3) as number;
    assert.is(offset, layout.counter(REPLICA_COUNTERS[k]!), `${REPLICA_COUNTERS[k]}: ${expr}`);
  });
  assert.is(layout.words, HYPER + 5 * 3 + REPLICA_COUNTERS.length * 3);
  assert.is(controlLayout(5, 1).counter('diverged'), CONTROL.DIVERGED, 'one model keeps its counters in the header');
});

test('the divergence rule is the same in WGSL and TypeScript, and what it flags', () => {
  assert.is(Number(/const RUNAWAY: f32 = ([\d.e+]+);/.exec(controlWgsl)![1]), RUNAWAY);
  assert.match(controlWgsl, /fn diverging\(loss: f32, reference: f32\) -> bool \{\n\s+return !finite\(loss\) \|\| \(reference > 0\.0 && loss > RUNAWAY \* reference\);/);
  assert.ok(diverging(Infinity, 1) && diverging(NaN, 0) && diverging(-Infinity, 0));
  assert.ok(diverging(44 * RUNAWAY * 1.01, 44), 'a million-fold growth');
  assert.not.ok(diverging(44 * RUNAWAY, 44));
  assert.not.ok(diverging(1e30, 0), 'no reference yet: only non-finite losses');
  assert.is(referenceAfter(44, 0), 44);
  assert.is(referenceAfter(3, 44), 44, 'kept once set');
  assert.is(referenceAfter(0, 0), 0, 'a loss of exactly 0 leaves it unset');
  assert.is(referenceAfter(NaN, 0), 0);
  // Unset with a floor (the word holds minus it): the larger of the floor and the first loss.
  assert.is(referenceAfter(6e-14, -2e-5), 2e-5, 'a start at rounding noise takes the floor');
  assert.is(referenceAfter(44, -2e-5), 44);
  assert.is(referenceAfter(NaN, -2e-5), -2e-5, 'still unset after a loss that is not finite');
  assert.match(controlWgsl, /fn reference_after\(loss: f32, reference: f32\) -> f32 \{\n\s+return select\(reference, max\(loss, -reference\), reference <= 0\.0 && finite\(loss\)\);/);
});

test.run();
