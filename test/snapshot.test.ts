import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Graph, type Tensor } from '../engine/graph.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import { compile } from '../runtime/model.js';
import type { PlanOptions } from '../runtime/program.js';
import { webgpu } from './helpers.js';

// The printed plan and WGSL of the regression graph and of a network with a tanh hidden layer are
// pinned here, so a change in planning or codegen shows in review (every generated line names its node). After an intended change: UPDATE_SNAPSHOTS=1 npm test, and commit.
// The layout is fixed (not the adapter's) so the snapshot is the same on every machine.
const LAYOUT = { rows: 'contiguous', maxWorkgroupBytes: 16384, maxStorageBuffers: 8, maxBindingBytes: 1 << 27, maxGroupsPerDim: 65535, tinyWorkgroup: 64, rowLoads: 'vec4', serialMaxRows: 0, contiguousGroups: 32 } as const;

/** The linear model on 3 features and 2 targets, or with `hidden` tanh units between. */
const cases: [string, number, PlanOptions['plan'], 'sgd' | 'adam', number][] = [
  ['apples-tiny-sgd', 5, 'auto', 'sgd', 0],
  ['apples-fused-adam', 5, 'fused', 'adam', 0],
  ['rows1000-per-node-sgd', 1000, 'per-node', 'sgd', 0],
  ['hidden-tanh-tiny-adam', 5, 'tiny', 'adam', 4],
  ['hidden-tanh-fused-sgd', 5, 'fused', 'sgd', 4],
];

for (const [name, n, plan, opt, hidden] of cases) {
  test(`explain output of ${name} matches test/snapshots/${name}.txt`, async () => {
    const g = new Graph();
    const X = g.input('X', [n, 3]);
    const Y = g.input('Y', [n, 2]);
    const layer = (input: Tensor, units: number, suffix: string) => g.add(g.matmul(input, g.transpose(g.param(`W${suffix}`, [units, input.shape[1]!]))), g.param(`b${suffix}`, [units]));
    const pred = hidden ? layer(g.tanh(layer(X, hidden, '1')), 2, '2') : layer(X, 2, '');
    const loss = g.mean(g.squaredError(pred, Y));
    const optimizer = opt === 'sgd' ? sgd({ lr: 1e-5 }) : adam({ lr: 0.1 });
    const model = await compile(g, { loss, optimizer, backend: await webgpu(), plan, layout: LAYOUT });
    const text = model.explain().replace(/^== kernel plan on .* ==$/m, '== kernel plan ==');
    model.dispose();
    const file = `test/snapshots/${name}.txt`;
    if (process.env.UPDATE_SNAPSHOTS) writeFileSync(file, `${text}\n`);
    assert.ok(existsSync(file), `${file} is missing: run UPDATE_SNAPSHOTS=1 npm test`);
    assert.fixture(text, readFileSync(file, 'utf8').replace(/\n$/, ''));
  });
}

test.run();
