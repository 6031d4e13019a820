/**
 * @file From autograd to GPU kernels, in numbered steps: build the graph, print it, derive the
 * backward graph, print it, plan and fuse, print the WGSL, run one step, read the loss.
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

// 4. Plan and fuse. compile() reuses the backward nodes, matches the regression pattern and plans
//    forward + backward + SGD update into kernels. For 5 rows the whole run fits one workgroup.
const backend = await requestBackend();
const tiny = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend });
say(`3. The kernel plan on ${backend.kind} (${backend.description})`, tiny.plan());
const fused = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend, plan: 'fused' });
say('   The same graph as the general fused plan (what large data sets get)', fused.plan());
const perNode = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend, plan: 'per-node' });
say('   And without fusion: one kernel per node, as most frameworks run it', perNode.plan());

// 5. The WGSL of every pipeline of the fused plan, with the nodes each one computes.
say('4. The WGSL', fused.explain().split('\n\n').slice(1).join('\n\n'));

// 6. Run one step and read the loss: one submission, one read.
for (const m of [tiny, fused, perNode]) m.write({ X: APPLES.X, Y: APPLES.Y, W: [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], b: [0, 0] });
const step = await fused.train({ epochs: 1 });
say('5. One training step', `loss before the update: ${step.loss[0]}\nW after: ${Array.from(await fused.read('W'), (v) => v.toFixed(6)).join(', ')}`);
const [a, c] = [await tiny.train({ epochs: 1 }), await perNode.train({ epochs: 1 })];
console.log(`the same step on the tiny plan: ${a.loss[0]}, on the per-node plan: ${c.loss[0]}`);
console.log(`work so far: fused ${JSON.stringify(fused.stats)}, per-node ${JSON.stringify(perNode.stats)}`);
for (const m of [tiny, fused, perNode]) m.dispose();
backend.dispose();
