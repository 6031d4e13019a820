import { test } from 'uvu';
import * as assert from 'uvu/assert';
import controlWgsl from '../wgsl/control.wgsl';
import { CONTROL, HYPER, REPLICA_COUNTERS, RUNAWAY, diverging, referenceAfter } from '../wgsl/control.js';

test('the control buffer layout is the same in WGSL and TypeScript', () => {
  const wgsl = Object.fromEntries([...controlWgsl.matchAll(/const (C_\w+|HYPER): u32 = (\d+)u;/g)].map((m) => [m[1]!, Number(m[2])]));
  const ts: Record<string, number> = { HYPER, ...Object.fromEntries(Object.entries(CONTROL).map(([k, v]) => [`C_${k}`, v])) };
  assert.equal(wgsl, ts);
  // The per-replicate blocks: as many fields in WGSL's Counters as TypeScript names.
  const fields = /struct Counters \{([^}]*)\}/.exec(controlWgsl)![1]!.match(/^\s*\w+: u32/gm)!;
  assert.is(fields.length, REPLICA_COUNTERS.length);
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
