/**
 * @file From autograd to GPU kernels, in numbered steps: build the graph, print it, derive the
 * backward graph, print it, compile it into kernels, see which WGSL lines compute which node, run
 * one step, read the loss.
 *
 * Run: npm run build && node dist/examples/walkthrough.js
 */
import { Graph, backward, compile, requestBackend, sgd } from '../index.js';
import { APPLES } from './apples.js';

const say = (title: string, body = '') => console.log(`\n${title}\n${'-'.repeat(title.length)}${body ? `\n${body}` : ''}`);

// 1. Build the forward graph. Every node's shape is checked as it is added.
const g = new Graph();
const X = g.input('X', [5, 3]);
const Y = g.input('Y', [5, 2]);
const W = g.param('W', [2, 3]);
const b = g.param('b', [2]);
const pred = g.add(g.matmul(X, g.transpose(W)), b);
const loss = g.mean(g.squaredError(pred, Y));

// 2. Print it: one node per line, %id:type[shape] = op operands.
say('1. The forward graph', g.toString());

// 3. Reverse mode: autograd walks back from the loss and adds a node for every local derivative.
//    Nothing runs yet; the gradients are just more graph.
const [dW, db] = backward(g, loss, [W, b]);
say('2. The backward graph autograd added', g.toString((n) => n.role === 'backward'));
console.log(`\ndW is ${dW}, db is ${db}: the last nodes above.`);

// 4. Compile. compile() reuses the backward nodes and schedules every node by the row axis: nodes
//    with a value per row run per row in one row pass, sums over the rows end it, the rest (the
//    loss, the gradients, the SGD update) runs in a finishing step. For 5 rows the whole run fits
//    one dispatch.
const backend = await requestBackend();
const tiny = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend });
say(`3. The kernel plan on ${backend.kind} (${backend.description})`, tiny.plan());
const fused = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend, plan: 'fused' });
say('   The same graph as the general fused plan (what large data sets get)', fused.plan());
const perNode = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend, plan: 'per-node' });
say('   And without fusion: one kernel per node, as most frameworks run it', perNode.plan());

// 5. The WGSL of every pipeline of the fused plan, generated from the graph: every line that
//    computes a value names its node, forward and backward alike. Here the lines of one node, the
//    gradient of W before its transpose (autograd's rule for the matmul), then everything.
const explained = fused.explain();
const wgsl = explained.slice(explained.indexOf('--- dispatch'));
const dWsum = g.nodes[dW!.node.inputs[0]!]!;
const lines = wgsl.split('\n').filter((l) => l.includes(`// %${dWsum.id} = `));
say('4. The WGSL', `the lines that compute %${dWsum.id} (${dWsum.op}, the sum over rows behind dW = ${dW}):\n${lines.join('\n')}\n\n${wgsl}`);

// 6. Run one step and read the loss: one submission, one read.
for (const m of [tiny, fused, perNode]) m.write({ X: APPLES.X, Y: APPLES.Y, W: [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], b: [0, 0] });
const step = await fused.train({ epochs: 1 });
// float32 sums in each plan's order agree to about 7 digits.
const loss7 = (v: number) => v.toPrecision(7);
say('5. One training step', `loss before the update: ${loss7(step.loss[0]!)}\nW after: ${Array.from(await fused.read('W'), (v) => v.toFixed(6)).join(', ')}`);
const [a, c] = [await tiny.train({ epochs: 1 }), await perNode.train({ epochs: 1 })];
console.log(`the same step on the tiny plan: ${loss7(a.loss[0]!)}, on the per-node plan: ${loss7(c.loss[0]!)}`);
console.log(`work so far: fused ${JSON.stringify(fused.stats)}, per-node ${JSON.stringify(perNode.stats)}`);
for (const m of [tiny, fused, perNode]) m.dispose();
backend.dispose();
