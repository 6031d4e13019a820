import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { sgd } from '../optim/sgd.js';
import { setDebug, setDebugSink } from '../runtime/debug.js';
import { compile } from '../runtime/model.js';
import { CpuBackend } from '../runtime/cpu.js';
import { APPLES } from '../examples/apples.js';
import { assertClose, webgpu } from './helpers.js';

async function trainAt(level: number, lines: string[]) {
  const prev = setDebugSink((l) => lines.push(l));
  setDebug(level);
  try {
    const g = new Graph();
    const X = g.input('X', [5, 3]);
    const Y = g.input('Y', [5, 2]);
    const W = g.param('W', [2, 3]);
    const b = g.param('b', [2]);
    const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
    const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend: await webgpu(), plan: 'fused' });
    model.write({ X: APPLES.X, Y: APPLES.Y });
    const run = await model.train({ epochs: 10 });
    model.dispose();
    return run.loss;
  } finally {
    setDebug(null);
    setDebugSink(prev);
  }
}

test('each FUSEGRAD_DEBUG level adds its output: 1 summary, 2 WGSL, 3 graphs, 4 GPU time per kernel', async () => {
  const out: string[][] = [];
  const losses = [];
  for (const level of [0, 1, 2, 3, 4]) {
    const lines: string[] = [];
    losses.push(await trainAt(level, lines));
    out.push(lines);
  }
  assert.equal(out[0], [], 'level 0 is silent');
  assert.match(out[1]!.join('\n'), /compiled the fused plan on .*: 2 dispatches per epoch/);
  assert.match(out[1]!.join('\n'), /trained 10 epochs in .* ms .*: 20 dispatches, 1 submit, 1 readback/);
  assert.not.match(out[1]!.join('\n'), /fn main/);
  assert.match(out[2]!.join('\n'), /--- dispatch 1: finish\.wgsl[\s\S]*fn main/);
  assert.not.match(out[2]!.join('\n'), /backward graph/);
  assert.match(out[3]!.join('\n'), /fusegrad: backward graph\n%9:f32\[\] = constant 1/);
  const timing = out[4]!.join('\n');
  assert.match(timing, /GPU time per kernel \(timestamp queries, first 20 dispatches/);
  assert.match(timing, /µs\s+x10\s+row_pass/);
  assert.match(timing, /µs\s+x10\s+finish/);
  // Timing changes how the run is encoded (a pass per dispatch), never the numbers.
  assertClose(losses[4]!, losses[0]!, 0, 'losses with and without timing');
});

test('on the CPU, level 1 names the compiled plan and its threads, level 2 prints the generated JavaScript', async () => {
  const lines: string[] = [];
  const prev = setDebugSink((l) => lines.push(l));
  try {
    for (const level of [1, 2]) {
      setDebug(level);
      const g = new Graph();
      const X = g.input('X', [5, 3]);
      const Y = g.input('Y', [5, 2]);
      const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.param('W', [2, 3]), { transB: true }), g.param('b', [2])), Y));
      const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend: new CpuBackend('f32') });
      model.write({ X: APPLES.X, Y: APPLES.Y });
      await model.train({ epochs: 10 });
    }
  } finally {
    setDebug(null);
    setDebugSink(prev);
  }
  const text = lines.join('\n');
  assert.match(text, /fusegrad: compiled the compiled plan on CPU float32: 1 row pass and a finishing step a batch, on one thread/);
  assert.match(text, /fusegrad: trained 10 epochs in .* ms .* on the compiled plan on CPU float32/);
  assert.match(text, /fusegrad: the generated JavaScript of the training step\n\/\/ One optimizer step/);
  assert.is(text.split('the generated JavaScript').length - 1, 1, 'only level 2 prints the source');
});

test.run();
