/** @file `fusegrad explain`: prints the graphs, the kernel plan and the WGSL for a regression problem. */
import { Graph } from '../engine/graph.js';
import { ACTIVATIONS, type Activation, networkGraph } from '../regression/network.js';
import { adam, adamw } from '../optim/adam.js';
import type { Optimizer } from '../optim/optimizer.js';
import { sgd } from '../optim/sgd.js';
import type { DeviceKind } from '../runtime/device.js';
import { requestBackend } from '../runtime/device.js';
import { compile } from '../runtime/model.js';
import { PLANS, type PlanOptions } from '../runtime/program.js';
import { UsageError, intOption, numberOption, oneOf } from './args.js';
import { layerList } from './network.js';

export const EXPLAIN_HELP = `fusegrad explain [options]

Builds the regression graph mean(squaredError(X Wᵀ + b, Y)) (with --hidden, a network, one
hidden layer act(X W1ᵀ + b1) W2ᵀ + b2 and more as fit --hidden builds them), lets autograd add the backward graph, compiles it into
kernels, and prints the forward graph, the backward graph, the kernel plan (which nodes went into
which pipeline, bindings, workgroups, bytes) and the WGSL of every pipeline, every generated line
naming the node it computes. With --replicates or a list of rates, many models train at once.

Options:
  --rows <n>          rows of X (default 5, the crop-yields lesson: the single-dispatch plan)
  --features <d>      columns of X (default 3)
  --targets <k>       columns of Y (default 2)
  --hidden <h,...>    hidden layers of these units, as fit takes them (default none: the linear model)
  --activation <f>    the hidden layers' function: tanh | relu | sigmoid | none (default tanh)
  --optimizer <name>  sgd | adam | adamw (default sgd)
  --lr <rate>         learning rate (default 1e-3); a list (0.1,0.01) is a sweep, one model per rate
  --replicates <B>    models trained together (default 1, or one per rate of --lr)
  --bootstrap <kind>  pairs | residuals: each replicate on its own resample (needs --replicates >= 2)
  --batch-size <n>    minibatch rows (default: all rows, full batch)
  --shuffle           a new order of the rows every epoch, drawn on the device
  --valid-rows <n>    rows of a validation set, its loss recorded every epoch (default 0)
  --plan <plan>       auto | fused | tiny | per-node on WebGPU; compiled | reference on the CPU (default auto)
  --device <device>   auto | webgpu | cpu (default auto)
`;

export async function explain(values: Record<string, string | boolean | undefined>): Promise<string> {
  const n = intOption(values, 'rows', 5, 1);
  const d = intOption(values, 'features', 3, 1);
  const k = intOption(values, 'targets', 2, 1);
  const rates = typeof values.lr === 'string' && values.lr.includes(',') ? values.lr.split(',').map((v) => numberOption({ lr: v.trim() }, 'lr', 0)) : [numberOption(values, 'lr', 1e-3)];
  const bad = rates.find((r) => !(r > 0));
  if (bad !== undefined) throw new UsageError(`--lr: expected a positive rate, got ${bad}`);
  const lr = rates[0]!;
  const B = intOption(values, 'replicates', rates.length, 1);
  if (rates.length > 1 && B !== rates.length) throw new UsageError(`--lr has ${rates.length} rates and --replicates is ${B}: a sweep trains one model per rate`);
  const bootstrap = values.bootstrap === undefined ? false : (oneOf(values, 'bootstrap', ['pairs', 'residuals'], 'pairs') as 'pairs' | 'residuals');
  if (bootstrap && B < 2) throw new UsageError(`--bootstrap: ${B} replicate; a bootstrap needs --replicates >= 2`);
  const optimizers: Record<string, () => Optimizer> = { sgd: () => sgd({ lr }), adam: () => adam({ lr }), adamw: () => adamw({ lr }) };
  const optimizer = optimizers[oneOf(values, 'optimizer', Object.keys(optimizers), 'sgd')]!();
  const batchSize = values['batch-size'] === undefined ? undefined : intOption(values, 'batch-size', n, 1);
  const validationRows = intOption(values, 'valid-rows', 0, 0);
  const shuffle = values.shuffle === true;
  const plan = oneOf(values, 'plan', [...PLANS], 'auto') as PlanOptions['plan'];
  const device = oneOf(values, 'device', ['auto', 'webgpu', 'cpu'], 'auto') as DeviceKind;
  if (n * d > 1 << 26) throw new UsageError(`--rows x --features is ${n * d}; explain allocates X, so keep it under ${1 << 26}`);

  const hidden = values.hidden === undefined ? [] : layerList(String(values.hidden)).map((u) => {
    const units = Number(u);
    if (!/^\d+$/.test(u) || units < 1) throw new UsageError(`--hidden: expected the units of each hidden layer, comma-separated (say 8, or 64,32), got "${values.hidden}"`);
    return units;
  });
  const activation = oneOf(values, 'activation', [...ACTIVATIONS, 'none'], 'tanh') as Activation | 'none';
  if (values.activation !== undefined && !hidden.length) throw new UsageError('--activation is for a hidden layer: give --hidden <units> too');
  const g = new Graph();
  const X = g.input('X', [n, d]);
  const Y = g.input('Y', [n, k]);
  const loss = g.mean(g.squaredError(networkGraph(g, X, k, hidden, activation), Y));
  const backend = await requestBackend({ device });
  try {
    const model = await compile(g, { loss, optimizer, backend, plan, replicates: B, bootstrap, sweep: rates.length > 1 ? { lr: rates } : undefined, batchSize, shuffle, validationRows });
    const many = B > 1 ? `, ${B} models (${bootstrap ? `a ${bootstrap === 'pairs' ? 'pairs' : 'residual'} bootstrap` : rates.length > 1 ? `lr ${rates.join(', ')}` : 'replicates'})` : '';
    const kind = activation === 'none' ? 'linear' : activation;
    const net = hidden.length === 1 ? `, a hidden layer of ${hidden[0]} ${kind} units` : hidden.length ? `, hidden layers of ${hidden.join(', ')} ${kind} units` : '';
    const batches = `${batchSize !== undefined && batchSize < n ? `, batches of ${batchSize}${shuffle ? ' shuffled' : ''}` : ''}${validationRows ? `, ${validationRows} validation rows` : ''}`;
    const text = `fusegrad explain: ${n} rows x ${d} features -> ${k} targets${net}${batches}, ${optimizer.name}${many}, on ${backend.kind} (${backend.description})\n\n${model.explain()}`;
    model.dispose();
    return text;
  } finally {
    backend.dispose();
  }
}
