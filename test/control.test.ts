import { test } from 'uvu';
import * as assert from 'uvu/assert';
import controlWgsl from '../wgsl/control.wgsl';
import { CONTROL, HYPER } from '../runtime/control.js';

test('the control buffer layout is the same in WGSL and TypeScript', () => {
  const wgsl = Object.fromEntries([...controlWgsl.matchAll(/const (C_\w+|HYPER): u32 = (\d+)u;/g)].map((m) => [m[1]!, Number(m[2])]));
  const ts: Record<string, number> = { HYPER, ...Object.fromEntries(Object.entries(CONTROL).map(([k, v]) => [`C_${k}`, v])) };
  assert.equal(wgsl, ts);
});

test.run();
